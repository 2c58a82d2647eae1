"""``*Ret`` element -> typed record, table driven.

Each record type has a table from child element name to either the attribute name (plain text,
the common case, kept on a fast path) or ``(attribute, converter)``, or a handler that adds to
the values itself (repeating children such as ``DataExtRet`` and lines, or wrappers that are
flattened). Attribute names come from ``values.snake`` so they follow the records contract.
Children the table does not name are skipped without being visited.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import QbxmlError
from .records import (
    ITEM_TYPES,
    AppliedToTxn,
    Class,
    CreditMemo,
    Customer,
    Estimate,
    GenericRecord,
    Invoice,
    Item,
    LinkedTxn,
    ListDeleted,
    ReceivePayment,
    Record,
    SalesOrder,
    SalesReceipt,
    SalesRep,
    Terms,
    TxnDeleted,
    TxnLine,
    TxnLineGroup,
    Vendor,
)
from .values import (
    el_bool,
    el_date,
    el_datetime,
    el_decimal,
    el_int,
    parse_address,
    parse_custom_field,
    parse_ref,
    snake,
)

Handler = Callable[[Any, dict[str, Any]], None]
Spec = str | tuple[str, Callable[[Any], Any]] | Handler
Table = dict[str, Spec]


def table(
    text: Iterable[str] = (),
    datetimes: Iterable[str] = (),
    dates: Iterable[str] = (),
    decimals: Iterable[str] = (),
    bools: Iterable[str] = (),
    ints: Iterable[str] = (),
    refs: Iterable[str] = (),
    addresses: Iterable[str] = (),
    handlers: dict[str, Handler] | None = None,
) -> Table:
    """A conversion table from element names grouped by value type."""
    out: Table = {tag: snake(tag) for tag in text}
    for tags, conv in (
        (datetimes, el_datetime),
        (dates, el_date),
        (decimals, el_decimal),
        (bools, el_bool),
        (ints, el_int),
        (refs, parse_ref),
        (addresses, parse_address),
    ):
        for tag in tags:
            out[tag] = (snake(tag), conv)
    out.update(handlers or {})
    return out


def fill(el: Any, spec_table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """Convert the children of ``el`` named in ``spec_table`` into ``values``."""
    get = spec_table.get
    for child in el:
        spec = get(child.tag)
        # Plain text is by far the most common field, so it is tested first.
        if spec.__class__ is str:
            values[spec] = child.text or ""  # type: ignore[index]  # present but empty: ""
        elif spec is not None:
            if spec.__class__ is tuple:
                values[spec[0]] = spec[1](child)  # type: ignore[index]
            else:
                spec(child, values)  # type: ignore[operator]
    return values


def appender(attr: str, convert: Callable[[Any], Any]) -> Handler:
    """A handler that appends ``convert(child)`` to the list ``values[attr]``."""

    def handle(child: Any, values: dict[str, Any]) -> None:
        items = values.get(attr)
        if items is None:
            values[attr] = [convert(child)]
        else:
            items.append(convert(child))

    return handle


def flattener(inner: Table) -> Handler:
    """A handler that converts a wrapper element's children into the enclosing record."""

    def handle(child: Any, values: dict[str, Any]) -> None:
        fill(child, inner, values)

    return handle


CUSTOM_FIELDS = {"DataExtRet": appender("custom_fields", parse_custom_field)}
_HEAD = {"datetimes": ("TimeCreated", "TimeModified")}
_LIST_HEAD_TEXT = ("ListID", "EditSequence")

# --- lists ---------------------------------------------------------------------------------------

CUSTOMER = table(
    text=(
        *_LIST_HEAD_TEXT,
        *("Name", "FullName", "CompanyName", "Salutation", "FirstName", "MiddleName"),
        *("LastName", "JobTitle", "Phone", "AltPhone", "Fax", "Email", "Cc", "Contact"),
        *("AltContact", "ResaleNumber", "AccountNumber", "JobStatus", "JobDesc", "Notes"),
        *("PreferredDeliveryMethod", "ExternalGUID"),
    ),
    **_HEAD,
    dates=("JobStartDate", "JobProjectedEndDate", "JobEndDate"),
    decimals=("Balance", "TotalBalance", "CreditLimit"),
    bools=("IsActive",),
    ints=("Sublevel",),
    refs=(
        *("ClassRef", "ParentRef", "CustomerTypeRef", "TermsRef", "SalesRepRef"),
        *("SalesTaxCodeRef", "ItemSalesTaxRef", "PreferredPaymentMethodRef", "JobTypeRef"),
        *("PriceLevelRef", "CurrencyRef"),
    ),
    addresses=("BillAddress", "ShipAddress"),
    handlers=CUSTOM_FIELDS,
)

VENDOR = table(
    text=(
        *_LIST_HEAD_TEXT,
        *("Name", "CompanyName", "Salutation", "FirstName", "MiddleName", "LastName"),
        *("JobTitle", "Phone", "AltPhone", "Fax", "Email", "Cc", "Contact", "AltContact"),
        *("NameOnCheck", "AccountNumber", "Notes", "VendorTaxIdent", "ExternalGUID"),
    ),
    **_HEAD,
    decimals=("CreditLimit", "Balance"),
    bools=("IsActive", "IsVendorEligibleFor1099"),
    refs=("ClassRef", "VendorTypeRef", "TermsRef", "CurrencyRef"),
    addresses=("VendorAddress", "ShipAddress"),
    handlers=CUSTOM_FIELDS,
)

_ITEM_SIDES = table(
    text=("Desc", "SalesDesc", "PurchaseDesc"),
    decimals=("Price", "PricePercent", "SalesPrice", "PurchaseCost"),
    refs=(
        *("AccountRef", "IncomeAccountRef", "PurchaseTaxCodeRef", "ExpenseAccountRef"),
        "PrefVendorRef",
    ),
)

ITEM = table(
    text=(
        *_LIST_HEAD_TEXT,
        *("Name", "FullName", "BarCodeValue", "ManufacturerPartNumber", "ItemDesc"),
        *("SalesDesc", "PurchaseDesc", "SpecialItemType", "ExternalGUID"),
    ),
    **_HEAD,
    decimals=(
        *("SalesPrice", "PurchaseCost", "ReorderPoint", "Max", "QuantityOnHand"),
        *("AverageCost", "QuantityOnOrder", "QuantityOnSalesOrder", "DiscountRate"),
        *("DiscountRatePercent", "TaxRate"),
    ),
    bools=("IsActive", "IsTaxIncluded"),
    ints=("Sublevel",),
    refs=(
        *("ClassRef", "ParentRef", "UnitOfMeasureSetRef", "SalesTaxCodeRef", "AccountRef"),
        *("IncomeAccountRef", "PurchaseTaxCodeRef", "COGSAccountRef", "PrefVendorRef"),
        *("AssetAccountRef", "TaxVendorRef", "DepositToAccountRef", "PaymentMethodRef"),
    ),
    handlers={
        **CUSTOM_FIELDS,
        "SalesOrPurchase": flattener(_ITEM_SIDES),
        "SalesAndPurchase": flattener(_ITEM_SIDES),
    },
)

TERMS = table(
    text=(*_LIST_HEAD_TEXT, "Name"),
    **_HEAD,
    decimals=("DiscountPct",),
    bools=("IsActive",),
    ints=(
        *("StdDueDays", "StdDiscountDays", "DayOfMonthDue", "DueNextMonthDays"),
        "DiscountDayOfMonth",
    ),
)

SALES_REP = table(
    text=(*_LIST_HEAD_TEXT, "Initial"),
    **_HEAD,
    bools=("IsActive",),
    refs=("SalesRepEntityRef",),
)

CLASS = table(
    text=(*_LIST_HEAD_TEXT, "Name", "FullName"),
    **_HEAD,
    bools=("IsActive",),
    ints=("Sublevel",),
    refs=("ParentRef",),
)

LIST_DELETED = table(
    text=("ListDelType", "ListID", "FullName"), datetimes=("TimeCreated", "TimeDeleted")
)
TXN_DELETED = table(
    text=("TxnDelType", "TxnID", "RefNumber"), datetimes=("TimeCreated", "TimeDeleted")
)

# --- transactions --------------------------------------------------------------------------------

LINKED_TXN = table(
    text=("TxnID", "TxnType", "RefNumber", "LinkType"),
    dates=("TxnDate",),
    decimals=("Amount",),
)


def _linked_txn(el: Any) -> LinkedTxn:
    return LinkedTxn(**fill(el, LINKED_TXN, {}))


LINE = table(
    text=("TxnLineID", "Desc", "UnitOfMeasure", "SerialNumber", "LotNumber", "Other1", "Other2"),
    dates=("ServiceDate",),
    decimals=(
        *("Quantity", "Rate", "RatePercent", "Amount", "MarkupRate", "MarkupRatePercent"),
        "Invoiced",
    ),
    bools=("IsManuallyClosed",),
    refs=("ItemRef", "ClassRef", "InventorySiteRef", "SalesTaxCodeRef", "PriceLevelRef"),
    handlers=CUSTOM_FIELDS,
)

LINE_GROUP = table(
    text=("TxnLineID", "Desc", "UnitOfMeasure"),
    decimals=("Quantity", "TotalAmount"),
    bools=("IsPrintItemsInGroup",),
    refs=("ItemGroupRef",),
    handlers=CUSTOM_FIELDS,
)


def _add_line(child: Any, values: dict[str, Any]) -> None:
    line = TxnLine(**fill(child, LINE, {}))
    lines = values.get("lines")
    if lines is None:
        values["lines"] = [line]
    else:
        lines.append(line)


def _line_group_handler(line_tag: str) -> Handler:
    group_table: Table = {**LINE_GROUP, line_tag: _add_line}

    def handle(child: Any, values: dict[str, Any]) -> None:
        group_values = fill(child, group_table, {})
        components: list[TxnLine] = group_values.pop("lines", [])
        group = TxnLineGroup(**group_values)
        for line in components:
            line.group_line_id = group.txn_line_id
        values.setdefault("line_groups", []).append(group)
        values.setdefault("lines", []).extend(components)

    return handle


def sales_txn_table(prefix: str, **extra: Iterable[str]) -> Table:
    """The table of one sales form; ``prefix`` names its lines (``Invoice`` -> InvoiceLineRet)."""
    line_tag = f"{prefix}LineRet"
    return table(
        text=(
            *("TxnID", "EditSequence", "RefNumber", "PONumber", "FOB", "Memo", "Other"),
            "ExternalGUID",
            *extra.get("text", ()),
        ),
        **_HEAD,
        dates=("TxnDate", "DueDate", "ShipDate", *extra.get("dates", ())),
        decimals=(
            *("Subtotal", "SalesTaxPercentage", "SalesTaxTotal", "ExchangeRate"),
            *extra.get("decimals", ()),
        ),
        bools=(
            *("IsToBePrinted", "IsToBeEmailed", "IsTaxIncluded"),
            *extra.get("bools", ()),
        ),
        ints=("TxnNumber",),
        refs=(
            *("CustomerRef", "ClassRef", "TemplateRef", "TermsRef", "SalesRepRef"),
            *("ShipMethodRef", "ItemSalesTaxRef", "CurrencyRef", "CustomerMsgRef"),
            "CustomerSalesTaxCodeRef",
            *extra.get("refs", ()),
        ),
        addresses=("BillAddress", "ShipAddress"),
        handlers={
            **CUSTOM_FIELDS,
            "LinkedTxn": appender("linked_txns", _linked_txn),
            line_tag: _add_line,
            f"{prefix}LineGroupRet": _line_group_handler(line_tag),
        },
    )


INVOICE = sales_txn_table(
    "Invoice",
    decimals=(
        *("AppliedAmount", "BalanceRemaining", "BalanceRemainingInHomeCurrency"),
        "SuggestedDiscountAmount",
    ),
    dates=("SuggestedDiscountDate",),
    bools=("IsPending", "IsFinanceCharge", "IsPaid"),
    refs=("ARAccountRef",),
)
ESTIMATE = sales_txn_table(
    "Estimate", decimals=("TotalAmount", "TotalAmountInHomeCurrency"), bools=("IsActive",)
)
SALES_ORDER = sales_txn_table(
    "SalesOrder",
    decimals=("TotalAmount", "TotalAmountInHomeCurrency"),
    bools=("IsManuallyClosed", "IsFullyInvoiced"),
)
SALES_RECEIPT = sales_txn_table(
    "SalesReceipt",
    text=("CheckNumber",),
    decimals=("TotalAmount", "TotalAmountInHomeCurrency"),
    bools=("IsPending",),
    refs=("PaymentMethodRef", "DepositToAccountRef"),
)
CREDIT_MEMO = sales_txn_table(
    "CreditMemo",
    decimals=("TotalAmount", "CreditRemaining", "CreditRemainingInHomeCurrency"),
    bools=("IsPending",),
    refs=("ARAccountRef",),
)

APPLIED_TO_TXN = table(
    text=("TxnID", "TxnType", "RefNumber"),
    dates=("TxnDate",),
    decimals=("BalanceRemaining", "Amount", "DiscountAmount"),
    refs=("DiscountAccountRef", "DiscountClassRef"),
    handlers={"LinkedTxn": appender("linked_txns", _linked_txn)},
)


def _applied_to_txn(el: Any) -> AppliedToTxn:
    return AppliedToTxn(**fill(el, APPLIED_TO_TXN, {}))


RECEIVE_PAYMENT = table(
    text=("TxnID", "EditSequence", "RefNumber", "Memo", "ExternalGUID"),
    **_HEAD,
    dates=("TxnDate",),
    decimals=(
        *("TotalAmount", "ExchangeRate", "TotalAmountInHomeCurrency", "UnusedPayment"),
        "UnusedCredits",
    ),
    ints=("TxnNumber",),
    refs=("CustomerRef", "ARAccountRef", "CurrencyRef", "PaymentMethodRef", "DepositToAccountRef"),
    handlers={
        **CUSTOM_FIELDS,
        "AppliedToTxnRet": appender("applied_to_txns", _applied_to_txn),
    },
)

# --- *Ret tag -> record --------------------------------------------------------------------------


def _builder(cls: type, spec_table: Table, id_attr: str, **fixed: str) -> Callable[[Any], Any]:
    def build(el: Any) -> Any:
        values = fill(el, spec_table, dict(fixed))
        if not values.get(id_attr):
            raise QbxmlError(f"<{el.tag}> has no {'TxnID' if id_attr == 'txn_id' else 'ListID'}")
        return cls(**values)

    return build


RET_BUILDERS: dict[str, Callable[[Any], Record]] = {
    "CustomerRet": _builder(Customer, CUSTOMER, "list_id"),
    "VendorRet": _builder(Vendor, VENDOR, "list_id"),
    **{tag: _builder(Item, ITEM, "list_id", item_type=kind) for tag, kind in ITEM_TYPES.items()},
    "StandardTermsRet": _builder(Terms, TERMS, "list_id", terms_type="Standard"),
    "DateDrivenTermsRet": _builder(Terms, TERMS, "list_id", terms_type="DateDriven"),
    "SalesRepRet": _builder(SalesRep, SALES_REP, "list_id"),
    "ClassRet": _builder(Class, CLASS, "list_id"),
    "InvoiceRet": _builder(Invoice, INVOICE, "txn_id"),
    "EstimateRet": _builder(Estimate, ESTIMATE, "txn_id"),
    "SalesOrderRet": _builder(SalesOrder, SALES_ORDER, "txn_id"),
    "SalesReceiptRet": _builder(SalesReceipt, SALES_RECEIPT, "txn_id"),
    "CreditMemoRet": _builder(CreditMemo, CREDIT_MEMO, "txn_id"),
    "ReceivePaymentRet": _builder(ReceivePayment, RECEIVE_PAYMENT, "txn_id"),
    "ListDeletedRet": _builder(ListDeleted, LIST_DELETED, "list_id"),
    "TxnDeletedRet": _builder(TxnDeleted, TXN_DELETED, "txn_id"),
}


def generic_fields(el: Any) -> Any:
    """An element as nested dicts (repeated children become lists; leaves are their text)."""
    if len(el) == 0:
        return el.text or ""
    out: dict[str, Any] = {}
    for child in el:
        value = generic_fields(child)
        tag = child.tag
        if tag in out:
            existing = out[tag]
            out[tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[tag] = value
    return out


def parse_record(el: Any) -> Record:
    """Convert one ``*Ret`` element into its canonical record."""
    build = RET_BUILDERS.get(el.tag)
    if build is not None:
        return build(el)
    fields = generic_fields(el)
    return GenericRecord(kind=el.tag, fields=fields if isinstance(fields, dict) else {})
