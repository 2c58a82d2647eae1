"""The QuickBooks -> ZOHO mapping: defaults, overrides validated at load, values, versions."""

from __future__ import annotations

import dataclasses
import json
from datetime import date

import pytest

from lambdas.model.entities import ENTITIES, PAYMENT, Kind
from lambdas.zoho.catalogue import LINE_FIELDS, LINE_NESTED, NESTED, SOURCE_FIELDS
from lambdas.zoho.datacentres import accounts_server, check_url
from lambdas.zoho.mapping import (
    MappingError,
    build_config,
    load_mapping_file,
    payment_status,
    read_source,
)
from lambdas.zoho.transform import build_write
from qbxml.records import Address, Customer, Ref, TxnLine, to_dict

TODAY = date(2026, 3, 15)


def customer(**kw):
    return {
        "entity": "Customer",
        "list_id": "80000001-1",
        "edit_sequence": "100",
        "name": "Acme",
        "full_name": "Acme",
        "is_active": True,
        "sublevel": 0,
        "first_name": "Ann",
        "last_name": "Lee",
        "bill_address": {"addr1": "1 Main St", "addr2": "Suite 2", "city": "Austin"},
        **kw,
    }


def invoice(**kw):
    return {
        "entity": "Invoice",
        "txn_id": "T-1",
        "edit_sequence": "7",
        "customer": {"list_id": "80000001-1", "full_name": "Acme"},
        "ref_number": "1001",
        "txn_date": "2026-03-01",
        "due_date": "2026-03-31",
        "balance_remaining": "25.00",
        "lines": [
            {"txn_line_id": "1", "item": {"list_id": "I-1"}, "quantity": "2", "rate": "12.50"},
            {"txn_line_id": "2", "desc": "Thank you"},  # a text line: no product
            {"txn_line_id": "3", "item": {"list_id": "I-2"}, "amount": "40.00"},
        ],
        **kw,
    }


def test_default_mapping_is_valid_and_covers_the_issue():
    config = build_config()
    assert {e: s.module for e, s in config.entities.items()} == {
        "Customer": "Accounts",
        "Item": "Products",
        "Estimate": "Quotes",
        "SalesOrder": "Sales_Orders",
        "Invoice": "Invoices",
    }
    assert config.spec("Customer").contact.module == "Contacts"
    assert config.payment.module == "Invoices"
    assert config.triggers == () and config.deletion_policy == "mark_inactive"


@pytest.mark.parametrize(
    ("balance", "due", "paid", "expected"),
    [
        ("0.00", "2026-01-01", False, "Paid"),
        ("10.00", "2026-03-14", False, "Overdue"),
        ("10.00", "2026-03-15", False, "Pending"),  # due today is not overdue yet
        ("10.00", None, False, "Pending"),
        (None, "2026-01-01", True, "Paid"),
        (None, "2026-01-01", False, "Overdue"),
    ],
)
def test_payment_status_rule(balance, due, paid, expected):
    record = {"balance_remaining": balance, "due_date": due, "is_paid": paid}
    assert payment_status(record, TODAY) == expected


def test_sources_paths_templates_joins_and_types():
    rec = invoice()
    assert read_source(rec, "customer.full_name", TODAY) == "Acme"
    assert read_source(rec, {"template": "Invoice {ref_number}"}, TODAY) == "Invoice 1001"
    assert read_source(rec, {"template": "X {po_number}"}, TODAY) is None
    assert read_source(rec, [{"template": "X {po_number}"}, "ref_number"], TODAY) == "1001"
    assert read_source(rec, {"path": "balance_remaining", "type": "number"}, TODAY) == 25.0
    assert read_source(rec, {"path": "txn_date", "type": "date"}, TODAY) == "2026-03-01"
    assert read_source(rec, {"compute": "payment_status"}, TODAY) == "Pending"
    c = customer()
    street = {
        "join": ["bill_address.addr1", "bill_address.addr2", "bill_address.addr3"],
        "sep": ", ",
    }
    assert read_source(c, street, TODAY) == "1 Main St, Suite 2"
    assert read_source(c, {"path": "is_active", "type": "boolean"}, TODAY) is True
    assert read_source(c, "bill_address", TODAY) is None  # a structure is never a value


def test_customer_write_and_its_contact():
    spec = build_config().spec("Customer")
    account = build_write(spec, customer(), TODAY)
    assert account.body["QB_ListID"] == "80000001-1"
    assert account.body["Account_Name"] == "Acme"
    assert account.body["Billing_Street"] == "1 Main St, Suite 2"
    assert account.parents == []  # top level: no parent account
    contact = build_write(spec.contact, customer(), TODAY)
    assert contact.body["Last_Name"] == "Lee" and contact.body["QB_ListID"] == "80000001-1"
    assert [(p.field, p.entity, p.source_id) for p in contact.parents] == [
        ("Account_Name", "Customer", "80000001-1")
    ]
    # A company with no person named gets no Contact.
    assert build_write(spec.contact, customer(first_name=None, last_name=None), TODAY) is None
    job = build_write(spec, customer(sublevel=1, parent={"list_id": "P-1"}), TODAY)
    assert [(p.field, p.source_id) for p in job.parents] == [("Parent_Account", "P-1")]


def test_invoice_write_with_lines():
    write = build_write(build_config().spec("Invoice"), invoice(), TODAY)
    body = write.body
    assert body["Subject"] == "Invoice 1001" and body["QB_TxnID"] == "T-1"
    assert body["Status"] == "Pending" and body["Due_Date"] == "2026-03-31"
    assert body["Invoiced_Items"] == [
        {"Quantity": 2.0, "List_Price": 12.5},
        {"Quantity": 1.0, "List_Price": 40.0},  # amount-only line: one unit at the amount
    ]
    assert [(p.field, p.line, p.source_id) for p in write.parents] == [
        ("Account_Name", None, "80000001-1"),
        ("Product_Name", 0, "I-1"),
        ("Product_Name", 1, "I-2"),
    ]
    no_ref = build_write(build_config().spec("Invoice"), invoice(ref_number=None), TODAY)
    assert no_ref.body["Subject"] == "Invoice T-1"


def test_override_merges_field_by_field():
    config = build_config(
        {
            "triggers": ["workflow"],
            "deletion_policy": "ignore",
            "custom_fields": {"Accounts": {"QB_Balance": "currency"}},
            "entities": {
                "Customer": {
                    "fields": {
                        "QB_Balance": {"path": "total_balance", "type": "number"},
                        "Fax": None,
                    },
                    "contact": None,
                },
                "SalesOrder": None,
            },
        }
    )
    spec = config.spec("Customer")
    assert "QB_Balance" in spec.fields and "Fax" not in spec.fields and "Phone" in spec.fields
    assert spec.contact is None
    assert config.spec("SalesOrder") is None
    assert config.triggers == ("workflow",) and config.deletion_policy == "ignore"


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"entities": {"Invoice": {"module": "Invoicez"}}}, "'Invoicez'"),
        ({"entities": {"Customer": {"fields": {"Acount_Name": "full_name"}}}}, "'Acount_Name'"),
        ({"entities": {"Customer": {"fields": {"Phone": "phon"}}}}, "'phon'"),
        ({"entities": {"Customer": {"fields": {"Phone": "bill_address.zip"}}}}, "bill_address.zip"),
        # Terms is a qbxml record the relay does not sync; deletions follow deletion_policy.
        ({"entities": {"Terms": {"module": "Vendors"}}}, "'Terms'"),
        ({"entities": {"ListDeleted": {"module": "Accounts"}}}, "'ListDeleted'"),
        ({"entities": {"Item": {"id_field": "Product_Code"}}}, "custom text field"),
        ({"deletion_policy": "purge"}, "'purge'"),
        ({"triggers": ["workflows"]}, "triggers"),
        ({"trigger": []}, "trigger"),
        ({"custom_fields": {"Accounts": {"QB_X": "money"}}}, "'money'"),
        ({"entities": {"Item": {"fields": {"Description": {"path": "desc", "typ": "x"}}}}}, "typ"),
        (
            {
                "entities": {
                    "Invoice": {
                        "lines": {
                            "field": "Invoiced_Items",
                            "product": "Product",
                            "quantity": "Quantity",
                            "price": "List_Price",
                        }
                    }
                }
            },
            "'Product'",
        ),
        (
            {
                "payment": {
                    "module": "Invoices",
                    "status_field": "Stat",
                    "due_date_field": "Due_Date",
                }
            },
            "'Stat'",
        ),
    ],
)
def test_bad_overrides_name_what_is_wrong(override, named):
    with pytest.raises(MappingError) as err:
        build_config(override, origin="acme.json")
    assert named in str(err.value) and str(err.value).startswith("acme.json:")


def test_custom_modules_and_fields_must_be_declared():
    doc = {
        "custom_modules": ["QB_Receipts"],
        "custom_fields": {"QB_Receipts": {"QB_TxnID": "text", "Amount": "currency"}},
        "entities": {
            "SalesReceipt": {
                "module": "QB_Receipts",
                "id_field": "QB_TxnID",
                "fields": {"Amount": {"path": "total_amount", "type": "number"}},
            }
        },
    }
    assert build_config(doc).spec("SalesReceipt").module == "QB_Receipts"


def test_vendor_is_mappable_like_any_list_entity():
    doc = {
        "custom_fields": {"Vendors": {"QB_ListID": "text"}},
        "entities": {
            "Vendor": {
                "module": "Vendors",
                "id_field": "QB_ListID",
                "fields": {"Vendor_Name": "name", "City": "vendor_address.city"},
            }
        },
    }
    assert build_config(doc).spec("Vendor").module == "Vendors"


def _json_names(cls: type) -> set[str]:
    # The records contract, spelled out here rather than reused: ``class_`` is written "class".
    return {f.name.removesuffix("_") for f in dataclasses.fields(cls)}


def test_source_fields_follow_the_record_dataclasses():
    # Adding a field to a record makes it mappable; a hand-kept list would miss it.
    assert SOURCE_FIELDS["Customer"] == _json_names(Customer) | {"entity"}
    assert _json_names(TxnLine) == LINE_FIELDS
    assert NESTED["Invoice"]["customer"] == _json_names(Ref)
    assert NESTED["Customer"]["bill_address"] == _json_names(Address)
    assert LINE_NESTED["item"] == _json_names(Ref)
    mappable = {n for n, e in ENTITIES.items() if e.kind is not Kind.DELETION}
    assert set(SOURCE_FIELDS) == mappable
    for name in mappable:
        cls = ENTITIES[name].record_type
        required = {
            f.name: "x"
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        # Exactly the keys a forwarded record carries: what to_dict writes is what may be read.
        assert SOURCE_FIELDS[name] == set(to_dict(cls(**required))), name


def test_line_fields_cover_what_the_transform_reads():
    assert {"txn_line_id", "item", "quantity", "rate", "amount", "desc"} <= LINE_FIELDS
    assert "list_id" in LINE_NESTED["item"]


def _with_source(entity: str, path: str) -> dict:
    """An override mapping ``path`` of ``entity`` to Description (every module has one)."""
    body: dict = {"fields": {"Description": path}}
    if not ENTITIES[entity].zoho_modules:  # not in the default mapping: give it a module
        body |= {"module": "Invoices", "id_field": "QB_TxnID"}
    return {"entities": {entity: body}}


@pytest.mark.parametrize(
    ("entity", "path"),
    [
        ("Estimate", "total_amount"),
        ("SalesOrder", "total_amount"),
        ("Invoice", "balance_remaining"),
        ("Invoice", "bill_address.city"),
        ("Invoice", "customer.full_name"),
        ("Invoice", "class.full_name"),  # ClassRef: the attribute is class_, the JSON "class"
        ("Invoice", "entity"),
        ("Customer", "job_status"),  # never in the hand-written list
        ("Item", "pref_vendor.full_name"),
        ("CreditMemo", "credit_remaining"),
    ],
)
def test_record_fields_are_accepted(entity, path):
    spec = build_config(_with_source(entity, path)).spec(entity)
    assert path in spec.fields.values()


@pytest.mark.parametrize(
    ("entity", "path", "named"),
    [
        # InvoiceRet has no TotalAmount (BalanceRemaining and AppliedAmount instead).
        ("Invoice", "total_amount", "'total_amount'"),
        ("Estimate", "is_pending", "'is_pending'"),
        ("Estimate", "expiration_date", "'expiration_date'"),
        ("CreditMemo", "is_paid", "'is_paid'"),
        ("Item", "preferred_vendor.full_name", "'preferred_vendor'"),  # it is pref_vendor
        ("Invoice", "class_.full_name", "'class_'"),
        ("Invoice", "customer.city", "'customer.city'"),
        ("Customer", "customer.full_name", "'customer'"),
        ("Invoice", "customer", "structure"),  # a reference itself is never a value
        ("Invoice", "customer_msg", "structure"),
        ("Invoice", "memo.text", "'memo.text'"),
        ("Invoice", "custom_fields", "list"),
        ("Invoice", "lines.amount", "list"),
        ("Invoice", "bill_address.city.x", "'bill_address.city.x'"),
    ],
)
def test_fields_no_record_has_are_refused(entity, path, named):
    with pytest.raises(MappingError) as err:
        build_config(_with_source(entity, path))
    assert named in str(err.value) and entity in str(err.value)


def test_default_modules_come_from_the_entity_table():
    config = build_config()
    for name, spec in config.entities.items():
        assert spec.module == ENTITIES[name].zoho_modules[0]
    assert config.spec("Customer").contact.module == ENTITIES["Customer"].zoho_modules[1]
    assert config.payment.module == ENTITIES[PAYMENT].zoho_modules[0]
    # The table names modules exactly for what the default mapping writes.
    written = {n for n, e in ENTITIES.items() if e.zoho_modules}
    assert written == set(config.entities) | {PAYMENT}
    assert set(config.custom_fields) == set(config.modules())


def test_load_mapping_file(tmp_path):
    good = tmp_path / "m.json"
    good.write_text(json.dumps({"entities": {"Estimate": None}}))
    assert load_mapping_file(good) == {"entities": {"Estimate": None}}
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(MappingError, match="not valid JSON"):
        load_mapping_file(bad)
    with pytest.raises(MappingError, match="cannot read"):
        load_mapping_file(tmp_path / "missing.json")


def test_data_centres_and_urls():
    assert accounts_server("ca") == "https://accounts.zohocloud.ca"
    assert accounts_server("com.au") == "https://accounts.zoho.com.au"
    with pytest.raises(ValueError, match="com, eu, in"):
        accounts_server("uk")
    assert check_url("https://accounts.zoho.eu/", "x") == "https://accounts.zoho.eu"
    assert check_url("http://127.0.0.1:8080", "x") == "http://127.0.0.1:8080"
    assert check_url("http://[::1]:8080", "x") == "http://[::1]:8080"
    assert check_url("http://localhost:1", "x") == "http://localhost:1"
    for bad in ("http://example.com", "ftp://127.0.0.1", "http://10.0.0.1", "https://"):
        with pytest.raises(ValueError, match="https"):
            check_url(bad, "x")
