"""The simulated company's books: records, identifiers, balances, deletions, data extensions.

This is the store under ``FakeCompany``: it keeps the records in creation order (QuickBooks
answers queries in that order, not by modification time), hands out ListIDs / TxnIDs /
EditSequences the way QuickBooks shapes them, keeps invoice balances, payment applications and
customer balances in agreement, and refuses deletions QuickBooks refuses (records in use).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .company_clock import SimClock, Workstation
from .company_records import (
    TXN_ENTITIES,
    ZERO,
    DataExtDef,
    SimApplication,
    SimClass,
    SimCustomer,
    SimDeleted,
    SimItem,
    SimSalesRep,
    SimTerms,
    SimTxn,
    SimVendor,
)

ListRecord = SimCustomer | SimVendor | SimItem | SimTerms | SimSalesRep | SimClass
COMPANY_OBJECT = "Company"  # the key of the company's own data extensions

# Fixed list elements the generated records refer to but no query of the simulator returns.
ACCOUNTS = {
    "ar": ("80000001-1704200400", "Accounts Receivable"),
    "undeposited": ("80000002-1704200400", "Undeposited Funds"),
    "services": ("80000003-1704200400", "Services"),
    "merchandise": ("80000004-1704200400", "Sales:Merchandise"),
    "charges": ("80000005-1704200400", "Other Income:Fees & Charges"),
    "discounts": ("80000006-1704200400", "Discounts Given"),
    "cogs": ("80000007-1704200400", "Cost of Goods Sold"),
    "inventory": ("80000008-1704200400", "Inventory Asset"),
    "materials": ("80000009-1704200400", "Job Expenses:Job Materials"),
}
TEMPLATES = {
    "Invoice": ("8000000A-1704200400", "Intuit Product Invoice"),
    "Estimate": ("8000000B-1704200400", "Custom Estimate"),
    "SalesOrder": ("8000000C-1704200400", "Custom Sales Order"),
    "SalesReceipt": ("8000000D-1704200400", "Custom Sales Receipt"),
    "CreditMemo": ("8000000E-1704200400", "Custom Credit Memo"),
}
PAYMENT_METHODS = {
    "Check": "8000000F-1704200400",
    "Cash": "80000010-1704200400",
    "Visa": "80000011-1704200400",
    "ACH": "80000012-1704200400",
}
SALES_TAX_CODES = {"Tax": "80000013-1704200400", "Non": "80000014-1704200400"}
FIXED_NAMES: dict[str, str] = {
    **{list_id: name for list_id, name in ACCOUNTS.values()},
    **{list_id: name for list_id, name in TEMPLATES.values()},
    **{list_id: name for name, list_id in PAYMENT_METHODS.items()},
    **{list_id: name for name, list_id in SALES_TAX_CODES.items()},
}
FIRST_LIST_SEQUENCE = 0x80000020
# Transactions the simulator can void (QuickBooks can void more; the rest is a gap).
VOIDABLE = ("ReceivePayment", "CreditMemo")  # after the fixed elements above


def next_edit_sequence(previous: str | None, when: datetime) -> str:
    """QuickBooks' EditSequence: the save time in Unix seconds, always larger than before."""
    value = int(when.timestamp())
    if previous is not None and previous.isdigit() and int(previous) >= value:
        value = int(previous) + 1
    return str(value)


class InUseError(ValueError):
    """QuickBooks refuses to delete a record other records still use."""


@dataclass(frozen=True, slots=True)
class RecordFacts:
    """What a consumer's end state can be checked against for one record."""

    entity: str
    id: str
    edit_sequence: str
    time_modified: datetime
    time_modified_text: str  # exactly as QuickBooks prints it
    name: str | None = None  # FullName of a list element
    ref_number: str | None = None
    is_active: bool = True
    item_type: str | None = None
    total: Decimal | None = None
    balance_remaining: Decimal | None = None
    is_paid: bool | None = None
    due_date: date | None = None  # of an invoice


@dataclass(frozen=True, slots=True)
class EntitySnapshot:
    """The live records of one entity keyed by ListID / TxnID, and the ids deleted so far."""

    entity: str
    records: dict[str, RecordFacts]
    deleted: dict[str, datetime]  # id -> TimeDeleted


class CompanyData:
    """All records of one company file."""

    def __init__(self, workstation: Workstation, clock: SimClock) -> None:
        self.workstation = workstation
        self.clock = clock
        self.customers: dict[str, SimCustomer] = {}
        self.vendors: dict[str, SimVendor] = {}
        self.items: dict[str, SimItem] = {}
        self.terms: dict[str, SimTerms] = {}
        self.sales_reps: dict[str, SimSalesRep] = {}
        self.classes: dict[str, SimClass] = {}
        self.txns: dict[str, dict[str, SimTxn]] = {t: {} for t in TXN_ENTITIES}
        self.deleted: list[SimDeleted] = []
        self.ext_defs: dict[tuple[str, str], DataExtDef] = {}
        self.ext_values: dict[str, dict[tuple[str, str], str]] = {}
        self.other_names: dict[str, str] = {}  # employees a sales rep stands for
        # invoice TxnID -> TxnIDs of the payments and credit memos applied to it
        self.invoice_payments: dict[str, list[str]] = {}
        self._list_sequence = FIRST_LIST_SEQUENCE
        self._txn_sequence = 0xFF
        self._txn_number = 0
        self._children: dict[str, list[str]] | None = None

    # --- identifiers -----------------------------------------------------------------------

    def new_list_id(self, created: datetime) -> str:
        """A ListID as QuickBooks makes them: a hex sequence and the creation time."""
        self._list_sequence += 1
        return f"{self._list_sequence:X}-{int(created.timestamp())}"

    def new_txn_id(self, created: datetime) -> str:
        """A TxnID (or TxnLineID): a hex sequence and the creation time."""
        self._txn_sequence += 1
        return f"{self._txn_sequence:X}-{int(created.timestamp())}"

    def new_txn_number(self) -> int:
        self._txn_number += 1
        return self._txn_number

    # --- lookups ---------------------------------------------------------------------------

    def table(self, entity: str) -> dict[str, Any]:
        """The records of a list entity or transaction type, keyed by id."""
        tables: dict[str, dict[str, Any]] = {
            "Customer": self.customers,
            "Vendor": self.vendors,
            "Item": self.items,
            "Terms": self.terms,
            "SalesRep": self.sales_reps,
            "Class": self.classes,
        }
        if entity in tables:
            return tables[entity]
        if entity in self.txns:
            return self.txns[entity]
        raise ValueError(f"unknown entity {entity!r}")

    def find_txn(self, txn_id: str) -> SimTxn | None:
        for table in self.txns.values():
            if txn_id in table:
                return table[txn_id]
        return None

    def _parent_table(self, record: Any) -> dict[str, Any] | None:
        if isinstance(record, SimCustomer):
            return self.customers
        if isinstance(record, SimItem):
            return self.items
        if isinstance(record, SimClass):
            return self.classes
        return None

    def ancestors(self, record: Any) -> list[Any]:
        """The parents of a hierarchical list element, nearest first."""
        table = self._parent_table(record)
        out: list[Any] = []
        parent_id = getattr(record, "parent_id", None)
        while table is not None and parent_id is not None and parent_id in table:
            parent = table[parent_id]
            if parent in out:
                break
            out.append(parent)
            parent_id = parent.parent_id
        return out

    def full_name(self, record: Any) -> str:
        """FullName: the names from the top parent down, joined with ":"."""
        names = [a.name for a in reversed(self.ancestors(record))]
        return ":".join([*names, record.name])

    def ref_name(self, entity: str, list_id: str | None) -> str | None:
        """The FullName a reference to ``list_id`` carries."""
        if list_id is None:
            return None
        if entity in ("Account", "Template", "PaymentMethod", "SalesTaxCode"):
            return FIXED_NAMES.get(list_id)
        if entity == "Employee":
            return self.other_names.get(list_id)
        record = self.table(entity).get(list_id)
        return None if record is None else self.full_name(record)

    def children(self, customer_id: str) -> list[str]:
        """The jobs directly under a customer (cached until the customer list changes)."""
        if self._children is None:
            children: dict[str, list[str]] = {}
            for c in self.customers.values():
                if c.parent_id is not None:
                    children.setdefault(c.parent_id, []).append(c.list_id)
            self._children = children
        return self._children.get(customer_id, [])

    def customers_changed(self) -> None:
        """Forget cached structure after customers were added, deleted or replaced."""
        self._children = None

    def total_balance(self, customer: SimCustomer) -> Decimal:
        """TotalBalance: the customer's own balance plus that of all its jobs."""
        total = customer.balance
        for child_id in self.children(customer.list_id):
            child = self.customers.get(child_id)
            if child is not None and child is not customer:
                total += self.total_balance(child)
        return total

    def name_in_use(self, full_name: str, exclude: str | None = None) -> bool:
        """Whether a customer, job or vendor already has this name (case-insensitively)."""
        wanted = full_name.casefold()
        for c in self.customers.values():
            if c.list_id != exclude and self.full_name(c).casefold() == wanted:
                return True
        return any(
            v.list_id != exclude and v.name.casefold() == wanted for v in self.vendors.values()
        )

    def item_name_in_use(self, full_name: str, exclude: str | None = None) -> bool:
        wanted = full_name.casefold()
        return any(
            i.list_id != exclude and self.full_name(i).casefold() == wanted
            for i in self.items.values()
        )

    def customer_txns(self, customer_id: str) -> Iterator[SimTxn]:
        for table in self.txns.values():
            for txn in table.values():
                if txn.customer_id == customer_id:
                    yield txn

    # --- changes ---------------------------------------------------------------------------

    def stamp(self, record: Any, when: datetime | None = None) -> None:
        """Record a save: new TimeModified and EditSequence, as QuickBooks does on every save."""
        when = when or self.clock.now()
        record.time_modified = when
        record.edit_sequence = next_edit_sequence(record.edit_sequence, when)

    def refresh_balance(self, customer_id: str) -> None:
        """Recompute a customer's balance: open invoices less unused credits and payments."""
        customer = self.customers.get(customer_id)
        if customer is None:
            return
        balance = ZERO
        for txn in self.customer_txns(customer_id):
            if txn.txn_type == "Invoice":
                balance += txn.balance_remaining
            elif txn.txn_type in ("CreditMemo", "ReceivePayment"):
                balance -= txn.balance_remaining
        customer.balance = balance

    def apply_payment(self, payment: SimTxn, when: datetime | None) -> None:
        """Apply a payment's applications to its invoices; the invoices are saved too."""
        for application in payment.applications:
            invoice = self.txns["Invoice"][application.invoice_id]
            invoice.applied += application.amount
            self.invoice_payments.setdefault(invoice.txn_id, []).append(payment.txn_id)
            if when is not None:
                self.stamp(invoice, max(when, invoice.time_modified))

    def apply_credit(self, memo: SimTxn, invoice_id: str, amount: Decimal) -> None:
        """Apply part of a credit memo's credit to an invoice (QuickBooks' "Apply to invoice").

        The credit memo is saved (its CreditRemaining and links change); the invoice is not:
        pessimistically, a consumer must not count on the invoice's TimeModified to notice.
        """
        held = next((a for a in memo.applications if a.invoice_id == invoice_id), None)
        if held is None:
            memo.applications.append(SimApplication(invoice_id, amount))
        else:
            held.amount += amount  # one link per invoice, as QuickBooks keeps it
        self.txns["Invoice"][invoice_id].applied += amount
        linked = self.invoice_payments.setdefault(invoice_id, [])
        if memo.txn_id not in linked:
            linked.append(memo.txn_id)
        self.stamp(memo)
        self.refresh_balance(memo.customer_id)

    def unapply(self, txn: SimTxn) -> None:
        """Take a payment's or credit memo's applications off their invoices.

        The invoices get their balances back but are not saved (no new TimeModified or
        EditSequence): the pessimistic reading of QuickBooks for a voided or deleted payment,
        so a consumer has to read the invoices again rather than wait for them to change.
        """
        invoices = self.txns["Invoice"]
        for application in txn.applications:
            invoice = invoices.get(application.invoice_id)
            if invoice is None:
                continue
            invoice.applied -= application.amount
            linked = self.invoice_payments.get(invoice.txn_id, [])
            if txn.txn_id in linked:
                linked.remove(txn.txn_id)
        txn.applications = []

    def void(self, entity: str, txn_id: str) -> SimTxn:
        """Void a payment or credit memo as QuickBooks Desktop does: the record stays, saved
        now (new TimeModified and EditSequence), with its amounts zero, no applications and
        "VOID:" before its memo; the invoices it was applied to are owed again (unsaved)."""
        if entity not in VOIDABLE:
            raise ValueError(f"voiding a {entity} is not simulated")
        txn = self.txns[entity].get(txn_id)
        if txn is None:
            raise KeyError(f"no {entity} with id {txn_id!r}")
        self.unapply(txn)
        if entity == "ReceivePayment":
            txn.payment_total = ZERO
        else:
            txn.lines = [replace(line, amount=ZERO, rate=ZERO) for line in txn.lines]
        if not (txn.memo or "").startswith("VOID:"):
            txn.memo = f"VOID: {txn.memo}" if txn.memo else "VOID:"
        self.stamp(txn)
        self.refresh_balance(txn.customer_id)
        return txn

    def payments_for(self, invoice_id: str) -> list[tuple[SimTxn, SimApplication]]:
        """The payments and credit memos applied to an invoice, in the order applied."""
        out = []
        for other_id in self.invoice_payments.get(invoice_id, ()):
            other = self.txns["ReceivePayment"].get(other_id) or self.txns["CreditMemo"].get(
                other_id
            )
            if other is None:
                continue
            out += [(other, a) for a in other.applications if a.invoice_id == invoice_id]
        return out

    def references(self, list_id: str) -> int:
        """How many records refer to a list element (QuickBooks will not delete one in use)."""
        count = sum(1 for c in self.customers.values() if list_id in _customer_refs(c))
        count += sum(1 for v in self.vendors.values() if v.terms_id == list_id)
        count += sum(
            1
            for i in self.items.values()
            if list_id in (i.parent_id, i.pref_vendor_id) and i.list_id != list_id
        )
        count += sum(1 for c in self.classes.values() if c.parent_id == list_id)
        count += sum(1 for r in self.sales_reps.values() if r.entity_id == list_id)
        for table in self.txns.values():
            for txn in table.values():
                header = (txn.customer_id, txn.terms_id, txn.sales_rep_id, txn.class_id)
                lines = (ref for line in txn.lines for ref in (line.item_id, line.class_id))
                if list_id in header or list_id in lines:
                    count += 1
        return count

    def delete(self, entity: str, object_id: str) -> SimDeleted:
        """Delete a record as QuickBooks does: refuse one in use, record the deletion, and
        unapply payments from a deleted invoice (or invoices from a deleted payment)."""
        table = self.table(entity)
        record = table.get(object_id)
        if record is None:
            raise KeyError(f"no {entity} with id {object_id!r}")
        now = self.clock.now()
        if entity in self.txns:
            return self._delete_txn(record, now)
        in_use = self.references(object_id)
        if in_use:
            raise InUseError(
                f"{entity} {self.full_name(record)!r} is used by {in_use} other records; "
                "QuickBooks cannot delete it (make it inactive instead)"
            )
        del_type = f"Item{record.item_type}" if isinstance(record, SimItem) else entity
        if isinstance(record, SimTerms):
            del_type = "DateDrivenTerms" if record.date_driven else "StandardTerms"
        entry = SimDeleted(del_type, object_id, record.time_created, now, self.full_name(record))
        del table[object_id]
        self.ext_values.pop(object_id, None)
        if entity == "Customer":
            self.customers_changed()
        self.deleted.append(entry)
        return entry

    def _delete_txn(self, txn: SimTxn, now: datetime) -> SimDeleted:
        touched = {txn.customer_id}
        if txn.txn_type == "Invoice":
            for payment, application in self.payments_for(txn.txn_id):
                payment.applications.remove(application)
                self.stamp(payment, now)
                touched.add(payment.customer_id)
            self.invoice_payments.pop(txn.txn_id, None)
        elif txn.txn_type in ("ReceivePayment", "CreditMemo"):
            # The invoices are owed again but not saved (see ``unapply``).
            self.unapply(txn)
        entry = SimDeleted(txn.txn_type, txn.txn_id, txn.time_created, now, txn.ref_number)
        del self.txns[txn.txn_type][txn.txn_id]
        self.ext_values.pop(txn.txn_id, None)
        for customer_id in touched:
            self.refresh_balance(customer_id)
        self.deleted.append(entry)
        return entry

    # --- data extensions -------------------------------------------------------------------

    def data_ext(self, object_key: str, owners: set[str]) -> list[tuple[DataExtDef, str]]:
        """The custom field values of one object for the requested OwnerIDs, in the order
        their definitions were made."""
        values = self.ext_values.get(object_key)
        if not values or not owners:
            return []
        out = []
        for key, value in values.items():
            definition = self.ext_defs.get(key)
            if definition is not None and key[0] in owners:
                out.append((definition, value))
        out.sort(key=lambda pair: pair[0].ext_id)
        return out

    def define_ext(
        self, owner_id: str, name: str, ext_type: str, assign_to: tuple[str, ...]
    ) -> DataExtDef:
        key = (owner_key(owner_id), name)
        definition = DataExtDef(owner_id, name, ext_type, assign_to, len(self.ext_defs) + 1)
        self.ext_defs[key] = definition
        return definition

    def set_ext(self, object_key: str, owner_id: str, name: str, value: str) -> None:
        self.ext_values.setdefault(object_key, {})[(owner_key(owner_id), name)] = value

    # --- end-state facts -------------------------------------------------------------------

    def snapshot(self, entity: str) -> EntitySnapshot:
        """The facts of every live record of ``entity`` and the ids deleted so far."""
        records: dict[str, RecordFacts] = {}
        fmt = self.workstation.format
        for key, record in self.table(entity).items():
            if isinstance(record, SimTxn):
                is_invoice = record.txn_type == "Invoice"
                records[key] = RecordFacts(
                    entity=entity,
                    id=key,
                    edit_sequence=record.edit_sequence,
                    time_modified=record.time_modified,
                    time_modified_text=fmt(record.time_modified),
                    ref_number=record.ref_number,
                    is_active=record.is_active,
                    total=record.total,
                    balance_remaining=record.balance_remaining if is_invoice else None,
                    is_paid=record.balance_remaining == ZERO if is_invoice else None,
                    due_date=record.due_date if is_invoice else None,
                )
            else:
                records[key] = RecordFacts(
                    entity=entity,
                    id=key,
                    edit_sequence=record.edit_sequence,
                    time_modified=record.time_modified,
                    time_modified_text=fmt(record.time_modified),
                    name=self.full_name(record),
                    is_active=record.is_active,
                    item_type=getattr(record, "item_type", None),
                )
        deleted = {
            d.object_id: d.time_deleted for d in self.deleted if _deleted_entity(d) == entity
        }
        return EntitySnapshot(entity=entity, records=records, deleted=deleted)


def owner_key(owner_id: str) -> str:
    """OwnerIDs are GUIDs (or "0"); QuickBooks matches them case-insensitively."""
    return owner_id.strip().upper()


def _customer_refs(c: SimCustomer) -> tuple[str | None, ...]:
    return (c.parent_id, c.terms_id, c.sales_rep_id, c.class_id)


def _deleted_entity(entry: SimDeleted) -> str:
    if entry.del_type.startswith("Item"):
        return "Item"
    if entry.del_type.endswith("Terms"):
        return "Terms"
    return entry.del_type
