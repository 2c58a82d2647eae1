"""Which steps a message set asks for (lambdas/sync/grouping.py) and what each answer weighs."""

from __future__ import annotations

import re

from lambdas.local.wiring import build_local
from lambdas.model.entities import SYNC_ORDER
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.store.ports import Tenant
from lambdas.sync.engine import SyncSettings
from lambdas.sync.grouping import message_set
from lambdas.sync.paging import PagePolicy, response_bytes
from lambdas.sync.plan import Plan, Step
from sim.fake_company import FakeCompany
from tests.conftest import PASSWORD

PAGING = PagePolicy()


def first_sync(**steps: dict) -> Plan:
    """A first sync's plan of every entity; ``steps`` set fields of some (by entity)."""
    return Plan([Step(e, **steps.get(e, {})) for e in SYNC_ORDER])


def asked(plan: Plan) -> dict[str, int]:
    return {s.entity: page for s, page in message_set(plan, PAGING)}


def last_page(remaining: int, page: int = 1000, bpr: float = 1_200.0) -> dict:
    return {
        "status": "running",
        "iterator_id": "it",
        "remaining": remaining,
        "page_size": page,
        "bytes_per_record": bpr,
    }


def done() -> dict:
    return {"status": "done"}


def test_the_first_page_of_a_session_goes_alone_with_the_deletions() -> None:
    # Nothing is known of any record's size: the first page may fill the byte target itself.
    assert asked(first_sync()) == {"Item": 200, "ListDeleted": 200, "TxnDeleted": 200}


def test_no_step_joins_while_the_current_one_has_pages_to_go() -> None:
    plan = first_sync(Item=last_page(1_800, bpr=800.0), ListDeleted=done(), TxnDeleted=done())
    assert asked(plan) == {"Item": 1000}


def test_lists_join_the_last_page_of_a_list_and_transactions_wait_for_customers() -> None:
    plan = first_sync(Item=last_page(800, bpr=800.0), ListDeleted=done(), TxnDeleted=done())
    pages = asked(plan)
    assert list(pages) == ["Item", "Customer", "Vendor"]
    # The room below the target, shared; a record of unknown size counts as 10 KB.
    room = PAGING.target_bytes - 800 * 800.0
    assert pages["Customer"] == pages["Vendor"] == int(room / 2 / 10_000)
    expected = 800 * 800.0 + (pages["Customer"] + pages["Vendor"]) * 10_000
    assert expected <= PAGING.target_bytes


def test_transactions_join_the_last_page_of_customers_and_payments_wait_for_invoices() -> None:
    plan = first_sync(Item=done(), Customer=last_page(800), ListDeleted=done(), TxnDeleted=done())
    pages = asked(plan)
    # Vendors are no transaction's parent; CreditMemo comes after payments but needs no invoice.
    joined = ["Vendor", "Estimate", "SalesOrder", "Invoice", "SalesReceipt", "CreditMemo"]
    assert list(pages) == ["Customer", *joined]
    assert sum(pages[e] for e in joined) * 10_000 <= PAGING.target_bytes - 800 * 1_200.0
    plan = first_sync(
        **{e: done() for e in SYNC_ORDER if e not in ("Invoice", "ReceivePayment")},
        Invoice=last_page(300, page=600, bpr=3_300.0),
    )
    assert list(asked(plan)) == ["Invoice", "ReceivePayment"]


def test_a_parent_still_being_read_holds_its_children_back() -> None:
    plan = first_sync(
        Item=last_page(500),
        Customer={"status": "running", "iterator_id": "c", "remaining": 5_000},
        ListDeleted=done(),
        TxnDeleted=done(),
    )
    assert list(asked(plan)) == ["Item", "Vendor"]


def test_a_full_last_page_leaves_no_room() -> None:
    plan = first_sync(Item=last_page(1000, bpr=2_000.0), ListDeleted=done(), TxnDeleted=done())
    assert asked(plan) == {"Item": 1000}


def test_business_hours_keep_each_exchange_to_one_small_page() -> None:
    plan = first_sync(Item=last_page(40), ListDeleted=done(), TxnDeleted=done())
    for step in plan.steps:
        step.page_cap = 50
    assert asked(plan) == {"Item": 1000}  # the cap applies in the query: MaxReturned 50


def test_each_answer_of_a_message_set_is_weighed_on_its_own() -> None:
    big = "<InvoiceRet>" + "x" * 5_000 + "</InvoiceRet>"
    small = '<CustomerRet><Notes>requestID="1-Invoice"</Notes></CustomerRet>'
    response = (
        '<?xml version="1.0"?><QBXML><QBXMLMsgsRs>'
        f'<CustomerQueryRs requestID="1-Customer" statusCode="0">{small * 3}</CustomerQueryRs>'
        f'<InvoiceQueryRs statusCode="0" requestID="1-Invoice">{big * 2}</InvoiceQueryRs>'
        "</QBXMLMsgsRs></QBXML>"
    )
    sizes = response_bytes(response)
    assert set(sizes) == {"1-Customer", "1-Invoice"}
    assert sizes["1-Customer"] < 300 < 10_000 < sizes["1-Invoice"]
    assert sum(sizes.values()) <= len(response)
    twice = response.replace("1-Customer", "1-Invoice")
    assert response_bytes(twice) == {}  # nothing tells the two apart


def test_a_first_sync_keeps_every_response_near_the_byte_target(tmp_path) -> None:
    # Invoices (5 lines) are about three times a customer's size: asked first beside the last
    # page of customers, their page must follow their own bytes, not the message set's average.
    target = 300_000
    paging = PagePolicy(initial=30, minimum=2, target_bytes=target)
    local = build_local(tmp_path / "d", RelaySettings(), SyncSettings(paging=paging))
    local.tenants.create(
        Tenant(
            name="acme",
            qbwc_user="acme-qbwc",
            password_hash=hash_password(PASSWORD),
            enabled_entities=SYNC_ORDER,
        )
    )
    company = FakeCompany(customers=700, items=40, invoices=400)
    ticket, _ = local.relay.authenticate("acme-qbwc", PASSWORD)
    sizes, exchanges, percent = [], 0, 0
    while 0 <= percent < 100 and exchanges < 100:
        hcp = company.hcp_response() if not exchanges else ""
        request = local.relay.send_request_xml(ticket, hcp, "", "US", 13, 0)
        response = company.process(request)
        sizes.append((len(response.encode()), re.findall(r"<(\w+)QueryRq", request)))
        percent = local.relay.receive_response_xml(ticket, response, "", "")
        exchanges += 1
    assert percent == 100
    assert all(size <= 1.1 * target for size, _ in sizes), sizes
    # The transactions' first pages rode along with the last page of customers.
    assert any({"Customer", "Invoice", "Estimate"} <= set(entities) for _, entities in sizes)
    # ...and nothing asked a transaction before the customers' last page.
    last_customers = max(i for i, (_, entities) in enumerate(sizes) if "Customer" in entities)
    first_invoices = min(i for i, (_, entities) in enumerate(sizes) if "Invoice" in entities)
    assert first_invoices == last_customers
    state = local.state.get_all("acme")
    assert 2.5 < state["Invoice"].bytes_per_record / state["Customer"].bytes_per_record < 3.5
    local.db.close()
