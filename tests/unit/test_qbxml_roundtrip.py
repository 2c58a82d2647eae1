"""Property tests: record -> *Ret qbXML -> parse_response -> the same record, every field.

Strategies are derived from each record's dataclass fields (by annotation), restricted to the
fields its ``*Ret`` element carries, so a field added to a record and to the serializer is
covered without touching the tests. Text is anything QuickBooks stores (ISO-8859-1 minus the
control characters XML cannot carry), including ``& < > " '``, accents, tabs and newlines.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qbxml import (
    Address,
    Customer,
    CustomField,
    Invoice,
    Item,
    ListDeleted,
    ReceivePayment,
    Ref,
    TxnDeleted,
    Vendor,
    parse_response,
    to_dict,
)
from qbxml.records import AppliedToTxn, LinkedTxn, TxnLine, TxnLineGroup
from qbxml.values import snake
from tests.unit.qbxml_support import (
    RET_ORDER,
    response_document,
    ret_element,
    same_record,
    schema_or_skip,
    validate,
)

TEXT = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_categories=("Cc",))
AWKWARD = st.sampled_from(["&", "<", ">", '"', "'", "&amp;", "]]>", "é", "ÿ", "\t", "\r\n", " "])
qb_text = st.lists(st.text(TEXT, min_size=1, max_size=12) | AWKWARD, min_size=1, max_size=6).map(
    "".join
)
ids = st.from_regex(r"[0-9A-F]{1,8}-[0-9]{1,10}", fullmatch=True)
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
datetimes = st.builds(
    lambda d, tz: d.replace(tzinfo=tz),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31)).map(
        lambda d: d.replace(microsecond=0)
    ),
    offsets,
)
dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2037, 12, 31))
money = st.decimals(min_value=Decimal("-9999999.99"), max_value=Decimal("9999999.99"), places=2)
quantities = st.decimals(min_value=Decimal("-99999"), max_value=Decimal("99999"), places=5)
refs = st.builds(Ref, list_id=st.none() | ids, full_name=st.none() | qb_text).filter(
    lambda r: r.list_id or r.full_name
)
addresses = st.builds(Address, **{f.name: st.none() | qb_text for f in fields(Address)})
custom_fields = st.lists(
    st.builds(
        CustomField,
        owner_id=st.sampled_from(["0", "{6B063959-81B0-4622-8C09-3A7E4DE9AB9C}"]),
        name=qb_text,
        type=st.sampled_from(["STR255TYPE", "AMTTYPE", "DATETIMETYPE"]),
        value=qb_text,
    ),
    max_size=3,
)
QUANTITY_FIELDS = {"quantity", "rate", "rate_percent", "exchange_rate", "quantity_on_hand"}


def _for_annotation(name: str, annotation: str) -> st.SearchStrategy[Any]:
    base = annotation.replace(" | None", "")
    table: dict[str, st.SearchStrategy[Any]] = {
        "str": qb_text,
        "datetime": datetimes,
        "date": dates,
        "Decimal": quantities if name in QUANTITY_FIELDS else money,
        "bool": st.booleans(),
        "int": st.integers(min_value=0, max_value=10**6),
        "Ref": refs,
        "Address": addresses,
    }
    strategy = table[base]
    return st.none() | strategy if annotation.endswith("| None") else strategy


def carried(tag: str) -> set[str]:
    """The record attributes a ``*Ret`` element's serializer writes."""
    attrs = {snake(t) for t in RET_ORDER[tag]}
    for wrapper in ("SalesOrPurchase", "SalesAndPurchase"):
        if wrapper in RET_ORDER[tag]:
            attrs |= {snake(t) for t in RET_ORDER[wrapper]}
    return attrs


def record_strategy(cls: type, tag: str, **special: st.SearchStrategy[Any]) -> Any:
    """Every field of ``cls`` that ``tag`` carries, plus ``special`` ones, drawn at random."""
    kwargs = dict(special)
    for f in fields(cls):
        if f.name in carried(tag) and f.name not in kwargs:
            kwargs[f.name] = _for_annotation(f.name, f.type)
    return st.builds(cls, **kwargs)


def lines_and_groups(draw: Any) -> tuple[list[TxnLine], list[TxnLineGroup]]:
    line = record_strategy(TxnLine, "InvoiceLineRet", custom_fields=custom_fields)
    lines: list[TxnLine] = draw(st.lists(line, max_size=3))
    groups: list[TxnLineGroup] = []
    for n in range(draw(st.integers(0, 2))):
        group = draw(
            record_strategy(
                TxnLineGroup,
                "InvoiceLineGroupRet",
                txn_line_id=st.just(f"G{n}-1"),
                custom_fields=custom_fields,
            )
        )
        members = draw(st.lists(line, min_size=1, max_size=3))
        for member in members:
            member.group_line_id = group.txn_line_id
        groups.append(group)
        lines.extend(members)
    return lines, groups


@st.composite
def invoices(draw: Any) -> Invoice:
    invoice = draw(
        record_strategy(
            Invoice,
            "InvoiceRet",
            txn_id=ids,
            linked_txns=st.lists(record_strategy(LinkedTxn, "LinkedTxn"), max_size=2),
            custom_fields=custom_fields,
        )
    )
    invoice.lines, invoice.line_groups = lines_and_groups(draw)
    return invoice


applied = record_strategy(
    AppliedToTxn,
    "AppliedToTxnRet",
    linked_txns=st.lists(record_strategy(LinkedTxn, "LinkedTxn"), max_size=2),
)
CASES: dict[str, tuple[str, str, st.SearchStrategy[Any]]] = {
    "Customer": (
        "CustomerQueryRs",
        "CustomerRet",
        record_strategy(Customer, "CustomerRet", list_id=ids, custom_fields=custom_fields),
    ),
    "Vendor": (
        "VendorQueryRs",
        "VendorRet",
        record_strategy(Vendor, "VendorRet", list_id=ids, custom_fields=custom_fields),
    ),
    "ItemService": (
        "ItemQueryRs",
        "ItemServiceRet",
        record_strategy(Item, "ItemServiceRet", list_id=ids, item_type=st.just("Service")),
    ),
    "ItemInventory": (
        "ItemQueryRs",
        "ItemInventoryRet",
        record_strategy(
            Item,
            "ItemInventoryRet",
            list_id=ids,
            item_type=st.just("Inventory"),
            custom_fields=custom_fields,
        ),
    ),
    "Invoice": ("InvoiceQueryRs", "InvoiceRet", invoices()),
    "ReceivePayment": (
        "ReceivePaymentQueryRs",
        "ReceivePaymentRet",
        record_strategy(
            ReceivePayment,
            "ReceivePaymentRet",
            txn_id=ids,
            applied_to_txns=st.lists(applied, max_size=3),
            custom_fields=custom_fields,
        ),
    ),
    "ListDeleted": (
        "ListDeletedQueryRs",
        "ListDeletedRet",
        record_strategy(ListDeleted, "ListDeletedRet", list_id=ids),
    ),
    "TxnDeleted": (
        "TxnDeletedQueryRs",
        "TxnDeletedRet",
        record_strategy(TxnDeleted, "TxnDeletedRet", txn_id=ids),
    ),
}
NESTED = {"custom_fields", "lines", "line_groups", "linked_txns", "applied_to_txns"}


def round_trip(rs_tag: str, tag: str, record: Any) -> Any:
    document = response_document(rs_tag, [ret_element(record, tag)])
    (response,) = parse_response(document).responses
    (parsed,) = response.records
    return parsed


@pytest.mark.parametrize("case", CASES)
def test_round_trip_covers_every_field_of_the_record(case: str) -> None:
    _, tag, _ = CASES[case]
    cls = {"Customer": Customer, "Vendor": Vendor, "Invoice": Invoice}.get(case)
    if cls is None:
        return
    missing = {f.name for f in fields(cls)} - carried(tag) - NESTED
    assert missing == set(), f"{case} fields the round trip does not exercise: {missing}"


@pytest.mark.parametrize("case", CASES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_record_survives_serialize_and_parse(case: str, data: st.DataObject) -> None:
    rs_tag, tag, strategy = CASES[case]
    record = data.draw(strategy)
    parsed = round_trip(rs_tag, tag, record)
    same_record(parsed, record)
    assert to_dict(parsed) == to_dict(record)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_record_survives_serialize_and_parse_long(case: str, data: st.DataObject) -> None:
    rs_tag, tag, strategy = CASES[case]
    record = data.draw(strategy)
    same_record(round_trip(rs_tag, tag, record), record)


def test_the_serializer_writes_schema_valid_responses() -> None:
    schema = schema_or_skip()
    stamp = datetime(2024, 11, 3, 1, 30, tzinfo=timezone(timedelta(hours=-4)))
    customer = Customer(
        list_id="80000001-1",
        time_created=stamp,
        time_modified=stamp,
        edit_sequence="17",
        name="A & B <Co> Café",
        full_name="A & B <Co> Café",
        is_active=False,
        bill_address=Address(addr1='1 "Main"', city="Zürich"),
        terms=Ref("80000002-1", "Net 30"),
        balance=Decimal("12.50"),
        job_status="InProgress",
        custom_fields=[CustomField("0", "Region", "STR255TYPE", "West")],
    )
    line = TxnLine(
        txn_line_id="L1",
        item=Ref(full_name="Labor"),
        quantity=Decimal("1.5"),
        rate=Decimal("95.5"),
        amount=Decimal("143.25"),
    )
    grouped = TxnLine(
        txn_line_id="L2", item=Ref(full_name="Part"), amount=Decimal("10.00"), group_line_id="G1"
    )
    invoice = Invoice(
        txn_id="1A-1",
        time_created=stamp,
        time_modified=stamp,
        edit_sequence="3",
        customer=Ref("80000001-1", "A & B <Co> Café"),
        txn_date=date(2024, 11, 2),
        ref_number="INV-1",
        subtotal=Decimal("153.25"),
        balance_remaining=Decimal("153.25"),
        is_paid=False,
        linked_txns=[
            LinkedTxn(
                "9-9", "ReceivePayment", date(2024, 11, 3), "P1", "AMTTYPE", Decimal("-10.00")
            )
        ],
        lines=[line, grouped],
        line_groups=[
            TxnLineGroup(
                txn_line_id="G1",
                item_group=Ref(full_name="Kit"),
                is_print_items_in_group=True,
                total_amount=Decimal("10.00"),
            )
        ],
    )
    payment = ReceivePayment(
        txn_id="2B-2",
        time_created=stamp,
        time_modified=stamp,
        edit_sequence="4",
        customer=Ref("80000001-1"),
        txn_date=date(2024, 11, 3),
        total_amount=Decimal("10.00"),
        applied_to_txns=[
            AppliedToTxn(
                "1A-1", "Invoice", date(2024, 11, 2), "INV-1", Decimal("143.25"), Decimal("10.00")
            )
        ],
    )
    for rs_tag, tag, record in [
        ("CustomerQueryRs", "CustomerRet", customer),
        ("InvoiceQueryRs", "InvoiceRet", invoice),
        ("ReceivePaymentQueryRs", "ReceivePaymentRet", payment),
        (
            "ListDeletedQueryRs",
            "ListDeletedRet",
            ListDeleted("Customer", "80000001-1", stamp, stamp, "Gone"),
        ),
        (
            "TxnDeletedQueryRs",
            "TxnDeletedRet",
            TxnDeleted("Invoice", "1A-1", stamp, stamp, "INV-1"),
        ),
    ]:
        document = response_document(rs_tag, [ret_element(record, tag)])
        validate(schema, document)
        same_record(round_trip(rs_tag, tag, record), record)
