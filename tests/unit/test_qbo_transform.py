"""QuickBooks Online objects -> the canonical records of their Desktop twins, quirks included."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdas.model.content import content_hash
from lambdas.model.envelope import Envelope
from lambdas.model.identity import (
    SOURCE_QBD,
    SOURCE_QBO,
    deletion_target,
    is_older,
    source_id,
    target,
    version,
    version_order,
)
from lambdas.qbo.countries import NAMES, country_name
from lambdas.qbo.transform import TransformError, canonical, transform
from lambdas.qbo.values import canonical_id, qbo_id
from lambdas.store.keys import mapping_key
from lambdas.sync.handoff import links_of
from lambdas.zoho.mapping import build_config, payment_status
from lambdas.zoho.transform import build_write
from qbxml.records import (
    CreditMemo,
    Customer,
    Estimate,
    Invoice,
    Item,
    ReceivePayment,
    SalesReceipt,
)
from tests import qbo_samples as qs

TODAY = date(2026, 3, 15)
META = {"CreateTime": "2026-01-02T09:00:00-08:00", "LastUpdatedTime": "2026-01-03T10:30:00-08:00"}
# Desktop ListIDs / TxnIDs: hex digits, a hyphen, a number (e.g. "80000001-1193158678").
DESKTOP_ID = re.compile(r"^[0-9A-F]+-[0-9]+$")


def obj(fields: dict, oid: str = "7", token: str = "3") -> dict:
    return {"Id": oid, "SyncToken": token, "MetaData": META, **fields}


def test_a_customer_becomes_the_desktop_customer_record():
    record = canonical("Customer", obj(qs.customer(7)))
    assert transform("Customer", obj(qs.customer(7))).__class__ is Customer
    assert record["entity"] == "Customer" and record["list_id"] == "qbo:7"
    assert (record["name"], record["full_name"]) == ("Customer 7", "Customer 7")
    assert (record["first_name"], record["last_name"], record["email"]) == (
        "Ann",
        "Lee7",
        "ann.7@example.com",
    )
    assert (record["phone"], record["alt_phone"]) == ("555-0100", "555-0101")
    assert record["bill_address"]["country"] == "United States"
    assert (
        record["bill_address"]["state"] == "TX" and record["bill_address"]["addr1"] == "7 Main St"
    )
    assert record["time_modified"] == "2026-01-03T10:30:00-08:00"
    assert record["is_active"] is True and record["balance"] == "0"
    # The version is the SyncToken, which change detection ignores.
    assert version(record) == "3" and record["edit_sequence"] is None
    assert content_hash(record) == content_hash({**record, "sync_token": "4"})


def test_a_job_names_its_parent_and_the_unique_name_is_the_qualified_one():
    # DisplayName is unique across customers, vendors and employees, so QBO users suffix it;
    # FullyQualifiedName is the customer hierarchy, as Desktop's FullName.
    job = canonical(
        "Customer",
        obj(
            qs.customer(
                8,
                DisplayName="Kitchen (C)",
                FullyQualifiedName="Customer 7:Kitchen",
                Job=True,
                Level=1,
                ParentRef={"value": "7", "name": "Customer 7"},
            ),
            oid="8",
        ),
    )
    assert job["parent"] == {"list_id": "qbo:7", "full_name": "Customer 7"}
    assert (job["name"], job["full_name"], job["sublevel"]) == (
        "Kitchen (C)",
        "Customer 7:Kitchen",
        1,
    )


def test_an_inactive_customer_is_an_update_that_keeps_its_name():
    record = canonical(
        "Customer",
        obj(
            qs.customer(
                7, Active=False, DisplayName="Customer 7 (deleted)", FullyQualifiedName=None
            )
        ),
    )
    assert record["entity"] == "Customer" and record["is_active"] is False
    assert record["name"] == record["full_name"] == "Customer 7"
    body = build_write(build_config().spec("Customer"), record, TODAY).body
    assert body["QB_Active"] is False and body["Account_Name"] == "Customer 7"
    # Only an inactive record loses the suffix: an active one may really be called so.
    active = canonical("Customer", obj(qs.customer(7, DisplayName="Bob (deleted)")))
    assert active["name"] == "Bob (deleted)"


def test_iso3_countries_become_names_and_other_values_pass():
    assert len(NAMES) == 249
    assert country_name("GBR") == "United Kingdom" and country_name("can") == "Canada"
    assert country_name("United States") == "United States"
    assert country_name("ZZZ") == "ZZZ" and country_name(None) is None
    record = canonical("Customer", obj(qs.customer(1, ShipAddr={"Country": "DEU"})))
    assert record["ship_address"]["country"] == "Germany"


def test_items_flatten_like_desktop_items():
    one_way = canonical("Item", obj(qs.item(1)))
    assert transform("Item", obj(qs.item(1))).__class__ is Item
    assert (one_way["item_type"], one_way["desc"], one_way["price"]) == (
        "Service",
        "Service number 1",
        "1.5",
    )
    assert one_way["account"]["list_id"] == "qbo:79" and one_way["sales_price"] is None
    two_way = canonical(
        "Item",
        obj(qs.item(2, PurchaseDesc="bought", PurchaseCost=1, ExpenseAccountRef={"value": "80"})),
    )
    assert (two_way["sales_desc"], two_way["sales_price"], two_way["purchase_cost"]) == (
        "Service number 2",
        "2.5",
        "1",
    )
    assert two_way["expense_account"]["list_id"] == "qbo:80" and two_way["desc"] is None
    stock = canonical(
        "Item",
        obj(qs.item(3, Type="Inventory", QtyOnHand=12, ExpenseAccountRef={"value": "81"})),
    )
    assert (stock["item_type"], stock["quantity_on_hand"], stock["cogs_account"]["list_id"]) == (
        "Inventory",
        "12",
        "qbo:81",
    )
    group = canonical("Item", obj(qs.item(4, Type="Group")))
    assert group["item_desc"] == "Service number 4" and group["price"] is None
    for record, price in ((one_way, 1.5), (two_way, 2.5), (stock, 3.5)):
        body = build_write(build_config().spec("Item"), record, TODAY).body
        assert body["Unit_Price"] == price and body["QB_ListID"] == record["list_id"]


def test_an_invoice_has_lines_groups_discounts_and_the_desktop_payment_status():
    raw = qs.invoice("7", ["1", "2"])
    raw["Line"][2:2] = [
        {"Id": "3", "Description": "thanks", "DetailType": "DescriptionOnly"},
        {
            "Id": "4",
            "Amount": 2,
            "DetailType": "DiscountLineDetail",
            "DiscountLineDetail": {"PercentBased": True, "DiscountPercent": 10},
        },
        {
            "Id": "5",
            "Amount": 20,
            "DetailType": "GroupLineDetail",
            "GroupLineDetail": {
                "GroupItemRef": {"value": "9", "name": "Bundle"},
                "Quantity": 1,
                "Line": [qs.sales_line("6", "1", 2, 10.0)],
            },
        },
    ]
    record = canonical("Invoice", obj(raw, oid="130"))
    assert transform("Invoice", obj(raw, oid="130")).__class__ is Invoice
    assert record["txn_id"] == "qbo:130" and record["ref_number"] == "1037"
    assert record["customer"] == {"list_id": "qbo:7", "full_name": "Customer 7"}
    assert [(li["item"] or {}).get("list_id") for li in record["lines"]] == [
        "qbo:1",
        "qbo:2",
        None,
        None,
        "qbo:1",
    ]
    assert record["lines"][3]["amount"] == "-2" and record["lines"][3]["rate_percent"] == "10"
    assert record["lines"][4]["group_line_id"] == "5"
    assert record["line_groups"][0]["item_group"]["list_id"] == "qbo:9"
    assert record["subtotal"] == "20.0" and record["memo"] == "internal note"
    assert record["balance_remaining"] == "20.0" and record["is_paid"] is False
    assert record["bill_address"]["country"] == "Canada"
    assert payment_status(record, TODAY) == "Pending"
    assert payment_status({**record, "due_date": "2026-03-01"}, TODAY) == "Overdue"
    paid = canonical("Invoice", obj({**raw, "Balance": 0}, oid="130"))
    assert paid["is_paid"] is True and payment_status(paid, TODAY) == "Paid"
    write = build_write(build_config().spec("Invoice"), record, TODAY)
    assert write.body["Status"] == "Pending" and write.body["QB_TxnID"] == "qbo:130"
    assert write.body["Billing_Country"] == "Canada"
    # Lines without an item (description, discount) have no product in ZOHO.
    assert [p.source_id for p in write.parents if p.entity == "Item"] == ["qbo:1", "qbo:2", "qbo:1"]
    assert [p.source_id for p in write.parents if p.entity == "Customer"] == ["qbo:7"]


def test_estimates_receipts_and_credit_memos():
    est = canonical(
        "Estimate",
        obj({**qs.invoice("7", ["1"]), "TxnStatus": "Closed", "ExpirationDate": "2026-04-01"}),
    )
    assert transform("Estimate", obj(qs.invoice("7", ["1"]))).__class__ is Estimate
    assert (est["is_active"], est["due_date"], est["total_amount"]) == (False, "2026-04-01", "10.0")
    assert (
        canonical("Estimate", obj({**qs.invoice("7", ["1"]), "TxnStatus": "Accepted"}))["is_active"]
        is True
    )
    receipt_raw = {
        **qs.invoice("7", ["1"]),
        "PaymentRefNum": "1001",
        "PaymentMethodRef": {"value": "2"},
    }
    receipt = canonical("SalesReceipt", obj(receipt_raw))
    assert transform("SalesReceipt", obj(receipt_raw)).__class__ is SalesReceipt
    assert (receipt["check_number"], receipt["payment_method"]["list_id"]) == ("1001", "qbo:2")
    memo = canonical("CreditMemo", obj({**qs.invoice("7", ["1"]), "RemainingCredit": 4}))
    assert transform("CreditMemo", obj(qs.invoice("7", ["1"]))).__class__ is CreditMemo
    assert (memo["credit_remaining"], memo["total_amount"]) == ("4", "10.0")


def test_a_payment_is_a_receive_payment_linked_to_its_invoices():
    raw = qs.payment("7", "130", 20.0)
    raw["Line"].append({"Amount": 5, "LinkedTxn": [{"TxnId": "140", "TxnType": "CreditMemo"}]})
    record = canonical("Payment", obj(raw, oid="150"))
    assert transform("Payment", obj(raw)).__class__ is ReceivePayment
    assert record["entity"] == "ReceivePayment" and record["txn_id"] == "qbo:150"
    assert [(a["txn_id"], a["txn_type"]) for a in record["applied_to_txns"]] == [
        ("qbo:130", "Invoice"),
        ("qbo:140", "CreditMemo"),
    ]
    # The hand-off reads the paid invoices again from their links.
    assert links_of(record) == ("qbo:130",)
    assert (record["ref_number"], record["total_amount"]) == ("CHK-77", "20.0")


def test_deleted_objects_become_deletion_records_in_the_qbo_id_space():
    gone = {
        "Id": "130",
        "status": "Deleted",
        "MetaData": {"LastUpdatedTime": META["LastUpdatedTime"]},
    }
    txn = canonical("Invoice", gone)
    assert txn["entity"] == "TxnDeleted" and deletion_target(txn) == ("Invoice", "qbo:130")
    assert target(canonical("Payment", {**gone, "Id": "150"})) == ("ReceivePayment", "qbo:150")
    lst = canonical("Customer", {**gone, "Id": "7"})
    assert lst["entity"] == "ListDeleted" and deletion_target(lst) == ("Customer", "qbo:7")
    assert target(canonical("Item", {**gone, "Id": "3"})) == ("Item", "qbo:3")
    assert version(lst) == "2026-01-03T10:30:00-08:00"


def test_objects_that_cannot_be_synced_are_refused():
    with pytest.raises(TransformError):
        canonical("Customer", {"DisplayName": "no id"})
    with pytest.raises(TransformError):
        canonical("Vendor", obj({}))
    with pytest.raises(ValueError):
        qbo_id("80000001-1")


def test_qbo_and_desktop_ids_of_one_tenant_never_collide():
    desktop = {"entity": "Customer", "list_id": "80000001-1", "edit_sequence": "1"}
    online = canonical("Customer", obj(qs.customer(1), oid="1"))
    assert source_id(online) != source_id(desktop)
    keys = {
        mapping_key("acme", SOURCE_QBD, "Customer", source_id(desktop)),
        mapping_key("acme", SOURCE_QBO, "Customer", source_id(online)),
    }
    assert len(keys) == 2
    qbd = Envelope.of("acme", SOURCE_QBD, desktop)
    qbo = Envelope.of("acme", SOURCE_QBO, online)
    assert qbd.dedup_id != qbo.dedup_id and qbd.claim_key != qbo.claim_key


@given(st.text(min_size=1, max_size=20).filter(lambda s: s.strip() == s and s))
def test_canonical_ids_round_trip_and_never_look_like_desktop_ids(raw):
    cid = canonical_id(raw)
    assert qbo_id(cid) == raw
    assert not DESKTOP_ID.match(cid) and ":" in cid


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=1000))
def test_sync_tokens_order_versions(token, step):
    older = canonical("Customer", obj(qs.customer(1), token=str(token)))
    newer = canonical("Customer", obj(qs.customer(1), token=str(token + step)))
    assert version_order(version(older)) < version_order(version(newer))
    assert is_older(version(older), version(newer)) or token == 0
    assert not is_older(version(newer), version(older))


_money = st.one_of(st.none(), st.integers(-(10**6), 10**6), st.decimals(-(10**6), 10**6, places=2))


@given(
    balance=_money,
    total=_money,
    due=st.one_of(st.none(), st.dates().map(date.isoformat)),
    country=st.one_of(st.none(), st.sampled_from(sorted(NAMES)), st.text(max_size=12)),
)
def test_any_invoice_transforms_and_gets_one_payment_status(balance, total, due, country):
    raw = {
        **qs.invoice("7", ["1"]),
        "Balance": None if balance is None else str(balance),
        "TotalAmt": total if not isinstance(total, Decimal) else str(total),
        "DueDate": due,
        "BillAddr": {"Country": country},
    }
    record = canonical("Invoice", obj({k: v for k, v in raw.items() if v is not None}))
    status = payment_status(record, TODAY)
    assert status in ("Paid", "Overdue", "Pending")
    if balance is not None and Decimal(str(balance)) <= 0:
        assert status == "Paid"
    build_write(build_config().spec("Invoice"), record, TODAY)


def test_times_of_every_shape_intuit_sends_are_read_with_a_zone():
    from lambdas.qbo.values import moment

    assert (
        moment("2025-09-10T21:31:25.179851517Z").isoformat() == "2025-09-10T21:31:25.179851+00:00"
    )
    assert moment("2015-10-05T14:42:19-0700").utcoffset().total_seconds() == -7 * 3600
    assert moment("2026-01-02T09:00:00").tzinfo is not None  # zone-less: UTC
    assert moment("yesterday") is None and moment(None) is None
