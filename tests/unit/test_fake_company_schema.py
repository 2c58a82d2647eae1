"""Every response the simulated company gives validates against Intuit's qbXML 13.0 schema.

The company is given the schema too, so the hand-written requests are checked as QuickBooks
checks them. The schema directory comes from QBXML_XSD_DIR; without it these tests skip.
"""

from __future__ import annotations

import pytest
from lxml import etree

from sim.fake_company import FakeCompany
from tests.sim_requests import (
    FILE_ID,
    OWNER_ID,
    assert_valid,
    el,
    load_schema,
    message_set,
    responses,
    rq,
)

TXN_TYPES = ("Estimate", "SalesOrder", "Invoice", "SalesReceipt", "CreditMemo")
EVERY_RET = {
    "HostRet",
    "CompanyRet",
    "PreferencesRet",
    "CustomerRet",
    "VendorRet",
    "ItemServiceRet",
    "ItemInventoryRet",
    "ItemNonInventoryRet",
    "ItemOtherChargeRet",
    "ItemDiscountRet",
    "ItemSubtotalRet",
    "StandardTermsRet",
    "DateDrivenTermsRet",
    "SalesRepRet",
    "ClassRet",
    "EstimateRet",
    "SalesOrderRet",
    "InvoiceRet",
    "SalesReceiptRet",
    "CreditMemoRet",
    "ReceivePaymentRet",
    "ListDeletedRet",
    "TxnDeletedRet",
    "DataExtDefRet",
    "DataExtRet",
}


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return load_schema()


@pytest.fixture
def company(schema) -> FakeCompany:
    return FakeCompany(
        customers=40,
        vendors=8,
        items=30,
        estimates=6,
        sales_orders=6,
        invoices=20,
        sales_receipts=6,
        payments=15,
        credit_memos=5,
        seed=11,
        file_id=FILE_ID,
        owner_id=OWNER_ID,
        request_schema=schema,
    )


def _list_queries() -> list[str]:
    out = [
        rq(
            "CustomerQueryRq",
            el("MaxReturned", 15),
            el("ActiveStatus", "All"),
            el("FromModifiedDate", "2024-01-01T00:00:00"),
            el("ToModifiedDate", "2026-01-01T00:00:00-05:00"),
            el("OwnerID", "0"),
            el("OwnerID", OWNER_ID),
            iterator="Start",
        ),
        rq("CustomerQueryRq", el("IncludeRetElement", "ListID"), el("IncludeRetElement", "Name")),
        rq(
            "CustomerQueryRq",
            el("NameFilter", None, el("MatchCriterion", "Contains"), el("Name", "&")),
            el("TotalBalanceFilter", None, el("Operator", "GreaterThan"), el("Amount", "0.00")),
        ),
        rq("VendorQueryRq", el("ActiveStatus", "All"), el("OwnerID", "0")),
        rq("ItemQueryRq", el("ActiveStatus", "All")),
        rq("TermsQueryRq", el("ActiveStatus", "All")),
        rq("SalesRepQueryRq"),
        rq("ClassQueryRq", el("ActiveStatus", "All")),
    ]
    return out


def _txn_queries() -> list[str]:
    out = []
    for kind in TXN_TYPES:
        linked = [el("IncludeLinkedTxns", "true")] if kind != "SalesReceipt" else []
        out.append(
            rq(
                f"{kind}QueryRq",
                el("MaxReturned", 50),
                el(
                    "ModifiedDateRangeFilter",
                    None,
                    el("FromModifiedDate", "2024-01-01"),
                    el("ToModifiedDate", "2026-01-01T00:00:00"),
                ),
                el("IncludeLineItems", "true"),
                *linked,
                el("OwnerID", "0"),
                iterator="Start",
            )
        )
    out.append(rq("ReceivePaymentQueryRq", el("IncludeLineItems", "true"), iterator="Start"))
    out.append(rq("InvoiceQueryRq", el("PaidStatus", "NotPaidOnly")))
    return out


def test_every_response_type_validates(schema, company) -> None:
    seen: set[str] = set()

    def check(document: str) -> list:
        assert_valid(schema, document)
        out = responses(document)
        for response in out:
            seen.update(child.tag for child in response.iter() if child.tag.endswith("Ret"))
        return out

    check(company.hcp_response())
    first = check(company.process(message_set(*_list_queries(), *_txn_queries())))
    iterator_id = first[0].get("iteratorID")
    check(
        company.process(
            message_set(
                rq(
                    "CustomerQueryRq",
                    el("MaxReturned", 15),
                    iterator="Continue",
                    iteratorID=iterator_id,
                )
            )
        )
    )
    unused = company.add("Customer")
    company.delete("Customer", unused)
    company.delete("Item", company.add("Item", item_type="Inventory"))
    company.delete("Invoice", next(iter(company.data.txns["Invoice"])))
    check(
        company.process(
            message_set(
                rq(
                    "ListDeletedQueryRq",
                    el("ListDelType", "Customer"),
                    el("ListDelType", "ItemInventory"),
                    el("DeletedDateRangeFilter", None, el("FromDeletedDate", "2025-01-01")),
                ),
                rq("TxnDeletedQueryRq", el("TxnDelType", "Invoice")),
                on_error="continueOnError",
            )
        )
    )
    check(
        company.process(
            message_set(
                rq("CustomerAddRq", el("CustomerAdd", None, el("Name", "New & <Improved>"))),
                rq("CustomerAddRq", el("CustomerAdd", None, el("Name", "New & <Improved>"))),
                rq(
                    "CustomerModRq",
                    el(
                        "CustomerMod",
                        None,
                        el("ListID", unused),
                        el("EditSequence", "1"),
                        el("Name", "x"),
                    ),
                ),
                rq(
                    "DataExtDefAddRq",
                    el(
                        "DataExtDefAdd",
                        None,
                        el("OwnerID", OWNER_ID),
                        el("DataExtName", "SyncNote"),
                        el("DataExtType", "STR255TYPE"),
                        el("AssignToObject", "Company"),
                    ),
                ),
                rq(
                    "DataExtAddRq",
                    el(
                        "DataExtAdd",
                        None,
                        el("OwnerID", OWNER_ID),
                        el("DataExtName", "SyncNote"),
                        el("OtherDataExtType", "Company"),
                        el("DataExtValue", "first sync"),
                    ),
                ),
                rq("InvoiceQueryRq", el("MaxReturned", 5), iterator="Continue", iteratorID="{x}"),
                rq("CustomerQueryRq", el("FullName", "Nobody at all")),
                rq("CustomerQueryRq", el("ListID", "1-1")),
                on_error="continueOnError",
            )
        )
    )
    empty = FakeCompany(customers=0, request_schema=schema)
    check(empty.process(message_set(rq("CustomerQueryRq"), rq("InvoiceQueryRq"))))
    assert seen >= EVERY_RET, EVERY_RET - seen


def test_edition_and_feature_answers_validate(schema) -> None:
    pro = FakeCompany(3, edition="Pro", features_off={"estimates", "inventory"})
    pro.request_schema = schema
    assert_valid(schema, pro.hcp_response())
    refused = pro.process(
        message_set(
            rq("SalesOrderQueryRq", el("MaxReturned", 10), iterator="Start"),
            rq("EstimateQueryRq", el("MaxReturned", 10), iterator="Start", request_id="2"),
            on_error="continueOnError",
        )
    )
    assert_valid(schema, refused)
    assert [r.get("statusCode") for r in responses(refused)] == ["3250", "3250"]
