"""Test helpers for the qbXML library: Intuit's XSD, the captured samples, a record serializer.

``ret_element`` writes a record back as the ``*Ret`` element QuickBooks would send, in schema
order, so round-trip tests can go record -> qbXML -> ``parse_response`` -> record and the
generated responses can themselves be checked against the XSD.
"""

from __future__ import annotations

import functools
import os
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from qbxml import (
    Address,
    CustomField,
    ReceivePayment,
    Ref,
)
from qbxml.records import AppliedToTxn, LinkedTxn, TxnLine, TxnLineGroup
from qbxml.values import snake
from tests.conftest import shared_path

SOAP_RESPONSE = "{http://developer.intuit.com/}response"


@functools.cache
def _schema() -> etree.XMLSchema | None:
    directory = os.environ.get("QBXML_XSD_DIR")
    path = Path(directory) if directory else shared_path("QBXML_XSD_DIR", "reference/qbxml/13.0")
    if path is None or not (path / "qbxmlops130.xsd").exists():
        return None
    return etree.XMLSchema(etree.parse(str(path / "qbxmlops130.xsd")))


def schema_or_skip() -> etree.XMLSchema:
    """Intuit's qbXML 13.0 schema, or skip the test with the reason."""
    schema = _schema()
    if schema is None:
        pytest.skip("QBXML_XSD_DIR is not set and ../shared/reference/qbxml/13.0 is absent")
    return schema


def validate(schema: etree.XMLSchema, document: str | bytes) -> None:
    """Assert that a qbXML document (declarations included) is valid; show the first error."""
    text = document.decode() if isinstance(document, bytes) else document
    body = text[text.index("<QBXML>") :]
    ok = schema.validate(etree.fromstring(body.encode("utf-8")))
    assert ok, schema.error_log.last_error


def samples_or_skip() -> Path:
    """The captured responses folder, or skip the test with the reason."""
    samples = shared_path("QBXML_SAMPLES_DIR", "reference/samples")
    if samples is None:
        pytest.skip("QBXML_SAMPLES_DIR is not set and ../shared/reference/samples is absent")
    return samples


def soap_response_text(path: Path) -> str:
    """The qbXML carried (escaped) in the ``<response>`` of a receiveResponseXML SOAP body."""
    root = etree.parse(str(path)).getroot()
    (response,) = root.iter(SOAP_RESPONSE)
    return response.text


# --- record -> *Ret XML ------------------------------------------------------------------------

# Children of each *Ret in schema order (qbxmlops130.xsd); only the ones the records carry.
RET_ORDER: dict[str, tuple[str, ...]] = {
    "CustomerRet": (
        *("ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName"),
        *("IsActive", "ClassRef", "ParentRef", "Sublevel", "CompanyName", "Salutation"),
        *("FirstName", "MiddleName", "LastName", "JobTitle", "BillAddress", "ShipAddress"),
        *("Phone", "AltPhone", "Fax", "Email", "Cc", "Contact", "AltContact"),
        *("CustomerTypeRef", "TermsRef", "SalesRepRef", "Balance", "TotalBalance"),
        *("SalesTaxCodeRef", "ItemSalesTaxRef", "ResaleNumber", "AccountNumber"),
        *("CreditLimit", "PreferredPaymentMethodRef", "JobStatus", "JobStartDate"),
        *("JobProjectedEndDate", "JobEndDate", "JobDesc", "JobTypeRef", "Notes"),
        *("PreferredDeliveryMethod", "PriceLevelRef", "ExternalGUID", "CurrencyRef"),
    ),
    "VendorRet": (
        *("ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "IsActive"),
        *("ClassRef", "CompanyName", "Salutation", "FirstName", "MiddleName", "LastName"),
        *("JobTitle", "VendorAddress", "ShipAddress", "Phone", "AltPhone", "Fax", "Email"),
        *("Cc", "Contact", "AltContact", "NameOnCheck", "AccountNumber", "Notes"),
        *("VendorTypeRef", "TermsRef", "CreditLimit", "VendorTaxIdent"),
        *("IsVendorEligibleFor1099", "Balance", "ExternalGUID", "CurrencyRef"),
    ),
    "ItemServiceRet": (
        *("ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName"),
        *("BarCodeValue", "IsActive", "ClassRef", "ParentRef", "Sublevel"),
        *("UnitOfMeasureSetRef", "IsTaxIncluded", "SalesTaxCodeRef", "SalesOrPurchase"),
        *("SalesAndPurchase", "ExternalGUID"),
    ),
    "ItemInventoryRet": (
        *("ListID", "TimeCreated", "TimeModified", "EditSequence", "Name", "FullName"),
        *("BarCodeValue", "IsActive", "ClassRef", "ParentRef", "Sublevel"),
        *("ManufacturerPartNumber", "UnitOfMeasureSetRef", "IsTaxIncluded", "SalesTaxCodeRef"),
        *("SalesDesc", "SalesPrice", "IncomeAccountRef", "PurchaseDesc", "PurchaseCost"),
        *("PurchaseTaxCodeRef", "COGSAccountRef", "PrefVendorRef", "AssetAccountRef"),
        *("ReorderPoint", "Max", "QuantityOnHand", "AverageCost", "QuantityOnOrder"),
        *("QuantityOnSalesOrder", "ExternalGUID"),
    ),
    "InvoiceRet": (
        *("TxnID", "TimeCreated", "TimeModified", "EditSequence", "TxnNumber", "CustomerRef"),
        *("ClassRef", "ARAccountRef", "TemplateRef", "TxnDate", "RefNumber", "BillAddress"),
        *("ShipAddress", "IsPending", "IsFinanceCharge", "PONumber", "TermsRef", "DueDate"),
        *("SalesRepRef", "FOB", "ShipDate", "ShipMethodRef", "Subtotal", "ItemSalesTaxRef"),
        *("SalesTaxPercentage", "SalesTaxTotal", "AppliedAmount", "BalanceRemaining"),
        *("CurrencyRef", "ExchangeRate", "BalanceRemainingInHomeCurrency", "Memo", "IsPaid"),
        *("CustomerMsgRef", "IsToBePrinted", "IsToBeEmailed", "IsTaxIncluded"),
        "CustomerSalesTaxCodeRef",
        *("SuggestedDiscountAmount", "SuggestedDiscountDate", "Other", "ExternalGUID"),
    ),
    "ReceivePaymentRet": (
        *("TxnID", "TimeCreated", "TimeModified", "EditSequence", "TxnNumber", "CustomerRef"),
        *("ARAccountRef", "TxnDate", "RefNumber", "TotalAmount", "CurrencyRef"),
        *("ExchangeRate", "TotalAmountInHomeCurrency", "PaymentMethodRef", "Memo"),
        *("DepositToAccountRef", "UnusedPayment", "UnusedCredits", "ExternalGUID"),
    ),
    "ListDeletedRet": ("ListDelType", "ListID", "TimeCreated", "TimeDeleted", "FullName"),
    "TxnDeletedRet": ("TxnDelType", "TxnID", "TimeCreated", "TimeDeleted", "RefNumber"),
    "InvoiceLineRet": (
        *("TxnLineID", "ItemRef", "Desc", "Quantity", "UnitOfMeasure", "Rate", "RatePercent"),
        *("ClassRef", "Amount", "InventorySiteRef", "SerialNumber", "ServiceDate"),
        *("SalesTaxCodeRef", "Other1", "Other2"),
    ),
    "InvoiceLineGroupRet": (
        *("TxnLineID", "ItemGroupRef", "Desc", "Quantity", "UnitOfMeasure"),
        *("IsPrintItemsInGroup", "TotalAmount"),
    ),
    "LinkedTxn": ("TxnID", "TxnType", "TxnDate", "RefNumber", "LinkType", "Amount"),
    "AppliedToTxnRet": (
        *("TxnID", "TxnType", "TxnDate", "RefNumber", "BalanceRemaining", "Amount"),
        *("DiscountAmount", "DiscountAccountRef", "DiscountClassRef"),
    ),
    "SalesOrPurchase": ("Desc", "Price", "PricePercent", "AccountRef"),
    "SalesAndPurchase": (
        *("SalesDesc", "SalesPrice", "IncomeAccountRef", "PurchaseDesc", "PurchaseCost"),
        *("PurchaseTaxCodeRef", "ExpenseAccountRef", "PrefVendorRef"),
    ),
}
ADDRESS_ORDER = (
    *("Addr1", "Addr2", "Addr3", "Addr4", "Addr5", "City", "State", "PostalCode", "Country"),
    "Note",
)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _sub(parent: Any, tag: str, value: Any) -> None:
    if value is None or value == []:
        return
    el = etree.SubElement(parent, tag)
    if isinstance(value, Ref):
        for child, v in (("ListID", value.list_id), ("FullName", value.full_name)):
            if v is not None:
                etree.SubElement(el, child).text = v
    elif isinstance(value, Address):
        for child in ADDRESS_ORDER:
            v = getattr(value, snake(child))
            if v is not None:
                etree.SubElement(el, child).text = v
    else:
        el.text = _text(value)


def _fill(el: Any, tag: str, record: Any) -> None:
    for child in RET_ORDER[tag]:
        if child in ("SalesOrPurchase", "SalesAndPurchase"):
            inner = [getattr(record, snake(t)) for t in RET_ORDER[child]]
            if any(v is not None for v in inner):
                wrapper = etree.SubElement(el, child)
                _fill(wrapper, child, record)
            continue
        _sub(el, child, getattr(record, snake(child)))


def _custom_fields(el: Any, values: list[CustomField]) -> None:
    for cf in values:
        ext = etree.SubElement(el, "DataExtRet")
        _sub(ext, "OwnerID", cf.owner_id)
        _sub(ext, "DataExtName", cf.name)
        _sub(ext, "DataExtType", cf.type)
        _sub(ext, "DataExtValue", cf.value)


def _line(parent: Any, tag: str, line: TxnLine) -> None:
    el = etree.SubElement(parent, tag)
    _fill(el, "InvoiceLineRet", line)
    _custom_fields(el, line.custom_fields)


def _linked(parent: Any, linked: list[LinkedTxn]) -> None:
    for lt in linked:
        _fill(etree.SubElement(parent, "LinkedTxn"), "LinkedTxn", lt)


def ret_element(record: Any, tag: str) -> Any:
    """The ``*Ret`` element for ``record`` (Customer, Vendor, Item, Invoice, ReceivePayment,
    ListDeleted, TxnDeleted), children in schema order."""
    el = etree.Element(tag)
    _fill(el, tag, record)
    if tag == "InvoiceRet":
        _linked(el, record.linked_txns)
        groups = {g.txn_line_id: g for g in record.line_groups}
        done: set[str | None] = set()
        for line in record.lines:
            if line.group_line_id is None:
                _line(el, "InvoiceLineRet", line)
            elif line.group_line_id not in done:
                done.add(line.group_line_id)
                group: TxnLineGroup = groups[line.group_line_id]
                gel = etree.SubElement(el, "InvoiceLineGroupRet")
                _fill(gel, "InvoiceLineGroupRet", group)
                for member in record.lines:
                    if member.group_line_id == group.txn_line_id:
                        _line(gel, "InvoiceLineRet", member)
                _custom_fields(gel, group.custom_fields)
    if isinstance(record, ReceivePayment):
        for applied in record.applied_to_txns:
            ael = etree.SubElement(el, "AppliedToTxnRet")
            _fill(ael, "AppliedToTxnRet", applied)
            _linked(ael, applied.linked_txns)
    if hasattr(record, "custom_fields") and not isinstance(record, AppliedToTxn):
        _custom_fields(el, record.custom_fields)
    return el


def response_document(rs_tag: str, rets: list[Any], request_id: str = "r") -> bytes:
    """A whole qbXML response message set holding ``rets`` in one ``rs_tag`` response."""
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRs")
    rs = etree.SubElement(
        msgs,
        rs_tag,
        requestID=request_id,
        statusCode="0",
        statusSeverity="Info",
        statusMessage="Status OK",
    )
    rs.extend(rets)
    return b'<?xml version="1.0" ?>\n' + etree.tostring(root)


def same_record(a: Any, b: Any) -> None:
    """Assert field-by-field equality, naming the first field that differs."""
    assert type(a) is type(b)
    for f in fields(a):
        left, right = getattr(a, f.name), getattr(b, f.name)
        if is_dataclass(left) and left is not None and right is not None:
            same_record(left, right)
        else:
            assert left == right, f"{type(a).__name__}.{f.name}: {left!r} != {right!r}"
