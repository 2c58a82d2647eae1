"""ZOHO records as write-back fields, and the checks made before QuickBooks sees them."""

from __future__ import annotations

from datetime import date

import pytest

from lambdas.writeback.model import CUSTOMER_FIELDS
from lambdas.writeback.projection import (
    customer_fields,
    invoice_fields,
    primary_contact,
    split_street,
    validate_customer,
    validate_invoice,
)
from qbxml.requests.writes import ADDRESS_FIELDS, CUSTOMER_ADD_FIELDS
from qbxml.versions import QbxmlVersion

ACCOUNT = {
    "id": "10",
    "Account_Name": "Acme Tools",
    "Phone": " 555-0100 ",
    "Billing_Street": "1 Main St, Suite 4",
    "Billing_City": "Austin",
    "Parent_Account": {"id": "3"},
}
CONTACT = {"id": "20", "First_Name": "Ann", "Last_Name": "Lee", "Email": "ann@example.com"}


def limit(attr: str) -> int:
    spec = next(s for s in (*CUSTOMER_ADD_FIELDS, *ADDRESS_FIELDS) if s.attr == attr)
    assert spec.max_length is not None
    return spec.max_length


def test_an_account_and_its_contact_become_customer_fields() -> None:
    fields = customer_fields(ACCOUNT, CONTACT)
    assert fields["name"] == "Acme Tools" and fields["phone"] == "555-0100"
    assert fields["bill_address.street"] == "1 Main St, Suite 4"
    assert fields["first_name"] == "Ann" and fields["email"] == "ann@example.com"
    assert fields["ship_address.city"] == "" and fields["alt_phone"] == ""
    assert set(fields) <= set(CUSTOMER_FIELDS)
    # The kept values the forwarder wrote project the same way (they are ZOHO field names).
    kept = {k: v for k, v in ACCOUNT.items() if isinstance(v, str)}
    assert customer_fields(kept, CONTACT) == fields
    assert customer_fields(ACCOUNT, None)["last_name"] == ""


def test_the_primary_contact_is_the_one_quickbooks_knows_else_the_first() -> None:
    a = {"id": "7", "Created_Time": "2026-01-02T00:00:00+00:00"}
    b = {"id": "5", "Created_Time": "2026-01-01T00:00:00+00:00"}
    c = {"id": "9", "Created_Time": "2026-01-03T00:00:00+00:00", "QB_ListID": "80-1"}
    assert primary_contact([a, b]) == b
    assert primary_contact([a, b, c]) == c
    assert primary_contact([]) is None


def test_a_won_deal_becomes_invoice_fields() -> None:
    deal = {"Deal_Name": "Big one", "Amount": 1234.5, "Closing_Date": "2026-03-31"}
    products = [
        {"Product_Name": "Widget", "Unit_Price": 10, "Description": "blue"},
        {"Product_Name": "Bolt", "Unit_Price": None},
    ]
    fields = invoice_fields(deal, products, date(2026, 4, 2))
    assert fields == {
        "txn_date": "2026-03-31",
        "memo": "Big one",
        "amount": "1234.50",
        "lines": [
            {"item": "Widget", "description": "blue", "quantity": "1", "rate": "10.00"},
            {"item": "Bolt", "description": "", "quantity": "1", "rate": "0.00"},
        ],
    }
    bare = invoice_fields({"Deal_Name": "D"}, [], date(2026, 4, 2))
    assert bare == {"txn_date": "2026-04-02", "memo": "D", "amount": "", "lines": []}


def test_lengths_come_from_the_qbxml_tables() -> None:
    name = limit("name")
    ok = customer_fields({**ACCOUNT, "Account_Name": "x" * name}, CONTACT)
    assert validate_customer(ok) is None
    long = {**ok, "name": "x" * (name + 16)}
    assert validate_customer(long) == (
        f"Account name is {name + 16} characters; QuickBooks allows {name}"
    )
    assert validate_customer(long, edition="qbo") is None  # DisplayName holds 100
    assert "allows 100" in (validate_customer({**ok, "name": "x" * 101}, edition="qbo") or "")
    for field, attr, label in [
        ("last_name", "last_name", "Contact last name"),
        ("phone", "phone", "Phone"),
        ("bill_address.city", "city", "Billing city"),
        ("ship_address.postal_code", "postal_code", "Shipping postal code"),
    ]:
        n = limit(attr) + 1
        assert validate_customer({**ok, field: "9" * n}) == (
            f"{label} is {n} characters; QuickBooks allows {limit(attr)}"
        )


def test_names_and_characters() -> None:
    ok = customer_fields(ACCOUNT, CONTACT)
    assert "empty" in (validate_customer({**ok, "name": "  "}) or "")
    assert "':'" in (validate_customer({**ok, "name": "Acme:East"}) or "")
    # Latin-1 and what decomposes into it are stored; the rest is not, on Desktop only.
    assert validate_customer({**ok, "name": "Café Žižek"}) is None
    assert "Ł" in (validate_customer({**ok, "name": "Łódź"}) or "")  # no decomposition
    assert validate_customer({**ok, "name": "東京 Tools"}) == (
        "Account name has characters QuickBooks Desktop cannot store: 京 東"
    )
    assert validate_customer({**ok, "name": "東京 Tools"}, edition="qbo") is None


def test_streets_fit_the_address_lines_of_the_version() -> None:
    width = limit("addr1")
    assert split_street("1 Main St, Suite 4, Building B", 4, width) == [
        "1 Main St, Suite 4, Building B"
    ]
    parts = ["x" * 30, "y" * 30, "z" * 50]
    assert split_street(", ".join(parts), 4, width) == ["x" * 30, "y" * 30, "z" * 41, "z" * 9]
    assert split_street(", ".join(parts), 3, width) is None
    ok = customer_fields(ACCOUNT, CONTACT)
    five = ", ".join(f"{n}" * 40 for n in range(5))
    message = validate_customer({**ok, "bill_address.street": five})
    assert message == f"Billing street is {len(five)} characters; QuickBooks allows 4 lines of 41"
    assert validate_customer({**ok, "bill_address.street": five}, QbxmlVersion(13, 0)) is None


@pytest.mark.parametrize(
    ("fields", "item", "wanted"),
    [
        ({"txn_date": "2026-02-30", "lines": []}, "Services", "is not a date"),
        ({"txn_date": "2026-02-01", "amount": "5.00", "lines": []}, "", "--invoice-item NAME"),
        ({"txn_date": "2026-02-01", "amount": "", "lines": []}, "Services", "no amount"),
        ({"txn_date": "2026-02-01", "lines": [{"item": " "}]}, "", "product 1 of the deal"),
        ({"txn_date": "2026-02-01", "memo": "Deal ☃", "lines": [{"item": "A"}]}, "", "☃"),
    ],
)
def test_invoices_that_cannot_be_sent(fields, item, wanted) -> None:
    assert wanted in (validate_invoice(fields, invoice_item=item) or "")


def test_a_sendable_invoice() -> None:
    fields = {"txn_date": "2026-02-01", "memo": "Deal ☃", "amount": "5.00", "lines": []}
    assert validate_invoice(fields, edition="qbo", invoice_item="Services") is None


def test_a_modification_checks_only_what_it_changes() -> None:
    job = {"name": "Harbor Supply:Kitchen remodel " + "x" * 30, "phone": "555-0100"}
    assert "':'" in (validate_customer(job) or "")
    # The job's full name is QuickBooks' own: unchanged, it is not written and not checked.
    assert validate_customer({**job, "phone": "555-0199"}, base=job) is None
    renamed = {**job, "name": "Harbor Supply:Patio"}
    assert "':'" in (validate_customer(renamed, base=job) or "")
    assert "allows" in (validate_customer({**job, "phone": "5" * 50}, base=job) or "")
