"""qbXML ``*Ret`` elements and ``*Rs`` envelopes, written as text in the 13.0 schema's order.

Text is built directly (no tree) so a page of a large query costs little; every value goes
through ``esc``. Each Ret is assembled from (element name, fragment) pairs so that
``IncludeRetElement`` can keep just the top-level elements asked for, as QuickBooks does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal

from .company_data import ACCOUNTS, SALES_TAX_CODES, CompanyData
from .company_records import (
    ZERO,
    DataExtDef,
    SimAddress,
    SimClass,
    SimCustomer,
    SimDeleted,
    SimItem,
    SimLine,
    SimSalesRep,
    SimTerms,
    SimTxn,
    SimVendor,
)

_ADDRESS_TAGS = (
    ("Addr1", "addr1"),
    ("Addr2", "addr2"),
    ("Addr3", "addr3"),
    ("Addr4", "addr4"),
    ("Addr5", "addr5"),
    ("City", "city"),
    ("State", "state"),
    ("PostalCode", "postal_code"),
    ("Country", "country"),
    ("Note", "note"),
)


def esc(text: str) -> str:
    """Element text escaped for XML."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc_attr(text: str) -> str:
    """Attribute text escaped for XML (double-quoted)."""
    return esc(text).replace('"', "&quot;")


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def quantity(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True, slots=True)
class WriteOptions:
    """What a query asked to have in each Ret."""

    include: frozenset[str] | None = None  # IncludeRetElement; None = everything
    owners: frozenset[str] = frozenset()  # OwnerIDs whose DataExtRet to return (upper case)
    lines: bool = True  # IncludeLineItems
    linked: bool = False  # IncludeLinkedTxns


class Ret:
    """The top-level children of one ``*Ret`` element, in order."""

    __slots__ = ("data", "parts")

    def __init__(self, data: CompanyData) -> None:
        self.data = data
        self.parts: list[tuple[str, str]] = []

    def text(self, tag: str, value: str | None) -> None:
        if value is not None:
            self.parts.append((tag, f"<{tag}>{esc(value)}</{tag}>"))

    def money(self, tag: str, value: Decimal | None) -> None:
        if value is not None:
            self.parts.append((tag, f"<{tag}>{value:.2f}</{tag}>"))

    def quantity(self, tag: str, value: Decimal | None) -> None:
        if value is not None:
            self.parts.append((tag, f"<{tag}>{quantity(value)}</{tag}>"))

    def boolean(self, tag: str, value: bool | None) -> None:
        if value is not None:
            self.parts.append((tag, f"<{tag}>{'true' if value else 'false'}</{tag}>"))

    def date(self, tag: str, value: date | None) -> None:
        if value is not None:
            self.parts.append((tag, f"<{tag}>{value.isoformat()}</{tag}>"))

    def time(self, tag: str, value: datetime) -> None:
        self.parts.append((tag, f"<{tag}>{self.data.workstation.format(value)}</{tag}>"))

    def ref(self, tag: str, entity: str, list_id: str | None) -> None:
        if list_id is not None:
            self.parts.append((tag, ref_xml(tag, list_id, self.data.ref_name(entity, list_id))))

    def address(self, tag: str, address: SimAddress | None) -> None:
        inner = address_xml(address)
        if inner:
            self.parts.append((tag, f"<{tag}>{inner}</{tag}>"))

    def raw(self, tag: str, xml: str) -> None:
        self.parts.append((tag, xml))

    def list_core(self, record: ListRecordLike) -> None:
        self.text("ListID", record.list_id)
        self.time("TimeCreated", record.time_created)
        self.time("TimeModified", record.time_modified)
        self.text("EditSequence", record.edit_sequence)

    def data_ext(self, object_key: str, owners: frozenset[str]) -> None:
        for definition, value in self.data.data_ext(object_key, set(owners)):
            self.parts.append(("DataExtRet", data_ext_xml(definition, value)))

    def render(self, tag: str, include: frozenset[str] | None = None) -> str:
        if include is None:
            body = "".join(xml for _, xml in self.parts)
        else:
            body = "".join(xml for name, xml in self.parts if name in include)
        return f"<{tag}>{body}</{tag}>"


ListRecordLike = SimCustomer | SimVendor | SimItem | SimTerms | SimSalesRep | SimClass


def ref_xml(tag: str, list_id: str | None, full_name: str | None) -> str:
    inner = f"<ListID>{esc(list_id)}</ListID>" if list_id is not None else ""
    if full_name is not None:
        inner += f"<FullName>{esc(full_name)}</FullName>"
    return f"<{tag}>{inner}</{tag}>"


def address_xml(address: SimAddress | None) -> str:
    if address is None:
        return ""
    out = []
    for tag, name in _ADDRESS_TAGS:
        value = getattr(address, name)
        if value is not None:
            out.append(f"<{tag}>{esc(value)}</{tag}>")
    return "".join(out)


def data_ext_xml(definition: DataExtDef, value: str) -> str:
    return (
        f"<DataExtRet><OwnerID>{esc(definition.owner_id)}</OwnerID>"
        f"<DataExtName>{esc(definition.name)}</DataExtName>"
        f"<DataExtType>{definition.ext_type}</DataExtType>"
        f"<DataExtValue>{esc(value)}</DataExtValue></DataExtRet>"
    )


def tax_code_ref(tag: str, code: str | None) -> tuple[str, str] | None:
    if code is None or code not in SALES_TAX_CODES:
        return None
    return tag, ref_xml(tag, SALES_TAX_CODES[code], code)


# --- lists -----------------------------------------------------------------------------------


def customer_ret(data: CompanyData, c: SimCustomer, opts: WriteOptions) -> str:
    r = Ret(data)
    r.list_core(c)
    r.text("Name", c.name)
    r.text("FullName", data.full_name(c))
    r.boolean("IsActive", c.is_active)
    r.ref("ClassRef", "Class", c.class_id)
    r.ref("ParentRef", "Customer", c.parent_id)
    r.text("Sublevel", str(len(data.ancestors(c))))
    r.text("CompanyName", c.company_name)
    r.text("Salutation", c.salutation)
    r.text("FirstName", c.first_name)
    r.text("MiddleName", c.middle_name)
    r.text("LastName", c.last_name)
    r.text("JobTitle", c.job_title)
    r.address("BillAddress", replace(c.bill_address or SimAddress(), city=c.city, state=c.state))
    r.address("ShipAddress", c.ship_address)
    r.text("Phone", c.phone)
    r.text("AltPhone", c.alt_phone)
    r.text("Fax", c.fax)
    r.text("Email", c.email)
    r.text("Cc", c.cc)
    r.text("Contact", c.contact)
    r.text("AltContact", c.alt_contact)
    r.ref("TermsRef", "Terms", c.terms_id)
    r.ref("SalesRepRef", "SalesRep", c.sales_rep_id)
    r.money("Balance", c.balance)
    r.money("TotalBalance", data.total_balance(c))
    tax = tax_code_ref("SalesTaxCodeRef", c.sales_tax_code)
    if tax:
        r.raw(*tax)
    r.text("AccountNumber", c.account_number)
    r.money("CreditLimit", c.credit_limit)
    r.text("JobStatus", c.job_status)
    r.text("Notes", c.notes)
    r.data_ext(c.list_id, opts.owners)
    return r.render("CustomerRet", opts.include)


def vendor_ret(data: CompanyData, v: SimVendor, opts: WriteOptions) -> str:
    r = Ret(data)
    r.list_core(v)
    r.text("Name", v.name)
    r.boolean("IsActive", v.is_active)
    r.text("CompanyName", v.company_name)
    r.text("FirstName", v.first_name)
    r.text("LastName", v.last_name)
    r.address("VendorAddress", v.address)
    r.text("Phone", v.phone)
    r.text("Fax", v.fax)
    r.text("Email", v.email)
    r.text("Contact", v.contact)
    r.text("NameOnCheck", v.name_on_check)
    r.text("AccountNumber", v.account_number)
    r.text("Notes", v.notes)
    r.ref("TermsRef", "Terms", v.terms_id)
    r.money("CreditLimit", v.credit_limit)
    r.text("VendorTaxIdent", v.tax_ident)
    r.boolean("IsVendorEligibleFor1099", v.is_1099)
    r.money("Balance", v.balance)
    r.data_ext(v.list_id, opts.owners)
    return r.render("VendorRet", opts.include)


def item_ret(data: CompanyData, item: SimItem, opts: WriteOptions) -> str:
    """An ``Item<Type>Ret``: each item type has its own element and layout."""
    r = Ret(data)
    r.list_core(item)
    r.text("Name", item.name)
    kind = item.item_type
    if kind != "Subtotal":
        r.text("FullName", data.full_name(item))
    r.boolean("IsActive", item.is_active)
    if kind == "Subtotal":
        r.text("ItemDesc", item.desc)
        r.data_ext(item.list_id, opts.owners)
        return r.render("ItemSubtotalRet", opts.include)
    r.ref("ParentRef", "Item", item.parent_id)
    r.text("Sublevel", str(len(data.ancestors(item))))
    if kind == "Discount":
        r.text("ItemDesc", item.desc)
        _tax(r, item.sales_tax_code)
        if item.price_percent is not None:
            r.text("DiscountRatePercent", f"{item.price_percent:.2f}")
        else:
            r.money("DiscountRate", item.price)
        r.ref("AccountRef", "Account", item.account_id)
    elif kind == "Inventory":
        r.text("ManufacturerPartNumber", item.manufacturer_part_number)
        _tax(r, item.sales_tax_code)
        r.text("SalesDesc", item.desc)
        r.money("SalesPrice", item.price)
        r.ref("IncomeAccountRef", "Account", item.account_id)
        r.text("PurchaseDesc", item.purchase_desc)
        r.money("PurchaseCost", item.purchase_cost)
        r.ref("COGSAccountRef", "Account", item.expense_account_id)
        r.ref("PrefVendorRef", "Vendor", item.pref_vendor_id)
        r.ref("AssetAccountRef", "Account", item.asset_account_id)
        r.quantity("ReorderPoint", item.reorder_point)
        r.quantity("QuantityOnHand", item.quantity_on_hand)
        r.money("AverageCost", item.average_cost)
        r.quantity("QuantityOnOrder", item.quantity_on_order)
        r.quantity("QuantityOnSalesOrder", item.quantity_on_sales_order)
    else:
        if kind == "NonInventory":
            r.text("ManufacturerPartNumber", item.manufacturer_part_number)
        _tax(r, item.sales_tax_code)
        r.raw(*_sales_purchase(data, item))
    r.data_ext(item.list_id, opts.owners)
    return r.render(f"Item{kind}Ret", opts.include)


def _tax(r: Ret, code: str | None) -> None:
    tax = tax_code_ref("SalesTaxCodeRef", code)
    if tax:
        r.raw(*tax)


def _sales_purchase(data: CompanyData, item: SimItem) -> tuple[str, str]:
    """SalesOrPurchase (one side) or SalesAndPurchase (bought and sold)."""
    if item.purchase_cost is None and item.purchase_desc is None:
        inner = f"<Desc>{esc(item.desc)}</Desc>" if item.desc is not None else ""
        if item.price_percent is not None:
            inner += f"<PricePercent>{item.price_percent:.2f}</PricePercent>"
        elif item.price is not None:
            inner += f"<Price>{money(item.price)}</Price>"
        if item.account_id is not None:
            inner += ref_xml(
                "AccountRef", item.account_id, data.ref_name("Account", item.account_id)
            )
        return "SalesOrPurchase", f"<SalesOrPurchase>{inner}</SalesOrPurchase>"
    parts = []
    if item.desc is not None:
        parts.append(f"<SalesDesc>{esc(item.desc)}</SalesDesc>")
    if item.price is not None:
        parts.append(f"<SalesPrice>{money(item.price)}</SalesPrice>")
    if item.account_id is not None:
        name = data.ref_name("Account", item.account_id)
        parts.append(ref_xml("IncomeAccountRef", item.account_id, name))
    if item.purchase_desc is not None:
        parts.append(f"<PurchaseDesc>{esc(item.purchase_desc)}</PurchaseDesc>")
    if item.purchase_cost is not None:
        parts.append(f"<PurchaseCost>{money(item.purchase_cost)}</PurchaseCost>")
    if item.expense_account_id is not None:
        name = data.ref_name("Account", item.expense_account_id)
        parts.append(ref_xml("ExpenseAccountRef", item.expense_account_id, name))
    if item.pref_vendor_id is not None:
        name = data.ref_name("Vendor", item.pref_vendor_id)
        parts.append(ref_xml("PrefVendorRef", item.pref_vendor_id, name))
    return "SalesAndPurchase", f"<SalesAndPurchase>{''.join(parts)}</SalesAndPurchase>"


def terms_ret(data: CompanyData, t: SimTerms, opts: WriteOptions) -> str:
    r = Ret(data)
    r.list_core(t)
    r.text("Name", t.name)
    r.boolean("IsActive", t.is_active)
    if t.date_driven:
        r.text("DayOfMonthDue", str(t.day_of_month_due))
        r.text("DueNextMonthDays", _opt_int(t.due_next_month_days))
        r.text("DiscountPct", _opt_pct(t.discount_pct))
        return r.render("DateDrivenTermsRet", opts.include)
    r.text("StdDueDays", _opt_int(t.due_days))
    r.text("StdDiscountDays", _opt_int(t.discount_days))
    r.text("DiscountPct", _opt_pct(t.discount_pct))
    return r.render("StandardTermsRet", opts.include)


def sales_rep_ret(data: CompanyData, s: SimSalesRep, opts: WriteOptions) -> str:
    r = Ret(data)
    r.list_core(s)
    r.text("Initial", s.initial)
    r.boolean("IsActive", s.is_active)
    r.raw("SalesRepEntityRef", ref_xml("SalesRepEntityRef", s.entity_id, s.entity_name))
    return r.render("SalesRepRet", opts.include)


def class_ret(data: CompanyData, c: SimClass, opts: WriteOptions) -> str:
    r = Ret(data)
    r.list_core(c)
    r.text("Name", c.name)
    r.text("FullName", data.full_name(c))
    r.boolean("IsActive", c.is_active)
    r.ref("ParentRef", "Class", c.parent_id)
    r.text("Sublevel", str(len(data.ancestors(c))))
    return r.render("ClassRet", opts.include)


def _opt_int(value: int | None) -> str | None:
    return None if value is None else str(value)


def _opt_pct(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# --- transactions ----------------------------------------------------------------------------


def txn_ret(data: CompanyData, t: SimTxn, opts: WriteOptions) -> str:
    """The ``<Type>Ret`` of any transaction type, in that type's schema order."""
    if t.txn_type == "ReceivePayment":
        return _payment_ret(data, t, opts)
    kind = t.txn_type
    r = Ret(data)
    _txn_core(r, t)
    r.ref("ClassRef", "Class", t.class_id)
    if kind in ("Invoice", "CreditMemo"):
        r.ref("ARAccountRef", "Account", ACCOUNTS["ar"][0])
    r.ref("TemplateRef", "Template", t.template_id)
    r.date("TxnDate", t.txn_date)
    r.text("RefNumber", t.ref_number)
    r.address("BillAddress", t.bill_address)
    r.address("ShipAddress", t.ship_address)
    if kind == "Estimate":
        r.boolean("IsActive", t.is_active)
    if kind in ("Invoice", "SalesReceipt", "CreditMemo"):
        r.boolean("IsPending", t.is_pending)
    if kind == "Invoice":
        r.boolean("IsFinanceCharge", False)
    if kind == "SalesReceipt":
        r.text("CheckNumber", t.check_number)
        r.ref("PaymentMethodRef", "PaymentMethod", t.payment_method_id)
        r.date("DueDate", t.due_date)
        r.ref("SalesRepRef", "SalesRep", t.sales_rep_id)
        r.date("ShipDate", t.ship_date)
    else:
        r.text("PONumber", t.po_number)
        r.ref("TermsRef", "Terms", t.terms_id)
        r.date("DueDate", t.due_date)
        r.ref("SalesRepRef", "SalesRep", t.sales_rep_id)
        if kind in ("Invoice", "CreditMemo", "SalesOrder"):
            r.date("ShipDate", t.ship_date)
    subtotal = t.subtotal
    r.money("Subtotal", subtotal)
    r.text("SalesTaxPercentage", "0.00")
    r.money("SalesTaxTotal", ZERO)
    if kind == "Invoice":
        r.money("AppliedAmount", -t.applied if t.applied else ZERO)
        r.money("BalanceRemaining", t.balance_remaining)
    else:
        r.money("TotalAmount", subtotal)
    if kind == "CreditMemo":
        r.money("CreditRemaining", t.balance_remaining)
    if kind == "SalesOrder":
        r.boolean("IsManuallyClosed", t.is_manually_closed)
        r.boolean("IsFullyInvoiced", False)
    r.text("Memo", t.memo)
    if kind == "Invoice":
        r.boolean("IsPaid", t.balance_remaining == ZERO)
    if kind != "Estimate":
        r.boolean("IsToBePrinted", t.is_to_be_printed)
    r.boolean("IsToBeEmailed", t.is_to_be_emailed)
    if kind == "SalesReceipt":
        r.ref("DepositToAccountRef", "Account", t.deposit_account_id)
    if opts.linked and kind == "Invoice":
        # Payments and credit memos applied to it, each with the (negative) amount applied.
        for payment, application in data.payments_for(t.txn_id):
            r.raw("LinkedTxn", _linked_xml(payment, -application.amount))
    if opts.linked and kind == "CreditMemo":
        # The invoices its credit was applied to, signed as the invoice's side shows it.
        invoices = data.txns["Invoice"]
        for application in t.applications:
            invoice = invoices.get(application.invoice_id)
            if invoice is not None:
                r.raw("LinkedTxn", _linked_xml(invoice, -application.amount))
    if opts.lines:
        line_tag = f"{kind}LineRet"
        for line in t.lines:
            r.raw(line_tag, _line_xml(data, kind, line))
    r.data_ext(t.txn_id, opts.owners)
    return r.render(f"{kind}Ret", opts.include)


def _txn_core(r: Ret, t: SimTxn) -> None:
    r.text("TxnID", t.txn_id)
    r.time("TimeCreated", t.time_created)
    r.time("TimeModified", t.time_modified)
    r.text("EditSequence", t.edit_sequence)
    r.text("TxnNumber", str(t.txn_number))
    r.ref("CustomerRef", "Customer", t.customer_id)


def _line_xml(data: CompanyData, kind: str, line: SimLine) -> str:
    out = [f"<TxnLineID>{line.txn_line_id}</TxnLineID>"]
    out.append(ref_xml("ItemRef", line.item_id, data.ref_name("Item", line.item_id)))
    if line.desc is not None:
        out.append(f"<Desc>{esc(line.desc)}</Desc>")
    if line.quantity is not None:
        out.append(f"<Quantity>{quantity(line.quantity)}</Quantity>")
    if line.rate is not None:
        out.append(f"<Rate>{money(line.rate)}</Rate>")
    if line.class_id is not None:
        out.append(ref_xml("ClassRef", line.class_id, data.ref_name("Class", line.class_id)))
    out.append(f"<Amount>{money(line.amount)}</Amount>")
    if kind in ("Invoice", "SalesReceipt", "CreditMemo") and line.service_date is not None:
        out.append(f"<ServiceDate>{line.service_date.isoformat()}</ServiceDate>")
    tax = tax_code_ref("SalesTaxCodeRef", line.sales_tax_code)
    if tax:
        out.append(tax[1])
    if kind == "SalesOrder":
        out.append("<Invoiced>0</Invoiced><IsManuallyClosed>false</IsManuallyClosed>")
    tag = f"{kind}LineRet"
    return f"<{tag}>{''.join(out)}</{tag}>"


def _linked_xml(other: SimTxn, amount: Decimal) -> str:
    ref = f"<RefNumber>{esc(other.ref_number)}</RefNumber>" if other.ref_number else ""
    return (
        f"<LinkedTxn><TxnID>{other.txn_id}</TxnID><TxnType>{other.txn_type}</TxnType>"
        f"<TxnDate>{other.txn_date.isoformat()}</TxnDate>{ref}<LinkType>AMTTYPE</LinkType>"
        f"<Amount>{money(amount)}</Amount></LinkedTxn>"
    )


def _payment_ret(data: CompanyData, t: SimTxn, opts: WriteOptions) -> str:
    r = Ret(data)
    _txn_core(r, t)
    r.ref("ARAccountRef", "Account", ACCOUNTS["ar"][0])
    r.date("TxnDate", t.txn_date)
    r.text("RefNumber", t.ref_number)
    r.money("TotalAmount", t.payment_total)
    r.ref("PaymentMethodRef", "PaymentMethod", t.payment_method_id)
    r.text("Memo", t.memo)
    r.ref("DepositToAccountRef", "Account", t.deposit_account_id)
    r.money("UnusedPayment", t.balance_remaining)
    r.money("UnusedCredits", ZERO)
    if opts.lines:
        invoices = data.txns["Invoice"]
        for application in t.applications:
            invoice = invoices.get(application.invoice_id)
            if invoice is not None:
                r.raw("AppliedToTxnRet", _applied_xml(invoice, application.amount))
    r.data_ext(t.txn_id, opts.owners)
    return r.render("ReceivePaymentRet", opts.include)


def _applied_xml(invoice: SimTxn, amount: Decimal) -> str:
    ref = f"<RefNumber>{esc(invoice.ref_number)}</RefNumber>" if invoice.ref_number else ""
    return (
        f"<AppliedToTxnRet><TxnID>{invoice.txn_id}</TxnID><TxnType>Invoice</TxnType>"
        f"<TxnDate>{invoice.txn_date.isoformat()}</TxnDate>{ref}"
        f"<BalanceRemaining>{money(invoice.balance_remaining)}</BalanceRemaining>"
        f"<Amount>{money(amount)}</Amount></AppliedToTxnRet>"
    )


# --- deletions -------------------------------------------------------------------------------


def deleted_ret(data: CompanyData, d: SimDeleted, opts: WriteOptions) -> str:
    r = Ret(data)
    fmt = data.workstation.format
    if d.is_list:
        r.text("ListDelType", d.del_type)
        r.text("ListID", d.object_id)
        r.text("TimeCreated", fmt(d.time_created))
        r.text("TimeDeleted", fmt(d.time_deleted))
        r.text("FullName", d.name)
        return r.render("ListDeletedRet", opts.include)
    r.text("TxnDelType", d.del_type)
    r.text("TxnID", d.object_id)
    r.text("TimeCreated", fmt(d.time_created))
    r.text("TimeDeleted", fmt(d.time_deleted))
    r.text("RefNumber", d.name)
    return r.render("TxnDeletedRet", opts.include)


def transaction_ret(data: CompanyData, t: SimTxn, opts: WriteOptions) -> str:
    """The ``TransactionRet`` of a TransactionQuery (SummaryOnly: one per transaction), holding
    only what every transaction type shares, in the schema's order."""
    r = Ret(data)
    r.text("TxnType", t.txn_type)
    r.text("TxnID", t.txn_id)
    r.time("TimeCreated", t.time_created)
    r.time("TimeModified", t.time_modified)
    r.ref("EntityRef", "Customer", t.customer_id)
    r.date("TxnDate", t.txn_date)
    r.text("RefNumber", t.ref_number)
    r.money("Amount", t.payment_total if t.txn_type == "ReceivePayment" else t.subtotal)
    r.text("Memo", t.memo)
    return r.render("TransactionRet", opts.include)


# --- envelopes -------------------------------------------------------------------------------


def severity(code: int) -> str:
    return "Info" if code < 500 else "Warn" if code < 1000 else "Error"


def rs(
    tag: str,
    request_id: str,
    code: int,
    message: str = "Status OK",
    body: str = "",
    extra: tuple[tuple[str, str], ...] = (),
) -> str:
    """One ``*Rs`` element; ``extra`` attributes (retCount, iterator...) follow the status."""
    attrs = (
        f'requestID="{esc_attr(request_id)}" statusCode="{code}" '
        f'statusSeverity="{severity(code)}" statusMessage="{esc_attr(message)}"'
    )
    for name, value in extra:
        attrs += f' {name}="{esc_attr(value)}"'
    return f"<{tag} {attrs}>{body}</{tag}>" if body else f"<{tag} {attrs}/>"


def document(responses: list[str], attrs: str = "") -> str:
    """A response message set as QuickBooks returns it (``attrs``: of ``QBXMLMsgsRs``)."""
    return (
        f'<?xml version="1.0" ?>\n<QBXML><QBXMLMsgsRs{attrs}>'
        + "".join(responses)
        + "</QBXMLMsgsRs></QBXML>"
    )
