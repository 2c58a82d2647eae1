"""List records: customers, vendors, items, terms, sales reps and classes (``ListID`` based)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from .base import Address, CustomField, Ref


@dataclass(slots=True)
class Customer:
    """A QuickBooks customer or job (``CustomerRet``)."""

    list_id: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    name: str | None = None
    full_name: str | None = None
    is_active: bool = True
    parent: Ref | None = None
    sublevel: int = 0
    company_name: str | None = None
    salutation: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    phone: str | None = None
    alt_phone: str | None = None
    fax: str | None = None
    email: str | None = None
    cc: str | None = None
    contact: str | None = None
    alt_contact: str | None = None
    customer_type: Ref | None = None
    terms: Ref | None = None
    sales_rep: Ref | None = None
    balance: Decimal | None = None
    total_balance: Decimal | None = None
    account_number: str | None = None
    credit_limit: Decimal | None = None
    notes: str | None = None
    custom_fields: list[CustomField] = field(default_factory=list)
    class_: Ref | None = None
    sales_tax_code: Ref | None = None
    item_sales_tax: Ref | None = None
    resale_number: str | None = None
    preferred_payment_method: Ref | None = None
    job_status: str | None = None
    job_start_date: date | None = None
    job_projected_end_date: date | None = None
    job_end_date: date | None = None
    job_desc: str | None = None
    job_type: Ref | None = None
    preferred_delivery_method: str | None = None
    price_level: Ref | None = None
    external_guid: str | None = None
    currency: Ref | None = None

    entity = "Customer"

    @property
    def source_id(self) -> str:
        """The QuickBooks identifier the CRM upserts on."""
        return self.list_id


@dataclass(slots=True)
class Vendor:
    """A QuickBooks vendor (``VendorRet``); its postal address is ``vendor_address``."""

    list_id: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    name: str | None = None
    is_active: bool = True
    class_: Ref | None = None
    company_name: str | None = None
    salutation: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    vendor_address: Address | None = None
    ship_address: Address | None = None
    phone: str | None = None
    alt_phone: str | None = None
    fax: str | None = None
    email: str | None = None
    cc: str | None = None
    contact: str | None = None
    alt_contact: str | None = None
    name_on_check: str | None = None
    account_number: str | None = None
    notes: str | None = None
    vendor_type: Ref | None = None
    terms: Ref | None = None
    credit_limit: Decimal | None = None
    vendor_tax_ident: str | None = None
    is_vendor_eligible_for1099: bool | None = None
    balance: Decimal | None = None
    currency: Ref | None = None
    external_guid: str | None = None
    custom_fields: list[CustomField] = field(default_factory=list)

    entity = "Vendor"

    @property
    def source_id(self) -> str:
        return self.list_id


# ItemQuery returns one *Ret element per item type; the record keeps the type as item_type.
ITEM_TYPES: dict[str, str] = {
    "ItemServiceRet": "Service",
    "ItemNonInventoryRet": "NonInventory",
    "ItemOtherChargeRet": "OtherCharge",
    "ItemInventoryRet": "Inventory",
    "ItemInventoryAssemblyRet": "InventoryAssembly",
    "ItemFixedAssetRet": "FixedAsset",
    "ItemSubtotalRet": "Subtotal",
    "ItemDiscountRet": "Discount",
    "ItemPaymentRet": "Payment",
    "ItemSalesTaxRet": "SalesTax",
    "ItemSalesTaxGroupRet": "SalesTaxGroup",
    "ItemGroupRet": "Group",
}


@dataclass(slots=True)
class Item:
    """Any item type of ``ItemQuery``, told apart by ``item_type`` ("Service", "Inventory" ...).

    The ``SalesOrPurchase`` / ``SalesAndPurchase`` wrappers of service, non-inventory and
    other-charge items are flattened: a one-way item has ``desc``/``price``/``account``, a
    two-way item ``sales_desc``/``sales_price``/``income_account`` and the purchase side.
    ``ItemDesc`` (groups, sales tax items, subtotals, discounts, payments) is ``item_desc``.
    """

    list_id: str
    item_type: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    name: str | None = None
    full_name: str | None = None
    bar_code_value: str | None = None
    is_active: bool = True
    class_: Ref | None = None
    parent: Ref | None = None
    sublevel: int = 0
    manufacturer_part_number: str | None = None
    unit_of_measure_set: Ref | None = None
    is_tax_included: bool | None = None
    sales_tax_code: Ref | None = None
    item_desc: str | None = None
    desc: str | None = None
    price: Decimal | None = None
    price_percent: Decimal | None = None
    account: Ref | None = None
    sales_desc: str | None = None
    sales_price: Decimal | None = None
    income_account: Ref | None = None
    purchase_desc: str | None = None
    purchase_cost: Decimal | None = None
    purchase_tax_code: Ref | None = None
    expense_account: Ref | None = None
    cogs_account: Ref | None = None
    pref_vendor: Ref | None = None
    asset_account: Ref | None = None
    reorder_point: Decimal | None = None
    max: Decimal | None = None
    quantity_on_hand: Decimal | None = None
    average_cost: Decimal | None = None
    quantity_on_order: Decimal | None = None
    quantity_on_sales_order: Decimal | None = None
    discount_rate: Decimal | None = None
    discount_rate_percent: Decimal | None = None
    tax_rate: Decimal | None = None
    tax_vendor: Ref | None = None
    special_item_type: str | None = None
    deposit_to_account: Ref | None = None
    payment_method: Ref | None = None
    external_guid: str | None = None
    custom_fields: list[CustomField] = field(default_factory=list)

    entity = "Item"

    def __post_init__(self) -> None:
        # Subtotal, payment and sales-tax items have no FullName element: they cannot have a
        # parent, so their full name is their name, and every item is addressable the same way.
        if self.full_name is None and self.parent is None:
            self.full_name = self.name

    @property
    def source_id(self) -> str:
        return self.list_id


@dataclass(slots=True)
class Terms:
    """Payment terms: ``StandardTermsRet`` (terms_type "Standard") or ``DateDrivenTermsRet``."""

    list_id: str
    terms_type: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    name: str | None = None
    is_active: bool = True
    std_due_days: int | None = None
    std_discount_days: int | None = None
    discount_pct: Decimal | None = None
    day_of_month_due: int | None = None
    due_next_month_days: int | None = None
    discount_day_of_month: int | None = None

    entity = "Terms"

    @property
    def source_id(self) -> str:
        return self.list_id


@dataclass(slots=True)
class SalesRep:
    """A sales rep (``SalesRepRet``): initials plus the employee/vendor/other name behind it."""

    list_id: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    initial: str | None = None
    is_active: bool = True
    sales_rep_entity: Ref | None = None

    entity = "SalesRep"

    @property
    def source_id(self) -> str:
        return self.list_id


@dataclass(slots=True)
class Class:
    """A class (``ClassRet``), QuickBooks' department/segment tag."""

    list_id: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    name: str | None = None
    full_name: str | None = None
    is_active: bool = True
    parent: Ref | None = None
    sublevel: int = 0

    entity = "Class"

    @property
    def source_id(self) -> str:
        return self.list_id
