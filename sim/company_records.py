"""What the simulated company stores: lists, transactions, deletions and data extensions.

Timestamps are aware datetimes (real instants); money is Decimal. References between records
are ListIDs / TxnIDs, resolved to full names when a response is written, so a rename shows up
everywhere as it does in QuickBooks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal("0.00")

LIST_ENTITIES = ("Customer", "Vendor", "Item", "Terms", "SalesRep", "Class")
TXN_ENTITIES = (
    "Estimate",
    "SalesOrder",
    "Invoice",
    "SalesReceipt",
    "ReceivePayment",
    "CreditMemo",
)
ITEM_TYPES = ("Service", "Inventory", "NonInventory", "OtherCharge", "Discount", "Subtotal")
# Items a sales line can use: priced goods and services.
SELLABLE_ITEM_TYPES = ("Service", "Inventory", "NonInventory", "OtherCharge")


@dataclass(slots=True)
class SimAddress:
    """A postal address (``AddressData``)."""

    addr1: str | None = None
    addr2: str | None = None
    addr3: str | None = None
    addr4: str | None = None
    addr5: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    note: str | None = None


@dataclass(slots=True)
class SimCustomer:
    """A customer or job. ``city``/``state`` are the bill address's; the rest of it is in
    ``bill_address``. ``parent_id`` makes it a job of another customer."""

    list_id: str
    name: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    is_active: bool
    company_name: str | None
    first_name: str | None
    last_name: str | None
    city: str | None
    state: str | None
    phone: str | None
    email: str | None
    balance: Decimal = ZERO
    parent_id: str | None = None
    salutation: str | None = None
    middle_name: str | None = None
    job_title: str | None = None
    bill_address: SimAddress | None = None
    ship_address: SimAddress | None = None
    alt_phone: str | None = None
    fax: str | None = None
    cc: str | None = None
    contact: str | None = None
    alt_contact: str | None = None
    class_id: str | None = None
    terms_id: str | None = None
    sales_rep_id: str | None = None
    sales_tax_code: str | None = None
    account_number: str | None = None
    credit_limit: Decimal | None = None
    job_status: str | None = None
    notes: str | None = None


@dataclass(slots=True)
class SimVendor:
    """A vendor; its name shares the one name list with customers."""

    list_id: str
    name: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    is_active: bool
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    address: SimAddress | None = None
    phone: str | None = None
    fax: str | None = None
    email: str | None = None
    contact: str | None = None
    name_on_check: str | None = None
    account_number: str | None = None
    notes: str | None = None
    terms_id: str | None = None
    credit_limit: Decimal | None = None
    tax_ident: str | None = None
    is_1099: bool = False
    balance: Decimal = ZERO


@dataclass(slots=True)
class SimItem:
    """An item of any type. ``desc``/``price``/``account_id`` are the sales side (or the only
    side); ``purchase_*``/``expense_account_id`` make it a "sales and purchase" item."""

    list_id: str
    item_type: str
    name: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    is_active: bool = True
    parent_id: str | None = None
    desc: str | None = None
    price: Decimal | None = None
    price_percent: Decimal | None = None
    account_id: str | None = None
    sales_tax_code: str | None = None
    purchase_desc: str | None = None
    purchase_cost: Decimal | None = None
    expense_account_id: str | None = None
    pref_vendor_id: str | None = None
    manufacturer_part_number: str | None = None
    asset_account_id: str | None = None
    reorder_point: Decimal | None = None
    quantity_on_hand: Decimal | None = None
    average_cost: Decimal | None = None
    quantity_on_order: Decimal | None = None
    quantity_on_sales_order: Decimal | None = None

    @property
    def sellable(self) -> bool:
        return self.item_type in SELLABLE_ITEM_TYPES and self.price is not None


@dataclass(slots=True)
class SimTerms:
    """Payment terms: standard (due N days after the transaction) or date driven."""

    list_id: str
    name: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    is_active: bool = True
    due_days: int | None = None
    discount_days: int | None = None
    discount_pct: Decimal | None = None
    day_of_month_due: int | None = None
    due_next_month_days: int | None = None

    @property
    def date_driven(self) -> bool:
        return self.day_of_month_due is not None


@dataclass(slots=True)
class SimSalesRep:
    """A sales rep: initials plus the employee or vendor they are."""

    list_id: str
    initial: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    is_active: bool = True
    entity_id: str = ""
    entity_name: str = ""

    @property
    def name(self) -> str:
        return self.initial


@dataclass(slots=True)
class SimClass:
    """A class (department, location ...), possibly under a parent class."""

    list_id: str
    name: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    is_active: bool = True
    parent_id: str | None = None


@dataclass(slots=True)
class SimLine:
    """One line of a sales transaction."""

    txn_line_id: str
    item_id: str
    desc: str | None
    quantity: Decimal | None
    rate: Decimal | None
    amount: Decimal
    class_id: str | None = None
    service_date: date | None = None
    sales_tax_code: str | None = None


@dataclass(slots=True)
class SimApplication:
    """Part of a payment (or of a credit memo's credit) applied to an invoice."""

    invoice_id: str
    amount: Decimal


@dataclass(slots=True)
class SimTxn:
    """A transaction of one of TXN_ENTITIES; fields that a type lacks stay None."""

    txn_id: str
    txn_type: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    txn_number: int
    customer_id: str
    txn_date: date
    ref_number: str | None = None
    memo: str | None = None
    class_id: str | None = None
    template_id: str | None = None
    bill_address: SimAddress | None = None
    ship_address: SimAddress | None = None
    is_pending: bool | None = None
    po_number: str | None = None
    terms_id: str | None = None
    due_date: date | None = None
    sales_rep_id: str | None = None
    ship_date: date | None = None
    is_to_be_printed: bool | None = None
    is_to_be_emailed: bool | None = None
    lines: list[SimLine] = field(default_factory=list)
    # Invoice: what payments applied; Estimate: open or closed; SalesOrder: closed by hand.
    applied: Decimal = ZERO
    is_active: bool = True
    is_manually_closed: bool = False
    # SalesReceipt / ReceivePayment
    payment_method_id: str | None = None
    check_number: str | None = None
    deposit_account_id: str | None = None
    # ReceivePayment: the amount received and where it went; CreditMemo: the credit applied
    # to invoices (QuickBooks links the credit memo to each invoice it reduces).
    payment_total: Decimal = ZERO
    applications: list[SimApplication] = field(default_factory=list)

    @property
    def subtotal(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def total(self) -> Decimal:
        """TotalAmount (no sales tax is charged in this company)."""
        if self.txn_type == "ReceivePayment":
            return self.payment_total
        return self.subtotal

    @property
    def balance_remaining(self) -> Decimal:
        """An invoice's open balance; a credit memo's unused credit; a payment's unused part."""
        applied = sum((a.amount for a in self.applications), ZERO)
        if self.txn_type == "ReceivePayment":
            return self.payment_total - applied
        if self.txn_type == "Invoice":
            return self.subtotal - self.applied
        if self.txn_type == "CreditMemo":
            return self.subtotal - applied
        return self.subtotal


@dataclass(frozen=True, slots=True)
class SimDeleted:
    """A ListDeletedRet / TxnDeletedRet entry."""

    del_type: str  # ListDelType or TxnDelType, e.g. "Customer", "ItemService", "Invoice"
    object_id: str
    time_created: datetime
    time_deleted: datetime
    name: str | None  # FullName of a list element, RefNumber of a transaction

    @property
    def is_list(self) -> bool:
        return self.del_type not in TXN_ENTITIES


@dataclass(frozen=True, slots=True)
class DataExtDef:
    """A custom field definition: public (OwnerID "0") or private to an application."""

    owner_id: str
    name: str
    ext_type: str
    assign_to: tuple[str, ...]
    ext_id: int
