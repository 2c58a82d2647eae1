"""The simulated company's InvoiceAdd and qbXML error recovery (newMessageSetID /
oldMessageSetID), driven by the relay's own request builders and checked against the XSD."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from qbxml import (
    CustomerAdd,
    CustomerData,
    InvoiceAdd,
    InvoiceData,
    InvoiceLineData,
    InvoiceQuery,
    QbxmlVersion,
    Ref,
    build_message_set,
    parse_response,
)
from sim.company_message_sets import UNKNOWN_MESSAGE_SET
from sim.fake_company import FakeCompany
from tests.sim_requests import assert_valid, load_schema

V13 = QbxmlVersion(13, 0)


@pytest.fixture
def company() -> FakeCompany:
    return FakeCompany(customers=5, items=6, seed=3)


def _sellable(company: FakeCompany) -> list:
    return [i for i in company.data.items.values() if i.sellable]


def _invoice(company: FakeCompany, customer: Ref, item: Ref, request_id: str = "inv") -> str:
    data = InvoiceData(
        customer=customer,
        txn_date=date(2024, 3, 1),
        memo="Big deal [wb-d-1]",
        lines=(
            InvoiceLineData(item=item, desc="Two days", quantity=Decimal(2), rate=Decimal("150")),
            InvoiceLineData(item=item, amount=Decimal("25.50")),
        ),
    )
    return build_message_set([InvoiceAdd(request_id, data)], V13)


def test_invoice_add_creates_an_invoice_that_invoice_query_returns(company) -> None:
    schema = load_schema()
    customer = next(iter(company.data.customers.values()))
    item = _sellable(company)[0]
    request = _invoice(company, Ref(list_id=customer.list_id), Ref(full_name=item.name))
    assert_valid(schema, request)
    answer = company.process(request)
    assert_valid(schema, answer)
    (rs,) = parse_response(answer).responses
    assert rs.status_code == 0
    (invoice,) = rs.records
    assert invoice.customer.list_id == customer.list_id
    assert invoice.memo == "Big deal [wb-d-1]" and invoice.ref_number
    assert invoice.edit_sequence and invoice.time_modified
    assert [line.amount for line in invoice.lines] == [Decimal("300.00"), Decimal("25.50")]
    # Numbered after the last invoice; a second one gets the next number.
    second = parse_response(company.process(request)).responses[0].records[0]
    assert int(second.ref_number) == int(invoice.ref_number) + 1
    query = build_message_set(
        [InvoiceQuery("q", entity_list_ids=(customer.list_id,), include_line_items=True)], V13
    )
    found = parse_response(company.process(query)).responses[0].records
    assert {invoice.txn_id, second.txn_id} <= {r.txn_id for r in found}


def test_invoice_add_refuses_unknown_customers_and_items(company) -> None:
    customer = next(iter(company.data.customers.values()))
    item = _sellable(company)[0]
    for cust, it, wanted in (
        (Ref(full_name="Nobody Inc"), Ref(full_name=item.name), "Customer"),
        (Ref(list_id=customer.list_id), Ref(full_name="No Such Item"), "Item"),
        (Ref(list_id="80000999-0000000000"), Ref(list_id=item.list_id), "Customer"),
    ):
        before = len(company.data.txns["Invoice"])
        (rs,) = parse_response(company.process(_invoice(company, cust, it))).responses
        assert rs.status_code == 3140 and wanted in rs.status_message
        assert len(company.data.txns["Invoice"]) == before


def _customer_set(name: str, message_set_id: str) -> str:
    add = CustomerAdd(name, CustomerData(name=name))
    return build_message_set([add], V13, new_message_set_id=message_set_id)


def test_error_recovery_returns_the_saved_responses_then_clears_them(company) -> None:
    schema = load_schema()
    first = company.process(_customer_set("Recovered Ltd", "ms-1"))
    parsed = parse_response(first)
    assert parsed.new_message_set_id == "ms-1" and parsed.message_set_status_code == 0
    ask = build_message_set([], V13, new_message_set_id="ms-1", old_message_set_id="ms-1")
    assert_valid(schema, ask)
    recovered = company.process(ask)
    assert_valid(schema, recovered)
    again = parse_response(recovered)
    assert again.message_set_status_code == 0 and again.new_message_set_id == "ms-1"
    assert [r.request_type for r in again.responses] == ["CustomerAdd"]
    assert again.responses[0].records[0].list_id == parsed.responses[0].records[0].list_id
    # Asking again applied nothing twice.
    names = [c.name for c in company.data.customers.values()]
    assert names.count("Recovered Ltd") == 1
    clear = build_message_set([], V13, old_message_set_id="ms-1")
    assert parse_response(company.process(clear)).responses == []
    gone = parse_response(company.process(ask))
    assert gone.message_set_status_code == UNKNOWN_MESSAGE_SET and gone.responses == []


def test_a_company_that_keeps_no_status_answers_every_recovery_with_none() -> None:
    company = FakeCompany(customers=2, keeps_message_sets=False)
    company.process(_customer_set("Forgotten Ltd", "ms-9"))
    ask = build_message_set([], V13, new_message_set_id="ms-9", old_message_set_id="ms-9")
    answer = parse_response(company.process(ask))
    assert answer.message_set_status_code not in (None, 0) and answer.responses == []
