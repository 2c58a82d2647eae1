"""Desktop write-back requests: flat fields to qbXML, checked against Intuit's 13.0 XSD."""

from __future__ import annotations

import pytest

from lambdas.writeback.desktop_requests import (
    WriteRefused,
    changed_fields,
    customer_add,
    customer_mod,
    customer_values,
    invoice_add,
    invoice_marker,
    split_street,
)
from lambdas.writeback.model import ACCOUNTS, ADD, CUSTOMER, DEALS, INVOICE, WriteOp, op_id
from qbxml import (
    Address,
    Customer,
    QbxmlError,
    QbxmlVersion,
    build_message_set,
)
from tests.unit.qbxml_support import schema_or_skip, validate

V13 = QbxmlVersion(13, 0)


def _op(kind: str = CUSTOMER, **fields) -> WriteOp:
    module = ACCOUNTS if kind == CUSTOMER else DEALS
    return WriteOp(
        tenant="acme",
        op_id=op_id(module, "1", "v1"),
        seq=1,
        kind=kind,
        action=ADD,
        edition="qbd",
        zoho_module=module,
        zoho_id="1",
        zoho_version="v1",
        fields=fields,
    )


def test_a_street_goes_back_into_the_address_lines_it_came_from() -> None:
    assert split_street("Suite 4, 12 Harbour Road") == ("Suite 4", "12 Harbour Road")
    assert split_street("") == ()
    long = "Building " + "x" * 50
    lines = split_street(f"A, B, C, D, {long}")
    assert len(lines) <= 4 and all(len(line) <= 41 for line in lines)
    with pytest.raises(QbxmlError, match="does not fit"):
        split_street(", ".join(["y" * 40] * 5))


def test_customer_add_and_mod_validate_and_a_mod_clears_what_zoho_emptied() -> None:
    schema = schema_or_skip()
    op = _op(
        name="Northwind",
        phone="555",
        email="",
        **{"bill_address.street": "1 Main St, Floor 2", "bill_address.country": "NO"},
    )
    add = customer_add(op)
    assert add.data.email is None and add.data.bill_address.addr2 == "Floor 2"
    mod = customer_mod("m1", "80000001-1", "123", {"phone": "", "bill_address.city": "Oslo"})
    assert mod.data.phone == "" and mod.data.bill_address.city == "Oslo"
    assert mod.data.name is None and mod.data.ship_address is None
    validate(schema, build_message_set([add, mod], V13, "continueOnError"))


def test_too_long_or_nameless_customers_are_refused_before_sending() -> None:
    with pytest.raises(WriteRefused):
        customer_add(_op(name=" "))
    with pytest.raises(QbxmlError):
        build_message_set([customer_add(_op(name="n" * 42))], V13)


def test_changed_fields_and_customer_values_compare_flat() -> None:
    op = _op(name="A", phone="2").with_(base={"name": "A", "phone": "1"})
    assert changed_fields(op) == {"phone": "2"}
    customer = Customer(
        list_id="80000001-1",
        name="A",
        phone="1",
        bill_address=Address(addr1="x", addr2="y", city="Oslo"),
    )
    values = customer_values(customer)
    assert values["bill_address.street"] == "x, y" and values["bill_address.city"] == "Oslo"
    assert values["email"] == ""


def test_invoice_lines_or_one_line_of_the_amount() -> None:
    schema = schema_or_skip()
    op = _op(
        INVOICE,
        txn_date="2024-05-02",
        memo="Big deal",
        lines=[{"item": "Consulting", "description": "Days", "quantity": "2", "rate": "10.5"}],
    )
    request = invoice_add(op, "80000001-1", "", "acme")
    assert request.data.memo == f"Big deal {invoice_marker(op)}"
    one = invoice_add(_op(INVOICE, amount="99.50"), "80000001-1", "Services", "acme")
    assert one.data.lines[0].amount == 99.5 and one.data.lines[0].item.full_name == "Services"
    validate(schema, build_message_set([request], V13))
    with pytest.raises(WriteRefused, match="--invoice-item"):
        invoice_add(_op(INVOICE, amount="1.00"), "80000001-1", "", "acme")
    with pytest.raises(WriteRefused, match="two decimals"):
        invoice_add(_op(INVOICE, amount="1.001"), "80000001-1", "Services", "acme")
    with pytest.raises(WriteRefused, match="not a date"):
        invoice_add(_op(INVOICE, amount="1", txn_date="soon"), "80000001-1", "S", "acme")
