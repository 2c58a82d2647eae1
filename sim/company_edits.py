"""The mutation API the simulated company offers tests: add, modify, and look up records.

Changes are what a QuickBooks user does at the workstation: each is stamped with the
workstation clock's time and a new EditSequence, QuickBooks' constraints hold (unique names,
no parent cycles, no paying more than is due, no half-applied refusals), and balances follow.
"""

from __future__ import annotations

from dataclasses import fields, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from .company_data import VOIDABLE, CompanyData
from .company_generate import SampleBooks, due_date
from .company_queries import SimulatorGap
from .company_records import LIST_ENTITIES, TXN_ENTITIES, ZERO, SimApplication, SimLine, SimTxn

# Fields a user never sets directly: QuickBooks maintains them.
MAINTAINED = {
    "list_id",
    "txn_id",
    "txn_type",
    "item_type",
    "time_created",
    "time_modified",
    "edit_sequence",
    "txn_number",
    "balance",
    "applied",
    "applications",
}
CENT = Decimal("0.01")


class Edits:
    """Changes to one company's books, drawing generated values from ``books``."""

    def __init__(
        self, data: CompanyData, books: SampleBooks, lines_per_txn: int, first_index: int
    ) -> None:
        self.data = data
        self.books = books
        self.lines_per_txn = lines_per_txn
        self._first_index = first_index  # names of added records come after generated ones
        self._added = 0

    def record(self, entity: str, source_id: str) -> Any:
        """The live stored record of ``entity`` with ListID / TxnID ``source_id``."""
        table = self.data.table(entity)
        if source_id not in table:
            raise KeyError(f"no {entity} with id {source_id!r}")
        return table[source_id]

    def modify(self, entity: str, source_id: str, **changes: Any) -> str:
        """Change a record as a QuickBooks user would and save it; return the new EditSequence.

        With no changes it is a save without a content change (new time and EditSequence).
        Transactions take ``lines=[{"item_id", "quantity", "rate", "desc"?}, ...]``.
        """
        record = self.record(entity, source_id)
        data = self.data
        allowed = {f.name for f in fields(record)} - MAINTAINED
        takes_lines = isinstance(record, SimTxn) and record.txn_type != "ReceivePayment"
        for name in changes:
            if name not in allowed and not (name == "lines" and takes_lines):
                raise ValueError(f"{entity} has no field {name!r} a user can change")
        # Changes are checked on a copy, so a refused change leaves the record as it was.
        candidate = replace(record)
        for name, value in changes.items():
            if name == "lines":
                value = self._lines(value, data.clock.now())
            setattr(candidate, name, value)
        if "name" in changes or "parent_id" in changes:
            self._check_unique(
                entity, record, candidate.name, getattr(candidate, "parent_id", None)
            )
        old_customer = getattr(record, "customer_id", None)
        if isinstance(record, SimTxn):
            self._check_txn_change(record, candidate)
        for f in fields(record):
            setattr(record, f.name, getattr(candidate, f.name))
        if isinstance(record, SimTxn):
            data.refresh_balance(record.customer_id)
            if old_customer is not None and old_customer != record.customer_id:
                data.refresh_balance(old_customer)
        if entity == "Customer":
            data.customers_changed()
        data.stamp(record)
        return record.edit_sequence

    def _check_txn_change(self, old: SimTxn, new: SimTxn) -> None:
        linked = bool(old.applications) or bool(self.data.payments_for(old.txn_id))
        if new.customer_id != old.customer_id:
            self.record("Customer", new.customer_id)
            if linked:
                raise ValueError("a transaction with payments applied cannot change customer")
        if new.balance_remaining < ZERO:
            raise ValueError("the new total is less than the amounts already applied")

    def add(self, entity: str, **values: Any) -> str:
        """Create a record now, with realistic generated values for what is not given; return
        its ListID / TxnID. Transactions take ``customer_id`` and ``lines`` (see ``modify``);
        a ReceivePayment takes ``applied={invoice_id: amount}`` (default: the customer's
        oldest open invoice in full) and optionally ``payment_total``."""
        data, books = self.data, self.books
        now = data.clock.now()
        self._added += 1
        index = self._first_index + self._added
        if entity == "ReceivePayment":
            return self._add_payment(now, values)
        if entity in TXN_ENTITIES:
            return self._add_sale(entity, now, values)
        if entity == "Customer":
            record: Any = books.customer(index, now, now)
        elif entity == "Vendor":
            record = books.vendor(index, now, now)
        elif entity == "Item":
            record = books.item(index, now, now, values.pop("item_type", "Service"))
        elif entity in LIST_ENTITIES:
            raise SimulatorGap(f"add({entity!r}) is not simulated")
        else:
            raise ValueError(f"unknown entity {entity!r}")
        if entity in ("Customer", "Item"):
            record.parent_id = None  # a job or sub-item only when asked for
            if entity == "Customer":
                record.job_status = "None"
        self._set_new(entity, record, values)
        data.table(entity)[record.list_id] = record
        if entity == "Customer":
            data.customers_changed()
        return record.list_id

    def _set_new(self, entity: str, record: Any, values: dict[str, Any]) -> None:
        allowed = {f.name for f in fields(record)} - MAINTAINED
        for name, value in values.items():
            if name not in allowed:
                raise ValueError(f"{entity} has no field {name!r} a user can set")
            setattr(record, name, value)
        self._check_unique(
            entity, record, record.name, record.parent_id if entity != "Vendor" else None
        )

    def _check_unique(self, entity: str, record: Any, name: str, parent_id: str | None) -> None:
        data = self.data
        table = data.items if entity == "Item" else data.customers
        parent = table.get(parent_id) if parent_id and entity != "Vendor" else None
        if parent is not None and record.list_id in {
            parent.list_id,
            *(a.list_id for a in data.ancestors(parent)),
        }:
            raise ValueError(f"{entity} {name!r} cannot be under itself")
        if entity in ("Customer", "Vendor"):
            full = f"{data.full_name(parent)}:{name}" if parent is not None else name
            if data.name_in_use(full, exclude=record.list_id):
                raise ValueError(f'The name "{name}" of the list element is already in use.')
        elif entity == "Item":
            full = f"{data.full_name(parent)}:{name}" if parent is not None else name
            if data.item_name_in_use(full, exclude=record.list_id):
                raise ValueError(f'The name "{name}" of the list element is already in use.')

    def _lines(self, specs: list[Any], created: datetime) -> list[SimLine]:
        out = []
        for spec in specs:
            if isinstance(spec, SimLine):
                out.append(spec)
                continue
            item = self.record("Item", spec["item_id"])
            qty = Decimal(str(spec.get("quantity", 1)))
            rate = Decimal(str(spec.get("rate", item.price or 0))).quantize(CENT)
            out.append(
                SimLine(
                    txn_line_id=self.data.new_txn_id(created),
                    item_id=item.list_id,
                    desc=spec.get("desc", item.desc),
                    quantity=qty,
                    rate=rate,
                    amount=(qty * rate).quantize(CENT),
                    sales_tax_code=item.sales_tax_code,
                )
            )
        return out

    def _add_sale(self, txn_type: str, now: datetime, values: dict[str, Any]) -> str:
        data, books = self.data, self.books
        customer_id = values.pop("customer_id", None)
        if customer_id is None:
            active = [c for c in data.customers.values() if c.is_active]
            if not active:
                raise ValueError(f"a new {txn_type} needs a customer")
            customer_id = books.rng.choice(active).list_id
        customer = self.record("Customer", customer_id)
        line_specs = values.pop("lines", None)
        if line_specs is None:
            sellable = [i for i in data.items.values() if i.sellable]
            if not sellable:
                raise ValueError(f"a new {txn_type} needs items to sell")
            lines = books.lines(self.lines_per_txn, now, txn_type, sellable)
        else:
            lines = self._lines(line_specs, now)
        txn = books.sale(txn_type, customer, now, now, lines)
        if "terms_id" in values and txn.terms_id is not None:
            txn.due_date = due_date(data.terms[values["terms_id"]], txn.txn_date)
        self._set_txn(txn, values)
        data.txns[txn_type][txn.txn_id] = txn
        data.refresh_balance(customer_id)
        return txn.txn_id

    def _set_txn(self, txn: SimTxn, values: dict[str, Any]) -> None:
        allowed = {f.name for f in fields(txn)} - MAINTAINED - {"customer_id"}
        for name, value in values.items():
            if name not in allowed:
                raise ValueError(f"{txn.txn_type} has no field {name!r} a user can set")
            setattr(txn, name, value)

    def _add_payment(self, now: datetime, values: dict[str, Any]) -> str:
        data = self.data
        invoices = data.txns["Invoice"]
        applied: dict[str, Any] | None = values.pop("applied", None)
        customer_id = values.pop("customer_id", None)
        if applied is None:
            if customer_id is None:
                raise ValueError("a new ReceivePayment needs customer_id or applied")
            open_invoices = [
                t
                for t in invoices.values()
                if t.customer_id == customer_id and t.balance_remaining > ZERO
            ]
            applied = (
                {open_invoices[0].txn_id: open_invoices[0].balance_remaining}
                if open_invoices
                else {}
            )
        applications = []
        for invoice_id, amount in applied.items():
            invoice = invoices.get(invoice_id)
            if invoice is None:
                raise ValueError(f"no invoice {invoice_id!r}")
            customer_id = customer_id or invoice.customer_id
            if invoice.customer_id != customer_id:
                raise ValueError(f"invoice {invoice_id} belongs to another customer")
            money = Decimal(str(amount)).quantize(CENT)
            if money <= ZERO or money > invoice.balance_remaining:
                raise ValueError("You cannot pay more than the amount due.")
            applications.append(SimApplication(invoice_id, money))
        if customer_id is None:
            raise ValueError("a new ReceivePayment needs customer_id or applied")
        self.record("Customer", customer_id)
        applied_total = sum((a.amount for a in applications), ZERO)
        total = Decimal(str(values.pop("payment_total", applied_total))).quantize(CENT)
        if total < applied_total:
            raise ValueError("payment_total is less than the amounts applied")
        payment = self.books.payment(customer_id, now, applications, total)
        self._set_txn(payment, values)
        data.txns["ReceivePayment"][payment.txn_id] = payment
        data.apply_payment(payment, now)
        data.refresh_balance(customer_id)
        return payment.txn_id

    def apply_credit(self, credit_memo_id: str, applied: dict[str, Any]) -> str:
        """Apply a credit memo's credit to invoices of its customer ({invoice_id: amount}), as
        QuickBooks' "Apply to invoice" does; return the credit memo's new EditSequence.

        QuickBooks refuses more than the invoice owes or the credit memo has left; a refused
        application changes nothing. The invoices are not saved (see CompanyData.apply_credit).
        """
        data = self.data
        memo = self.record("CreditMemo", credit_memo_id)
        invoices = data.txns["Invoice"]
        amounts: list[tuple[str, Decimal]] = []
        left = memo.balance_remaining
        for invoice_id, amount in applied.items():
            invoice = invoices.get(invoice_id)
            if invoice is None:
                raise ValueError(f"no invoice {invoice_id!r}")
            if invoice.customer_id != memo.customer_id:
                raise ValueError(f"invoice {invoice_id} belongs to another customer")
            money = Decimal(str(amount)).quantize(CENT)
            if money <= ZERO or money > invoice.balance_remaining:
                raise ValueError("You cannot apply more than the amount due.")
            if money > left:
                raise ValueError("The credit memo has not that much credit left.")
            left -= money
            amounts.append((invoice_id, money))
        for invoice_id, money in amounts:
            data.apply_credit(memo, invoice_id, money)
        return memo.edit_sequence

    def void(self, entity: str, txn_id: str) -> str:
        """Void a payment or credit memo (CompanyData.void); return its new EditSequence."""
        if entity not in VOIDABLE:
            raise SimulatorGap(f"voiding a {entity} is not simulated")
        self.record(entity, txn_id)
        return self.data.void(entity, txn_id).edit_sequence
