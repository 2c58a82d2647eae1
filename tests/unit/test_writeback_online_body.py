"""Write-back fields <-> QuickBooks Online JSON, and the Online writer's requestids."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from lambdas.writeback.model import CUSTOMER_FIELDS, op_id
from lambdas.writeback.online_body import (
    InvoiceProblem,
    customer_body,
    invoice_body,
    invoice_lines,
    projected,
)
from lambdas.writeback.online_steps import REQUEST_NAMESPACE, api_id, request_id

FIELDS = {
    "name": "Acme",
    "email": "a@acme.example",
    "alt_phone": "555-0101",
    "account_number": "A-7",
    "bill_address.street": "1 Main St, Floor 2, Room 3",
    "bill_address.city": "Austin",
    "bill_address.country": "USA",
}


def test_a_create_carries_the_filled_fields_and_splits_the_street() -> None:
    body = customer_body(FIELDS)
    assert body == {
        "DisplayName": "Acme",
        "PrimaryEmailAddr": {"Address": "a@acme.example"},
        "Mobile": {"FreeFormNumber": "555-0101"},
        "BillAddr": {"Line1": "1 Main St", "Line2": "Floor 2", "Line3": "Room 3"}
        | {"City": "Austin", "Country": "USA"},
    }  # QuickBooks Online customers have no account number


def test_an_update_sends_the_named_fields_and_a_whole_address_block() -> None:
    values = {**FIELDS, "bill_address.postal_code": "78701"}
    body = customer_body(values, ["email", "bill_address.city"])
    assert set(body) == {"PrimaryEmailAddr", "BillAddr"}
    assert body["BillAddr"]["PostalCode"] == "78701" and body["BillAddr"]["Line1"] == "1 Main St"
    assert customer_body({"email": ""}, ["email"]) == {"PrimaryEmailAddr": {"Address": ""}}


def test_more_street_parts_than_lines_keep_the_rest_in_the_last() -> None:
    street = "a, b, c, d, e, f, g"
    block = customer_body({"name": "x", "bill_address.street": street})["BillAddr"]
    assert (
        block["Line5"] == "e, f, g" and ", ".join(block[f"Line{n}"] for n in range(1, 6)) == street
    )


def test_projected_reads_back_what_was_written() -> None:
    obj = {"Id": "7", "SyncToken": "0", **customer_body(FIELDS)}
    got = projected(obj)
    assert set(got) == set(CUSTOMER_FIELDS)
    want = {**FIELDS, "bill_address.country": "United States", "account_number": ""}
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}


def test_invoice_lines_from_products_or_the_amount_with_the_invoice_item() -> None:
    lines = [{"item": "Gadget", "description": "d", "quantity": "2", "rate": "1.25"}]
    assert invoice_lines({"lines": lines}, "") == [("Gadget", "d", Decimal(2), Decimal("1.25"))]
    assert invoice_lines({"amount": "99.5", "memo": "Deal"}, "Services") == [
        ("Services", "Deal", Decimal(1), Decimal("99.5"))
    ]
    with pytest.raises(InvoiceProblem, match="--invoice-item"):
        invoice_lines({"amount": "5"}, "")
    with pytest.raises(InvoiceProblem, match="not a number"):
        invoice_lines({"amount": "lots"}, "Services")
    with pytest.raises(InvoiceProblem, match="names no QuickBooks item"):
        invoice_lines({"lines": [{"quantity": "1"}]}, "Services")


def test_invoice_body_refers_to_items_by_id() -> None:
    lines = [("Gadget", "", Decimal(3), Decimal("2.50"))]
    body = invoice_body({"txn_date": "2026-03-01"}, "58", lines, {"Gadget": "4"}, "note [x]")
    assert body["CustomerRef"] == {"value": "58"} and body["TxnDate"] == "2026-03-01"
    [line] = body["Line"]
    assert line["Amount"] == 7.5 and line["SalesItemLineDetail"]["ItemRef"]["value"] == "4"
    assert body["PrivateNote"] == "note [x]"


def test_request_ids_are_uuid5_of_realm_and_operation_and_differ_per_attempt() -> None:
    oid = op_id("Accounts", "z1", "2026-03-01T12:00:00+00:00")
    first = request_id("123", oid)
    assert first == str(uuid.uuid5(REQUEST_NAMESPACE, f"123:{oid}")) and len(first) == 36
    assert request_id("123", oid) == first
    assert len({first, request_id("456", oid), request_id("123", oid, 2)}) == 3
    assert request_id("123", oid, 1, "stale") != first
    assert api_id("qbo:58") == "58" and api_id("58") == "58"
