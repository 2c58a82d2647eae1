"""``*Ret`` element -> typed record, table driven.

Each record type has a table from child element name to either the attribute name (plain text,
the common case, kept on a fast path) or ``(attribute, converter, what)``, or a binder whose
handler adds to the values itself (references, addresses, repeating children such as
``DataExtRet`` and lines, or wrappers that are flattened). Attribute names come from
``values.snake`` so they follow the records contract. Children the table does not name are
skipped without being visited. ``qbxml.plans`` compiles the tables and builds the records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from .plans import (
    Binder,
    Fields,
    Handler,
    Table,
    address,
    appender,
    builder,
    compile_table,
    field_positions,
    fill,
    flattener,
    parts,
    ref,
)
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
from .values import BOOLS, parse_custom_field, parse_datetime, snake

# Amounts and dates repeat across the records of a response (quantities, rates, tax rates, zero
# balances, the day's transactions), and making a Decimal costs as much as reading its element:
# equal text gives an equal, immutable value, so recent ones are reused (a bounded cache in C).
_TEXT_CONVERTERS: tuple[tuple[Callable[[str], Any], str], ...] = (
    (parse_datetime, "datetime"),
    (lru_cache(maxsize=256)(date.fromisoformat), "date"),
    (lru_cache(maxsize=256)(Decimal), "number"),
    (BOOLS.__getitem__, "boolean"),
    (int, "integer"),
)


def table(
    text: Iterable[str] = (),
    datetimes: Iterable[str] = (),
    dates: Iterable[str] = (),
    decimals: Iterable[str] = (),
    bools: Iterable[str] = (),
    ints: Iterable[str] = (),
    refs: Iterable[str] = (),
    addresses: Iterable[str] = (),
    handlers: dict[str, Binder] | None = None,
) -> Table:
    """A conversion table from element names grouped by value type."""
    out: Table = {tag: snake(tag) for tag in text}
    for tags, (convert, what) in zip(
        (datetimes, dates, decimals, bools, ints), _TEXT_CONVERTERS, strict=True
    ):
        for tag in tags:
            out[tag] = (snake(tag), convert, what)
    for tag in refs:
        out[tag] = ref(snake(tag))
    for tag in addresses:
        out[tag] = address(snake(tag))
    out.update(handlers or {})
    return out


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


_linked_txns = parts("linked_txns", LinkedTxn, LINKED_TXN)


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


_add_line = parts("lines", TxnLine, LINE)


def _line_group_handler(line_tag: str) -> Binder:
    fields, template, _ = field_positions(TxnLineGroup)
    # The group's component lines are gathered in one more position, after its own fields.
    lines_at = len(template)
    specs = compile_table({**LINE_GROUP, line_tag: _add_line}, {**fields, "lines": lines_at})
    template.append(None)

    def bind(txn_fields: Fields) -> Handler:
        lines_position = txn_fields["lines"]
        groups_position = txn_fields["line_groups"]

        def handle(child: Any, values: list[Any]) -> None:
            group_values = fill(child, specs, template.copy())
            components: list[TxnLine] = group_values.pop() or []
            group = TxnLineGroup(*group_values)
            for line in components:
                line.group_line_id = group.txn_line_id
            groups = values[groups_position]
            if groups.__class__ is list:
                groups.append(group)
            else:
                values[groups_position] = [group]
            lines = values[lines_position]
            if lines.__class__ is list:
                lines.extend(components)
            else:
                values[lines_position] = components

        return handle

    return bind


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
            "LinkedTxn": _linked_txns,
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
    handlers={"LinkedTxn": _linked_txns},
)


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
        "AppliedToTxnRet": parts("applied_to_txns", AppliedToTxn, APPLIED_TO_TXN),
    },
)

# --- *Ret tag -> record --------------------------------------------------------------------------


RET_BUILDERS: dict[str, Callable[[Any], Record]] = {
    "CustomerRet": builder(Customer, CUSTOMER, "list_id"),
    "VendorRet": builder(Vendor, VENDOR, "list_id"),
    **{tag: builder(Item, ITEM, "list_id", item_type=kind) for tag, kind in ITEM_TYPES.items()},
    "StandardTermsRet": builder(Terms, TERMS, "list_id", terms_type="Standard"),
    "DateDrivenTermsRet": builder(Terms, TERMS, "list_id", terms_type="DateDriven"),
    "SalesRepRet": builder(SalesRep, SALES_REP, "list_id"),
    "ClassRet": builder(Class, CLASS, "list_id"),
    "InvoiceRet": builder(Invoice, INVOICE, "txn_id"),
    "EstimateRet": builder(Estimate, ESTIMATE, "txn_id"),
    "SalesOrderRet": builder(SalesOrder, SALES_ORDER, "txn_id"),
    "SalesReceiptRet": builder(SalesReceipt, SALES_RECEIPT, "txn_id"),
    "CreditMemoRet": builder(CreditMemo, CREDIT_MEMO, "txn_id"),
    "ReceivePaymentRet": builder(ReceivePayment, RECEIVE_PAYMENT, "txn_id"),
    "ListDeletedRet": builder(ListDeleted, LIST_DELETED, "list_id"),
    "TxnDeletedRet": builder(TxnDeleted, TXN_DELETED, "txn_id"),
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
