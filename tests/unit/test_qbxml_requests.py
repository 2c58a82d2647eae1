"""Every request the builders can emit validates against Intuit's qbXML 13.0 XSD.

Combinations are generated from each builder's option axes (itertools.product), so adding a
value to an axis adds its combinations with every other. The schema directory comes from
QBXML_XSD_DIR (set by .ci/run); without it the schema tests skip.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from lxml import etree

from qbxml import (
    DELETED_ENTITIES,
    LIST_ENTITIES,
    SYNC_ENTITIES,
    TXN_ENTITIES,
    Address,
    ClassQuery,
    CreditMemoQuery,
    CustomerAdd,
    CustomerData,
    CustomerMod,
    CustomerQuery,
    DataExtAdd,
    DataExtDefAdd,
    DateDrivenTermsQuery,
    EstimateQuery,
    FieldTooLongError,
    InvoiceQuery,
    ItemQuery,
    ListDeletedQuery,
    QbxmlError,
    QbxmlVersion,
    ReceivePaymentQuery,
    Ref,
    SalesOrderQuery,
    SalesReceiptQuery,
    SalesRepQuery,
    StandardTermsQuery,
    TermsQuery,
    TxnDeletedQuery,
    VendorQuery,
    build_message_set,
    sync_query,
)
from qbxml.requests import LIST_DEL_TYPES, TXN_DEL_TYPES, TXN_TYPE_FILTERS, TransactionQuery
from qbxml.requests.writes import CUSTOMER_ADD_FIELDS, CUSTOMER_MOD_FIELDS
from tests.unit.qbxml_support import schema_or_skip, validate

OWNER_ID = "{6B063959-81B0-4622-8C09-3A7E4DE9AB9C}"
ITERATOR_ID = "{F1E2D3C4-0000-1111-2222-333344445555}"
V13 = QbxmlVersion(13, 0)
VERSIONS = [QbxmlVersion(5, 0), QbxmlVersion(8, 0), QbxmlVersion(12, 0), V13]
FROM = datetime(2024, 3, 10, 2, 30, tzinfo=UTC)
TO = datetime(2024, 11, 3, 1, 30, 15, 250000, tzinfo=timezone(timedelta(hours=-4)))


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return schema_or_skip()


def combinations(axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, as keyword arguments."""
    keys = list(axes)
    out = []
    for values in itertools.product(*axes.values()):
        kwargs: dict[str, Any] = {}
        for key, value in zip(keys, values, strict=True):
            if isinstance(value, dict):
                kwargs.update(value)  # an axis whose values set several fields together
            else:
                kwargs[key] = value
        out.append(kwargs)
    return out


def iterator_axis(has_iterator: bool) -> list[dict[str, Any]]:
    if not has_iterator:
        return [{}]
    return [
        {},
        {"iterator": "Start"},
        {"iterator": "Continue", "iterator_id": ITERATOR_ID},
        {"iterator": "Stop", "iterator_id": ITERATOR_ID},
    ]


def validate_all(schema: etree.XMLSchema, requests: list[Any], version: QbxmlVersion) -> None:
    for start in range(0, len(requests), 400):
        validate(schema, build_message_set(requests[start : start + 400], version))


LIST_QUERIES = [
    CustomerQuery,
    VendorQuery,
    ItemQuery,
    TermsQuery,
    StandardTermsQuery,
    DateDrivenTermsQuery,
    SalesRepQuery,
    ClassQuery,
]


@pytest.mark.parametrize("query", LIST_QUERIES, ids=lambda q: q.__name__)
def test_every_list_query_combination_validates(schema, query) -> None:
    axes: dict[str, list[Any]] = {
        "max_returned": [None, 100],
        "iterator": iterator_axis(query.HAS_ITERATOR),
        "active_status": [None, "All", "ActiveOnly", "InactiveOnly"],
        "modified": [
            {},
            {"from_modified": FROM},
            {"to_modified": TO},
            {"from_modified": FROM, "to_modified": TO},
        ],
        "include_ret_elements": [(), ("ListID", "EditSequence", "TimeModified")],
        "owner_ids": [None, (), ("0", OWNER_ID)] if query.HAS_OWNER_ID else [None],
    }
    lookups = [{"list_ids": ("80000001-1", "80000002-1")}, {"full_names": ("A & B", "Café")}]
    cases = combinations(axes) + lookups
    requests = [query(request_id=f"q{n}", **kw) for n, kw in enumerate(cases)]
    validate_all(schema, requests, V13)


TXN_QUERIES = [
    EstimateQuery,
    SalesOrderQuery,
    InvoiceQuery,
    SalesReceiptQuery,
    ReceivePaymentQuery,
    CreditMemoQuery,
]


@pytest.mark.parametrize("query", TXN_QUERIES, ids=lambda q: q.__name__)
def test_every_txn_query_combination_validates(schema, query) -> None:
    axes: dict[str, list[Any]] = {
        "max_returned": [None, 50],
        "iterator": iterator_axis(True),
        "range": [
            {},
            {"from_modified": FROM},
            {"from_modified": FROM, "to_modified": TO},
            {"from_txn_date": date(2024, 1, 1), "to_txn_date": date(2024, 12, 31)},
        ],
        "entity_list_ids": [(), ("80000001-1",)],
        "paid_status": [None, "NotPaidOnly"] if query.HAS_PAID_STATUS else [None],
        "include_line_items": [None, True, False],
        "include_linked_txns": [None, True] if query.HAS_LINKED_TXNS else [None],
        "include_ret_elements": [(), ("TxnID",)],
        "owner_ids": [None, (OWNER_ID,)],
    }
    lookups = [{"txn_ids": ("1A-1", "1B-2")}, {"ref_numbers": ("INV-1",)}]
    cases = combinations(axes) + lookups
    requests = [query(request_id=f"t{n}", **kw) for n, kw in enumerate(cases)]
    validate_all(schema, requests, V13)


@pytest.mark.parametrize("query", [ListDeletedQuery, TxnDeletedQuery], ids=lambda q: q.__name__)
def test_every_deleted_query_combination_validates(schema, query) -> None:
    allowed = sorted(LIST_DEL_TYPES if query is ListDeletedQuery else TXN_DEL_TYPES)
    axes: dict[str, list[Any]] = {
        "del_types": [tuple(allowed[:1]), tuple(allowed)],
        "range": [
            {},
            {"from_deleted": FROM},
            {"to_deleted": TO},
            {"from_deleted": FROM, "to_deleted": TO},
        ],
        "include_ret_elements": [(), ("TxnID", "ListID")],
    }
    requests = [query(request_id=f"d{n}", **kw) for n, kw in enumerate(combinations(axes))]
    validate_all(schema, requests, V13)


@pytest.mark.parametrize("version", VERSIONS, ids=str)
def test_every_sync_query_validates(schema, version) -> None:
    requests = []
    for entity in SYNC_ENTITIES:
        axes: dict[str, list[Any]] = {
            "max_returned": [None, 100],
            "iterator": [{}] if entity in DELETED_ENTITIES else iterator_axis(True),
            "modified_from": [None, FROM],
            "modified_to": [None, TO],
        }
        for kw in combinations(axes):
            requests.append(sync_query(entity, request_id=f"{entity[:8]}{len(requests)}", **kw))
    validate_all(schema, requests, version)


def test_sync_query_shapes() -> None:
    expected = (
        *("Item", "Customer", "Vendor", "Estimate", "SalesOrder", "Invoice", "SalesReceipt"),
        *("ReceivePayment", "CreditMemo", "ListDeleted", "TxnDeleted"),
    )
    assert expected == SYNC_ENTITIES
    assert set(LIST_ENTITIES) | set(TXN_ENTITIES) | set(DELETED_ENTITIES) == set(SYNC_ENTITIES)

    def tags(entity: str, **kw: Any) -> list[str]:
        el = sync_query(entity, request_id="r", **kw).to_element(V13)
        return [c.tag for c in el.iter() if c is not el]

    customer = tags("Customer", max_returned=10, iterator="Start", modified_from=FROM)
    assert customer == ["MaxReturned", "ActiveStatus", "FromModifiedDate", "OwnerID"]
    invoice = tags("Invoice", modified_from=FROM, modified_to=TO)
    assert invoice == [
        *("ModifiedDateRangeFilter", "FromModifiedDate", "ToModifiedDate", "IncludeLineItems"),
        *("IncludeLinkedTxns", "OwnerID"),
    ]
    assert "IncludeLinkedTxns" not in tags("SalesReceipt")
    assert "IncludeLinkedTxns" not in tags("ReceivePayment")
    deleted = sync_query("ListDeleted", request_id="r").to_element(V13)
    del_types = [c.text for c in deleted.iter("ListDelType")]
    assert {"Customer", "Vendor", "ItemService", "ItemInventory", "ItemGroup"} <= set(del_types)
    txn_deleted = sync_query("TxnDeleted", request_id="r", modified_from=FROM).to_element(V13)
    assert [c.text for c in txn_deleted.iter("TxnDelType")] == list(TXN_ENTITIES)
    assert txn_deleted.find("DeletedDateRangeFilter/FromDeletedDate").text == FROM.isoformat()
    # Sub-second precision is dropped: DATETIMETYPE carries seconds.
    el = sync_query("Item", request_id="r", modified_to=TO).to_element(V13)
    assert el.find("ToModifiedDate").text == "2024-11-03T01:30:15-04:00"


@pytest.mark.parametrize("entity", DELETED_ENTITIES)
def test_sync_query_refuses_an_iterator_on_deletions(entity: str) -> None:
    with pytest.raises(QbxmlError, match="no iterator"):
        sync_query(entity, request_id="r", iterator="Start")
    with pytest.raises(QbxmlError, match="no iterator"):
        sync_query(entity, request_id="r", iterator="Continue", iterator_id=ITERATOR_ID)


def test_sync_query_refuses_unknown_entities() -> None:
    with pytest.raises(QbxmlError, match="cannot sync 'Account'"):
        sync_query("Account", request_id="r")


# --- writes ----------------------------------------------------------------------------------

FULL_CUSTOMER = CustomerData(
    name="Zoë & Co <west>",
    is_active=True,
    class_=Ref(full_name="Retail"),
    parent=Ref(list_id="80000001-1"),
    company_name='Zoë & "Co"',
    salutation="Ms.",
    first_name="Zoë",
    middle_name="A",
    last_name="O'Neil",
    job_title="Buyer",
    bill_address=Address(addr1="1 Main", addr5="Suite 9", city="Austin", note="back door"),
    ship_address=Address(addr1="2 Dock", state="TX", postal_code="78701", country="US"),
    phone="555-0100",
    alt_phone="555-0101",
    fax="555-0102",
    email="zoe@example.com",
    cc="boss@example.com",
    contact="Zoë",
    alt_contact="Al",
    customer_type=Ref(full_name="Wholesale"),
    terms=Ref(full_name="Net 30"),
    sales_rep=Ref(full_name="JS"),
    open_balance=Decimal("12.50"),
    open_balance_date=date(2024, 1, 2),
    sales_tax_code=Ref(full_name="Tax"),
    item_sales_tax=Ref(full_name="State Tax"),
    resale_number="R-1",
    account_number="A-1",
    credit_limit=Decimal(5000),
    preferred_payment_method=Ref(full_name="Check"),
    job_status="InProgress",
    job_start_date=date(2024, 2, 1),
    job_projected_end_date=date(2024, 3, 1),
    job_end_date=date(2024, 4, 1),
    job_desc="Fit-out",
    job_type=Ref(full_name="Install"),
    notes="Line one\nLine two",
    preferred_delivery_method="Email",
    price_level=Ref(full_name="Gold"),
    external_guid=OWNER_ID,
    currency=Ref(full_name="US Dollar"),
)
MOD_ONLY_FIELDS = {s.attr for s in CUSTOMER_MOD_FIELDS}


def _single_field_cases(specs: tuple, base: dict[str, Any]) -> list[CustomerData]:
    cases = []
    for spec in specs:
        value = getattr(FULL_CUSTOMER, spec.attr)
        cases.append(CustomerData(**{**base, spec.attr: value}))
    return cases


def test_customer_add_validates_for_every_field_and_all_together(schema) -> None:
    cases = [*_single_field_cases(CUSTOMER_ADD_FIELDS, {"name": "Solo"}), FULL_CUSTOMER]
    requests = [CustomerAdd(f"a{n}", data) for n, data in enumerate(cases)]
    requests.append(CustomerAdd("inc", CustomerData(name="X"), include_ret_elements=("ListID",)))
    validate_all(schema, requests, V13)


def test_customer_mod_validates_for_every_field_and_all_together(schema) -> None:
    everything = {a: getattr(FULL_CUSTOMER, a) for a in MOD_ONLY_FIELDS}
    cases = [*_single_field_cases(CUSTOMER_MOD_FIELDS, {}), CustomerData(**everything)]
    requests = [CustomerMod(f"m{n}", "80000001-1", "1700000000", d) for n, d in enumerate(cases)]
    validate_all(schema, requests, V13)


def test_customer_add_order_follows_the_schema() -> None:
    el = CustomerAdd("r", FULL_CUSTOMER).to_element(V13)
    body = el.find("CustomerAdd")
    assert [c.tag for c in body][:4] == ["Name", "IsActive", "ClassRef", "ParentRef"]
    assert body.find("Name").text == "Zoë & Co <west>"
    assert body.find("OpenBalance").text == "12.50"
    assert body.find("CreditLimit").text == "5000.00"
    assert body.find("BillAddress/Addr5").text == "Suite 9"
    mod = CustomerMod("r", "80000001-1", "17", CustomerData(name="N")).to_element(V13)
    assert [c.tag for c in mod.find("CustomerMod")] == ["ListID", "EditSequence", "Name"]


def test_writes_enforce_quickbooks_limits() -> None:
    with pytest.raises(FieldTooLongError, match="Name is 42 characters"):
        CustomerAdd("r", CustomerData(name="n" * 42)).to_element(V13)
    with pytest.raises(FieldTooLongError, match="BillAddress/City is 32"):
        CustomerAdd("r", CustomerData(name="n", bill_address=Address(city="c" * 32))).to_element(
            V13
        )
    with pytest.raises(FieldTooLongError, match="SalesRepRef/FullName is 6"):
        CustomerAdd("r", CustomerData(name="n", sales_rep=Ref(full_name="ABCDEF"))).to_element(V13)
    with pytest.raises(FieldTooLongError, match="EditSequence"):
        CustomerMod("r", "1-1", "9" * 17, CustomerData(name="n")).to_element(V13)
    with pytest.raises(QbxmlError, match="needs name"):
        CustomerAdd("r", CustomerData(phone="1")).to_element(V13)
    with pytest.raises(QbxmlError, match="current EditSequence"):
        CustomerMod("r", "1-1", "", CustomerData(name="n")).to_element(V13)
    with pytest.raises(QbxmlError, match="cannot change open_balance"):
        CustomerMod("r", "1-1", "1", CustomerData(open_balance=Decimal(1))).to_element(V13)
    with pytest.raises(QbxmlError, match="2 decimals"):
        CustomerAdd("r", CustomerData(name="n", credit_limit=Decimal("1.005"))).to_element(V13)
    with pytest.raises(QbxmlError, match="JobStartDate needs a date"):
        CustomerAdd("r", CustomerData(name="n", job_start_date=FROM)).to_element(V13)
    with pytest.raises(QbxmlError, match="IsActive needs True or False"):
        CustomerAdd("r", CustomerData(name="n", is_active="yes")).to_element(V13)  # type: ignore[arg-type]
    with pytest.raises(QbxmlError, match="JobStatus must be one of"):
        CustomerAdd("r", CustomerData(name="n", job_status="Done")).to_element(V13)
    with pytest.raises(QbxmlError, match="braced GUID"):
        CustomerAdd("r", CustomerData(name="n", external_guid="abc")).to_element(V13)


def test_text_outside_latin1_is_transliterated_before_the_length_check() -> None:
    el = CustomerAdd("r", CustomerData(name="Łódź ﬁne 日本")).to_element(V13)
    assert el.find("CustomerAdd/Name").text == "?ódz fine ??"


# --- version gates -------------------------------------------------------------------------------


def test_fields_newer_than_the_session_are_refused_when_asked_for() -> None:
    old = QbxmlVersion(11, 0)
    with pytest.raises(QbxmlError, match=r"JobTitle needs qbXML 12.0 or newer.*11.0"):
        CustomerAdd("r", CustomerData(name="n", job_title="Boss")).to_element(old)
    with pytest.raises(QbxmlError, match=r"BillAddress/Addr5 needs qbXML 6\.0"):
        CustomerAdd("r", CustomerData(name="n", bill_address=Address(addr5="x"))).to_element(
            QbxmlVersion(5, 0)
        )
    with pytest.raises(QbxmlError, match=r"CurrencyRef needs qbXML 8\.0"):
        CustomerMod("r", "1", "1", CustomerData(currency=Ref(full_name="EUR"))).to_element(
            QbxmlVersion(7, 0)
        )
    with pytest.raises(QbxmlError, match=r"iterator needs qbXML 5\.0"):
        CustomerQuery("r", iterator="Start").to_element(QbxmlVersion(4, 1))
    with pytest.raises(QbxmlError, match=r"IncludeRetElement needs qbXML 4\.0"):
        CustomerQuery("r", include_ret_elements=("ListID",)).to_element(QbxmlVersion(3, 0))
    with pytest.raises(QbxmlError, match=r"DataExtFormatString needs qbXML 12\.0"):
        DataExtDefAdd("r", OWNER_ID, "FileID", format_string="x").to_element(QbxmlVersion(11, 0))
    with pytest.raises(QbxmlError, match=r"SalesOrderQueryRq needs qbXML 2\.1"):
        SalesOrderQuery("r").to_element(QbxmlVersion(2, 0))
    with pytest.raises(QbxmlError, match=r"IncludeLinkedTxns needs qbXML 3\.0"):
        EstimateQuery("r", include_linked_txns=True).to_element(QbxmlVersion(2, 1))


def test_default_elements_newer_than_the_session_are_left_out() -> None:
    el = CustomerQuery("r").to_element(QbxmlVersion(1, 1))
    assert [c.tag for c in el] == ["ActiveStatus"]  # the default OwnerID 0 needs 2.0
    el = CustomerQuery("r").to_element(QbxmlVersion(2, 0))
    assert [c.tag for c in el] == ["ActiveStatus", "OwnerID"]
    for version in VERSIONS:
        assert (
            CustomerAdd("r", CustomerData(name="n", job_title="t")).to_element(
                max(version, QbxmlVersion(12, 0))
            )
            is not None
        )


# --- data extensions and the rest ------------------------------------------------------------


def test_data_extension_requests_validate(schema) -> None:
    requests = [
        DataExtDefAdd("d1", OWNER_ID, "FileID"),
        DataExtDefAdd("d2", "0", "Region", "STR1024TYPE", ("Customer", "Vendor", "Item")),
        DataExtDefAdd(
            "d3",
            OWNER_ID,
            "Due",
            "AMTTYPE",
            ("Invoice",),
            list_require=False,
            txn_require=True,
            format_string="0.00",
        ),
        DataExtAdd("e1", OWNER_ID, "FileID", "{0C0A4F5E-1D2B-4A3C-9E8F-7A6B5C4D3E2F}"),
        DataExtAdd("e2", "0", "Region", "West & <East>", "Customer", "80000001-1"),
    ]
    validate_all(schema, requests, V13)
    el = requests[3].to_element(V13)
    assert [c.tag for c in el.find("DataExtAdd")] == [
        *("OwnerID", "DataExtName", "OtherDataExtType", "DataExtValue"),
    ]
    assert el.find("DataExtAdd/OtherDataExtType").text == "Company"


def test_data_extension_requests_check_their_input() -> None:
    with pytest.raises(QbxmlError, match="braced GUID"):
        DataExtDefAdd("r", "my-app", "FileID").to_element(V13)
    with pytest.raises(FieldTooLongError, match="DataExtName is 32"):
        DataExtAdd("r", OWNER_ID, "x" * 32, "v").to_element(V13)
    with pytest.raises(QbxmlError, match="not an AssignToObject"):
        DataExtDefAdd("r", OWNER_ID, "F", assign_to=("Planet",)).to_element(V13)
    with pytest.raises(QbxmlError, match="needs list_type"):
        DataExtAdd("r", OWNER_ID, "F", "v", list_type="Invoice", list_id="1").to_element(V13)


def test_query_builders_refuse_what_the_schema_does_not_allow() -> None:
    with pytest.raises(QbxmlError, match="no iterator"):
        TermsQuery("r", iterator="Start").to_element(V13)
    with pytest.raises(QbxmlError, match="no OwnerID"):
        ClassQuery("r", owner_ids=("0",)).to_element(V13)
    with pytest.raises(QbxmlError, match="no IncludeLinkedTxns"):
        SalesReceiptQuery("r", include_linked_txns=True).to_element(V13)
    with pytest.raises(QbxmlError, match="no PaidStatus"):
        EstimateQuery("r", paid_status="All").to_element(V13)
    with pytest.raises(QbxmlError, match="exclusive"):
        InvoiceQuery("r", from_modified=FROM, from_txn_date=date(2024, 1, 1)).to_element(V13)
    with pytest.raises(QbxmlError, match="takes no filters"):
        CustomerQuery("r", list_ids=("1",), max_returned=5).to_element(V13)
    with pytest.raises(QbxmlError, match="takes no filters"):
        InvoiceQuery("r", txn_ids=("1",), from_modified=FROM).to_element(V13)
    with pytest.raises(QbxmlError, match="not a ListDelType"):
        ListDeletedQuery("r", ("Invoice",)).to_element(V13)
    with pytest.raises(QbxmlError, match="at least one TxnDelType"):
        TxnDeletedQuery("r", ()).to_element(V13)
    with pytest.raises(QbxmlError, match="MaxReturned"):
        VendorQuery("r", max_returned=0).to_element(V13)
    with pytest.raises(QbxmlError, match="braced GUID"):
        ItemQuery("r", owner_ids=("zero",)).to_element(V13)
    with pytest.raises(QbxmlError, match="onError"):
        build_message_set([ItemQuery("r")], on_error="rollbackOnError")  # type: ignore[arg-type]


def test_every_request_carries_a_short_request_id() -> None:
    builders = [
        lambda rid: SalesRepQuery(rid),
        lambda rid: TxnDeletedQuery(rid, ("Invoice",)),
        lambda rid: CustomerAdd(rid, CustomerData(name="n")),
        lambda rid: DataExtAdd(rid, OWNER_ID, "FileID", "v"),
    ]
    for build in builders:
        assert build("x" * 50).to_element(V13).get("requestID") == "x" * 50
        with pytest.raises(FieldTooLongError, match="requestID"):
            build("x" * 51).to_element(V13)
        with pytest.raises(QbxmlError, match="needs a requestID"):
            build("").to_element(V13)
        with pytest.raises(QbxmlError, match="cannot store"):
            build("séance-日本").to_element(V13)


def test_every_transaction_query_combination_validates(schema) -> None:
    axes: dict[str, list[Any]] = {
        "txn_types": [("Invoice",), tuple(sorted(TXN_TYPE_FILTERS))],
        "max_returned": [None, 50],
        "iterator": iterator_axis(True),
        "range": [{}, {"from_modified": FROM}, {"from_modified": FROM, "to_modified": TO}],
        "include_ret_elements": [(), ("TxnType", "TxnID", "TimeModified")],
    }
    cases = combinations(axes)
    requests = [TransactionQuery(request_id=f"g{n}", **kw) for n, kw in enumerate(cases)]
    validate_all(schema, requests, V13)
    # The live gate as the sync builds it.
    gate = sync_query(
        "Transaction",
        request_id="g",
        max_returned=9,
        modified_from=FROM,
        iterator="Start",
        synced=("Invoice", "Estimate", "Customer"),
    )
    el = gate.to_element(V13)
    assert [e.text for e in el.iter("TxnTypeFilter")] == ["Estimate", "Invoice"]
    assert [e.text for e in el.iter("IncludeRetElement")] == ["TxnType", "TxnID", "TimeModified"]
    validate_all(schema, [gate], V13)


def test_transaction_query_refuses_what_the_schema_or_the_relay_does_not_take() -> None:
    with pytest.raises(QbxmlError, match="at least one"):
        TransactionQuery("g", ()).to_element(V13)
    with pytest.raises(QbxmlError, match="TxnTypeFilter"):
        TransactionQuery("g", ("Paycheck",)).to_element(V13)
    with pytest.raises(QbxmlError, match="iteratorID"):
        TransactionQuery("g", ("Invoice",), iterator="Continue").to_element(V13)
