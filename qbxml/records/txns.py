"""Transaction records: estimates, sales orders, invoices, sales receipts, credit memos, payments.

Lines: ``lines`` is flat and holds every priced line in document order. A line group
(``*LineGroupRet``, an item group on the form) contributes a header to ``line_groups`` and its
component lines to ``lines``, each carrying the group's ``txn_line_id`` as ``group_line_id``;
the group header's ``total_amount`` is the sum of its components, so summing ``lines`` never
counts a group twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from .base import Address, CustomField, Ref


@dataclass(slots=True)
class TxnLine:
    """One line of a sales transaction (``InvoiceLineRet``, ``EstimateLineRet`` ...)."""

    txn_line_id: str | None = None
    item: Ref | None = None
    desc: str | None = None
    quantity: Decimal | None = None
    unit_of_measure: str | None = None
    rate: Decimal | None = None
    rate_percent: Decimal | None = None
    class_: Ref | None = None
    amount: Decimal | None = None
    inventory_site: Ref | None = None
    serial_number: str | None = None
    lot_number: str | None = None
    service_date: date | None = None
    sales_tax_code: Ref | None = None
    markup_rate: Decimal | None = None
    markup_rate_percent: Decimal | None = None
    price_level: Ref | None = None
    invoiced: Decimal | None = None
    is_manually_closed: bool | None = None
    other1: str | None = None
    other2: str | None = None
    group_line_id: str | None = None
    custom_fields: list[CustomField] = field(default_factory=list)


@dataclass(slots=True)
class TxnLineGroup:
    """The header of a line group; its component lines are in the transaction's ``lines``."""

    txn_line_id: str | None = None
    item_group: Ref | None = None
    desc: str | None = None
    quantity: Decimal | None = None
    unit_of_measure: str | None = None
    is_print_items_in_group: bool | None = None
    total_amount: Decimal | None = None
    custom_fields: list[CustomField] = field(default_factory=list)


@dataclass(slots=True)
class LinkedTxn:
    """A transaction linked to this one (``LinkedTxn``): payments, estimates, orders ..."""

    txn_id: str | None = None
    txn_type: str | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    link_type: str | None = None
    amount: Decimal | None = None


@dataclass(slots=True)
class AppliedToTxn:
    """Where a received payment went (``AppliedToTxnRet``)."""

    txn_id: str | None = None
    txn_type: str | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    balance_remaining: Decimal | None = None
    amount: Decimal | None = None
    discount_amount: Decimal | None = None
    discount_account: Ref | None = None
    discount_class: Ref | None = None
    linked_txns: list[LinkedTxn] = field(default_factory=list)


@dataclass(slots=True)
class SalesTxn:
    """Fields every sales form (invoice, estimate, order, receipt, credit memo) shares."""

    txn_id: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    txn_number: int | None = None
    customer: Ref | None = None
    class_: Ref | None = None
    template: Ref | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    po_number: str | None = None
    terms: Ref | None = None
    due_date: date | None = None
    sales_rep: Ref | None = None
    fob: str | None = None
    ship_date: date | None = None
    ship_method: Ref | None = None
    subtotal: Decimal | None = None
    item_sales_tax: Ref | None = None
    sales_tax_percentage: Decimal | None = None
    sales_tax_total: Decimal | None = None
    currency: Ref | None = None
    exchange_rate: Decimal | None = None
    memo: str | None = None
    customer_msg: Ref | None = None
    is_to_be_printed: bool | None = None
    is_to_be_emailed: bool | None = None
    is_tax_included: bool | None = None
    customer_sales_tax_code: Ref | None = None
    other: str | None = None
    external_guid: str | None = None
    linked_txns: list[LinkedTxn] = field(default_factory=list)
    lines: list[TxnLine] = field(default_factory=list)
    line_groups: list[TxnLineGroup] = field(default_factory=list)
    custom_fields: list[CustomField] = field(default_factory=list)

    entity = "SalesTxn"

    @property
    def source_id(self) -> str:
        """The QuickBooks identifier the CRM upserts on."""
        return self.txn_id


@dataclass(slots=True)
class Invoice(SalesTxn):
    """``InvoiceRet``."""

    ar_account: Ref | None = None
    is_pending: bool | None = None
    is_finance_charge: bool | None = None
    applied_amount: Decimal | None = None
    balance_remaining: Decimal | None = None
    balance_remaining_in_home_currency: Decimal | None = None
    is_paid: bool | None = None
    suggested_discount_amount: Decimal | None = None
    suggested_discount_date: date | None = None

    entity = "Invoice"


@dataclass(slots=True)
class Estimate(SalesTxn):
    """``EstimateRet``."""

    is_active: bool | None = None
    total_amount: Decimal | None = None
    total_amount_in_home_currency: Decimal | None = None

    entity = "Estimate"


@dataclass(slots=True)
class SalesOrder(SalesTxn):
    """``SalesOrderRet``."""

    total_amount: Decimal | None = None
    total_amount_in_home_currency: Decimal | None = None
    is_manually_closed: bool | None = None
    is_fully_invoiced: bool | None = None

    entity = "SalesOrder"


@dataclass(slots=True)
class SalesReceipt(SalesTxn):
    """``SalesReceiptRet``."""

    is_pending: bool | None = None
    check_number: str | None = None
    payment_method: Ref | None = None
    total_amount: Decimal | None = None
    total_amount_in_home_currency: Decimal | None = None
    deposit_to_account: Ref | None = None

    entity = "SalesReceipt"


@dataclass(slots=True)
class CreditMemo(SalesTxn):
    """``CreditMemoRet``."""

    ar_account: Ref | None = None
    is_pending: bool | None = None
    total_amount: Decimal | None = None
    credit_remaining: Decimal | None = None
    credit_remaining_in_home_currency: Decimal | None = None

    entity = "CreditMemo"


@dataclass(slots=True)
class ReceivePayment:
    """``ReceivePaymentRet``: a customer payment and the transactions it was applied to."""

    txn_id: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    txn_number: int | None = None
    customer: Ref | None = None
    ar_account: Ref | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    total_amount: Decimal | None = None
    currency: Ref | None = None
    exchange_rate: Decimal | None = None
    total_amount_in_home_currency: Decimal | None = None
    payment_method: Ref | None = None
    memo: str | None = None
    deposit_to_account: Ref | None = None
    unused_payment: Decimal | None = None
    unused_credits: Decimal | None = None
    external_guid: str | None = None
    applied_to_txns: list[AppliedToTxn] = field(default_factory=list)
    custom_fields: list[CustomField] = field(default_factory=list)

    entity = "ReceivePayment"

    @property
    def source_id(self) -> str:
        return self.txn_id
