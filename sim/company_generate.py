"""Deterministic sample books: the same arguments always give the same company.

Everything comes from one ``random.Random(seed)`` drawn in a fixed order, and every timestamp
from a fixed window (January 2024 to June 2025, workstation time), so two runs over the same
arguments see byte-identical QuickBooks data. The data is meant to be awkward the way real books
are: ``&``, ``<``, quotes, accents and line breaks in names and memos, inactive records, jobs
under customers, sub-items, custom fields on some customers, partly paid and overdue invoices.
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from .company_data import ACCOUNTS, PAYMENT_METHODS, TEMPLATES, CompanyData
from .company_records import (
    ZERO,
    SimAddress,
    SimApplication,
    SimClass,
    SimCustomer,
    SimItem,
    SimLine,
    SimSalesRep,
    SimTerms,
    SimTxn,
    SimVendor,
)

WINDOW_START = datetime(2024, 1, 2, 9, 0)  # workstation wall-clock time
WINDOW_END = datetime(2025, 6, 30, 17, 0)
CLOCK_START = datetime(2025, 7, 1, 9, 0)  # the clock starts after all generated data
PUBLIC_OWNER = "0"
PUBLIC_FIELDS = (("Region", "STR255TYPE"), ("Tier", "STR255TYPE"))

_FIRST = ["Ada", "Björn", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Inés", "Jo", "Søren"]
_LAST = ["Smith", "O'Neil", "Müller", "García", "Nguyen", "Kowalski", "Brown", "Rossi", "Fässler"]
_KINDS = [
    "Supply",
    "Builders",
    "& Sons",
    "Consulting",
    "<Design>",
    "Café",
    '"Quoted" Ltd',
    "Hôtel & Spa",
]
_CITIES = [
    ("Springfield", "IL", "62701"),
    ("Austin", "TX", "73301"),
    ("Portland", "OR", "97201"),
    ("Boston", "MA", "02108"),
    ("Coeur d'Alene", "ID", "83814"),
    ("San José", "CA", "95113"),
]
_STREETS = ["Main St.", "Elm & 5th", "Rue de l'Église", "Oak Ave.", "Market St. #200"]
_JOBS = ["Kitchen remodel", "Roof & gutters", "Office fit-out", "Deck <phase 2>", 'Garage "annex"']
_JOB_STATUS = ["Awarded", "InProgress", "Pending", "Closed"]
_NOTES = [
    "Prefers email; never call after 5pm",
    "Pays by check & wants paper invoices",
    "Gate code <1234>",
    "Ask for Renée\nat the front desk",
]
_REGIONS = ["North", "South", "Île-de-France", "East & Coast", "<Unassigned>"]
_TIERS = ["Gold", "Silver", "Bronze"]
_VENDOR_WORDS = ["Acme", "Globex", "Initech", "Vandelay", "Wayne", "Soylent"]
_VENDOR_KINDS = ["Supply Co.", "Wholesale", "Imports & Exports", "Lumber", "Électrique"]
_MEMOS = [
    "Thank you for your business!",
    "Net 30 - please quote invoice # on payment",
    "Deliver to back door <loading dock>",
    'Customer asked for "rush" handling & tracking',
    "Prix spécial accordé",
]
# Item type of the n-th item: mostly services and goods, some charges, discounts and subtotals.
_TYPE_CYCLE = (
    "Service",
    "Inventory",
    "NonInventory",
    "Service",
    "OtherCharge",
    "Inventory",
    "Service",
    "NonInventory",
    "Discount",
    "Service",
    "Inventory",
    "NonInventory",
    "Service",
    "OtherCharge",
    "Inventory",
    "Service",
    "NonInventory",
    "Subtotal",
    "Service",
    "Inventory",
)
_ITEM_WORDS = {
    "Service": ["Consulting", "Installation", "Design <hourly>", "Repair & Maintenance", "Labor"],
    "Inventory": ["Hinge", 'Bolt 3/8"', "Café table", "Door handle", "Pipe ½ inch"],
    "NonInventory": ["Permit fee", "Special-order tile", "Crème paint", "Rental & setup"],
    "OtherCharge": ["Delivery", "Fuel surcharge", "Rush fee", "Restocking"],
    "Discount": ["Loyalty discount", "Promo <spring>"],
    "Subtotal": ["Subtotal"],
}
_INCOME = {
    "Service": "services",
    "Inventory": "merchandise",
    "NonInventory": "merchandise",
    "OtherCharge": "charges",
}
_TERMS = [
    ("Due on receipt", 0, None, None),
    ("Net 15", 15, None, None),
    ("Net 30", 30, None, None),
    ("Net 60", 60, None, None),
    ("1% 10 Net 30", 30, 10, Decimal("1.00")),
]
_REPS = [("EL", "Emily Lane"), ("MK", "Marc Kühn"), ("JR", "José Ruiz"), ("AO", "Aoife O'Hara")]
_CLASSES = [("East", None), ("West", None), ("Portland", "West"), ("Online & Retail", None)]
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Counts:
    """How many records of each kind to generate."""

    customers: int = 100
    vendors: int = 0
    items: int = 0
    estimates: int = 0
    sales_orders: int = 0
    invoices: int = 0
    sales_receipts: int = 0
    payments: int = 0
    credit_memos: int = 0
    lines_per_txn: int = 5

    def check(self) -> None:
        """Raise ValueError for counts no company can have."""
        for name in self.__dataclass_fields__:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        sales = self.estimates + self.sales_orders + self.invoices + self.sales_receipts
        sales += self.credit_memos
        if sales and (self.customers == 0 or self.items == 0):
            raise ValueError(
                "sales transactions need customers and items: pass customers=N, items=N"
            )
        if sales and self.lines_per_txn < 1:
            raise ValueError("lines_per_txn must be at least 1")
        if self.payments and self.customers == 0:
            raise ValueError("payments need customers: pass customers=N")


class SampleBooks:
    """Draws records from one random stream; used for the initial books and for ``add``."""

    def __init__(self, data: CompanyData, rng: random.Random, zone: tzinfo) -> None:
        self.data = data
        self.rng = rng
        self.zone = zone
        self._start = WINDOW_START.replace(tzinfo=zone)
        self._span = (WINDOW_END.replace(tzinfo=zone) - self._start).total_seconds()
        self._ref_numbers: dict[str, int] = {}
        # Recent top-level customers and items: candidates for parents of jobs and sub-items.
        self._recent_parents: list[SimCustomer] = []
        self._recent_items: dict[str, list[SimItem]] = {}
        self._vendor_ids: list[str] = []

    # --- time ------------------------------------------------------------------------------

    def at(self, fraction: float) -> datetime:
        """The instant ``fraction`` of the way through the window, to the second."""
        instant = self._start + timedelta(seconds=int(self._span * fraction))
        return instant.astimezone(self.zone)

    def later(self, when: datetime, max_days: float) -> datetime:
        """A random instant up to ``max_days`` after ``when``, never past the window."""
        end = WINDOW_END.replace(tzinfo=self.zone)
        room = max(0.0, min(max_days * 86400, (end - when).total_seconds()))
        return (when + timedelta(seconds=int(self.rng.random() * room))).astimezone(self.zone)

    # --- text ------------------------------------------------------------------------------

    def address(self) -> SimAddress:
        rng = self.rng
        city, state, postal = rng.choice(_CITIES)
        return SimAddress(
            addr1=f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}",
            addr2=f"Suite {rng.randint(100, 999)}" if rng.random() < 0.2 else None,
            city=city,
            state=state,
            postal_code=postal,
            country="US",
        )

    def next_ref(self, txn_type: str) -> str:
        start = {"Invoice": 1000, "SalesReceipt": 5000, "CreditMemo": 8000}.get(txn_type, 1)
        number = self._ref_numbers.get(txn_type, start) + 1
        self._ref_numbers[txn_type] = number
        return str(number)

    # --- fixed lists -----------------------------------------------------------------------

    def fixed_lists(self) -> None:
        """Terms, sales reps and classes every sample company has."""
        data = self.data
        when = self.at(0)
        for name, due, disc_days, pct in _TERMS:
            t = SimTerms(data.new_list_id(when), name, when, when, _es(when))
            t.due_days, t.discount_days, t.discount_pct = due, disc_days, pct
            data.terms[t.list_id] = t
        t = SimTerms(data.new_list_id(when), "10th of next month", when, when, _es(when))
        t.day_of_month_due, t.due_next_month_days = 10, 5
        data.terms[t.list_id] = t
        for initial, person in _REPS:
            employee_id = data.new_list_id(when)
            data.other_names[employee_id] = person
            rep = SimSalesRep(data.new_list_id(when), initial, when, when, _es(when))
            rep.entity_id, rep.entity_name = employee_id, person
            data.sales_reps[rep.list_id] = rep
        by_name: dict[str, str] = {}
        for name, parent in _CLASSES:
            c = SimClass(data.new_list_id(when), name, when, when, _es(when))
            c.parent_id = by_name.get(parent) if parent else None
            by_name[name] = c.list_id
            data.classes[c.list_id] = c
        for name, ext_type in PUBLIC_FIELDS:
            data.define_ext(PUBLIC_OWNER, name, ext_type, ("Customer",))

    # --- lists -----------------------------------------------------------------------------

    def customer(self, index: int, created: datetime, modified: datetime) -> SimCustomer:
        """The ``index``-th sample customer (or a job under an earlier one)."""
        rng, data = self.rng, self.data
        parents = self._recent_parents
        is_job = index > 10 and index % 12 == 0 and bool(parents)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        bill = self.address()
        parent = rng.choice(parents) if is_job else None
        if parent is not None:
            name = f"{rng.choice(_JOBS)} {index}"
            company = parent.company_name
        else:
            name = f"{last} {rng.choice(_KINDS)} {index}"[:41]
            company = f"{last} {rng.choice(_KINDS)}"[:41]
        c = SimCustomer(
            list_id=data.new_list_id(created),
            name=name,
            time_created=created,
            time_modified=modified,
            edit_sequence=_es(modified),
            is_active=rng.random() > 0.05,
            company_name=company,
            first_name=first,
            last_name=last,
            city=bill.city,
            state=bill.state,
            phone=f"555-{rng.randint(1000, 9999)}",
            email=f"{first.lower()}.{index}@example.com",
        )
        c.bill_address = bill
        c.parent_id = parent.list_id if parent is not None else None
        c.salutation = rng.choice(["Mr.", "Ms.", "Dr.", None, None])
        roll = rng.random()
        c.ship_address = (
            SimAddress(**_address_fields(bill))
            if roll < 0.4
            else self.address()
            if roll < 0.6
            else None
        )
        c.alt_phone = f"555-{rng.randint(1000, 9999)}" if rng.random() < 0.2 else None
        c.contact = f"{first} {last}"
        c.terms_id = rng.choice(list(data.terms)) if rng.random() < 0.7 else None
        c.sales_rep_id = rng.choice(list(data.sales_reps)) if rng.random() < 0.5 else None
        c.class_id = rng.choice(list(data.classes)) if rng.random() < 0.2 else None
        c.sales_tax_code = rng.choice(["Tax", "Non"])
        c.account_number = f"A-{index:05d}" if rng.random() < 0.4 else None
        c.credit_limit = Decimal(rng.randint(10, 500) * 100) if rng.random() < 0.3 else None
        c.job_status = rng.choice(_JOB_STATUS) if parent is not None else "None"
        c.notes = rng.choice(_NOTES) if rng.random() < 0.15 else None
        if parent is None:
            parents.append(c)
            del parents[:-40]
        if rng.random() < 0.3:
            data.set_ext(c.list_id, PUBLIC_OWNER, "Region", rng.choice(_REGIONS))
            if rng.random() < 0.5:
                data.set_ext(c.list_id, PUBLIC_OWNER, "Tier", rng.choice(_TIERS))
        return c

    def vendor(self, index: int, created: datetime, modified: datetime) -> SimVendor:
        rng, data = self.rng, self.data
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        name = f"{rng.choice(_VENDOR_WORDS)} {rng.choice(_VENDOR_KINDS)} V{index}"[:41]
        v = SimVendor(
            list_id=data.new_list_id(created),
            name=name,
            time_created=created,
            time_modified=modified,
            edit_sequence=_es(modified),
            is_active=rng.random() > 0.05,
            company_name=name,
            first_name=first,
            last_name=last,
            address=self.address(),
            phone=f"555-{rng.randint(1000, 9999)}",
            email=f"orders.{index}@vendor.example.com",
        )
        v.contact = f"{first} {last}"
        v.name_on_check = name
        v.account_number = f"CUST-{rng.randint(10000, 99999)}" if rng.random() < 0.5 else None
        v.terms_id = rng.choice(list(data.terms)) if rng.random() < 0.6 else None
        v.is_1099 = rng.random() < 0.2
        v.tax_ident = (
            f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}" if v.is_1099 else None
        )
        return v

    def item(
        self, index: int, created: datetime, modified: datetime, item_type: str | None = None
    ) -> SimItem:
        rng, data = self.rng, self.data
        item_type = item_type or _TYPE_CYCLE[(index - 1) % len(_TYPE_CYCLE)]
        word = rng.choice(_ITEM_WORDS[item_type])
        item = SimItem(
            list_id=data.new_list_id(created),
            item_type=item_type,
            name=f"{word} {index}"[:31],
            time_created=created,
            time_modified=modified,
            edit_sequence=_es(modified),
            is_active=rng.random() > 0.05,
        )
        if item_type == "Subtotal":
            item.desc = "Subtotal"
            return item
        siblings = self._recent_items.setdefault(item_type, [])
        if item_type in ("Inventory", "NonInventory") and siblings and rng.random() < 0.15:
            item.parent_id = rng.choice(siblings).list_id
        else:
            siblings.append(item)
            del siblings[:-30]
        if item_type == "Discount":
            item.desc = f"{word} - applied before tax"
            if rng.random() < 0.5:
                item.price_percent = Decimal(rng.choice([5, 10, 15]))
            else:
                item.price = Decimal(rng.randint(5, 50))
            item.account_id = ACCOUNTS["discounts"][0]
            item.sales_tax_code = "Non"
            return item
        item.desc = f"{word}: {rng.choice(['standard', 'premium <grade A>', 'per hour & travel'])}"
        if item_type == "Service" and rng.random() < 0.2:
            item.desc += "\nIncludes site visit"
        item.price = (Decimal(rng.randint(500, 50000)) / 100).quantize(CENT)
        item.account_id = ACCOUNTS[_INCOME[item_type]][0]
        item.sales_tax_code = "Non" if item_type in ("Service", "OtherCharge") else "Tax"
        if len(self._vendor_ids) != len(data.vendors):
            self._vendor_ids = list(data.vendors)
        vendors = self._vendor_ids
        if item_type == "Inventory" or rng.random() < 0.3:
            item.purchase_desc = f"{word} (purchase)"
            item.purchase_cost = (item.price * Decimal(rng.randint(40, 80)) / 100).quantize(CENT)
            expense = "cogs" if item_type == "Inventory" else "materials"
            item.expense_account_id = ACCOUNTS[expense][0]
            item.pref_vendor_id = rng.choice(vendors) if vendors and rng.random() < 0.7 else None
        if item_type in ("Inventory", "NonInventory") and rng.random() < 0.5:
            item.manufacturer_part_number = f"MPN-{rng.randint(10000, 99999)}"
        if item_type == "Inventory":
            item.asset_account_id = ACCOUNTS["inventory"][0]
            item.reorder_point = Decimal(rng.randint(0, 20))
            item.quantity_on_hand = Decimal(rng.randint(0, 500))
            item.average_cost = item.purchase_cost
            item.quantity_on_order = Decimal(rng.randint(0, 50))
            item.quantity_on_sales_order = ZERO
        return item

    # --- transactions ----------------------------------------------------------------------

    def lines(
        self, count: int, created: datetime, txn_type: str, sellable: list[SimItem]
    ) -> list[SimLine]:
        rng, data = self.rng, self.data
        out = []
        for _ in range(count):
            item = rng.choice(sellable)
            if item.item_type == "Service" and rng.random() < 0.3:
                quantity = Decimal(rng.randint(2, 16)) / 2
            else:
                quantity = Decimal(rng.randint(1, 10))
            rate = (
                item.price if rng.random() < 0.85 else (item.price * Decimal("0.9")).quantize(CENT)
            )
            assert rate is not None
            line = SimLine(
                txn_line_id=data.new_txn_id(created),
                item_id=item.list_id,
                desc=item.desc,
                quantity=quantity,
                rate=rate,
                amount=(quantity * rate).quantize(CENT),
                sales_tax_code=item.sales_tax_code,
            )
            if txn_type == "Invoice" and item.item_type == "Service" and rng.random() < 0.3:
                line.service_date = created.date() - timedelta(days=rng.randint(0, 14))
            if rng.random() < 0.1:
                line.class_id = rng.choice(list(data.classes))
            out.append(line)
        return out

    def sale(
        self,
        txn_type: str,
        customer: SimCustomer,
        created: datetime,
        modified: datetime,
        lines: list[SimLine],
    ) -> SimTxn:
        """An estimate, sales order, invoice, sales receipt or credit memo."""
        rng, data = self.rng, self.data
        txn = SimTxn(
            txn_id=data.new_txn_id(created),
            txn_type=txn_type,
            time_created=created,
            time_modified=modified,
            edit_sequence=_es(modified),
            txn_number=data.new_txn_number(),
            customer_id=customer.list_id,
            txn_date=created.date(),
            ref_number=self.next_ref(txn_type),
            lines=lines,
        )
        txn.template_id = TEMPLATES[txn_type][0]
        txn.bill_address = SimAddress(
            **{
                **_address_fields(customer.bill_address or SimAddress()),
                "city": customer.city,
                "state": customer.state,
            }
        )
        if customer.ship_address is not None:
            txn.ship_address = SimAddress(**_address_fields(customer.ship_address))
        txn.memo = rng.choice(_MEMOS) if rng.random() < 0.4 else None
        txn.class_id = customer.class_id
        txn.is_to_be_printed = rng.random() < 0.3
        txn.is_to_be_emailed = not txn.is_to_be_printed and rng.random() < 0.6
        if txn_type != "Estimate":
            txn.is_pending = False if txn_type != "SalesOrder" else None
        if txn_type in ("Invoice", "Estimate", "SalesOrder", "CreditMemo"):
            txn.po_number = f"PO-{rng.randint(1000, 99999)}" if rng.random() < 0.3 else None
            txn.sales_rep_id = customer.sales_rep_id
        if txn_type in ("Invoice", "CreditMemo", "SalesOrder", "Estimate"):
            txn.terms_id = customer.terms_id or rng.choice(list(data.terms))
            txn.due_date = due_date(data.terms[txn.terms_id], txn.txn_date)
        if txn_type in ("Invoice", "SalesOrder", "SalesReceipt") and rng.random() < 0.4:
            txn.ship_date = txn.txn_date + timedelta(days=rng.randint(0, 5))
        if txn_type == "Estimate":
            txn.is_active = rng.random() > 0.1
        if txn_type == "SalesOrder":
            txn.is_manually_closed = rng.random() < 0.05
        if txn_type == "SalesReceipt":
            method = rng.choice(list(PAYMENT_METHODS))
            txn.payment_method_id = PAYMENT_METHODS[method]
            txn.check_number = str(rng.randint(100, 9999)) if method == "Check" else None
            txn.deposit_account_id = ACCOUNTS["undeposited"][0]
            txn.due_date = txn.txn_date
        return txn

    def payment(
        self,
        customer_id: str,
        created: datetime,
        applications: list[SimApplication],
        total: Decimal,
    ) -> SimTxn:
        rng, data = self.rng, self.data
        method = rng.choice(list(PAYMENT_METHODS))
        txn = SimTxn(
            txn_id=data.new_txn_id(created),
            txn_type="ReceivePayment",
            time_created=created,
            time_modified=created,
            edit_sequence=_es(created),
            txn_number=data.new_txn_number(),
            customer_id=customer_id,
            txn_date=created.date(),
            ref_number=str(rng.randint(1000, 99999)) if method == "Check" else None,
            applications=applications,
            payment_total=total,
        )
        txn.payment_method_id = PAYMENT_METHODS[method]
        txn.deposit_account_id = ACCOUNTS["undeposited"][0]
        txn.memo = "Partial payment - balance to follow" if rng.random() < 0.1 else None
        return txn


def due_date(terms: SimTerms, txn_date: date) -> date:
    """When a transaction on ``terms`` falls due."""
    if terms.date_driven:
        year, month = (txn_date.year + (txn_date.month == 12), txn_date.month % 12 + 1)
        return date(year, month, terms.day_of_month_due or 1)
    return txn_date + timedelta(days=terms.due_days or 0)


def populate(data: CompanyData, counts: Counts, seed: int) -> None:
    """Fill ``data`` with the books ``counts`` and ``seed`` describe."""
    counts.check()
    books = SampleBooks(data, random.Random(seed), data.workstation.zone)
    rng = books.rng
    books.fixed_lists()

    def spread(n: int, lo: float, hi: float) -> list[datetime]:
        return [books.at(lo + (hi - lo) * (k + 1) / (n + 1)) for k in range(n)]

    for i, created in enumerate(spread(counts.vendors, 0.0, 0.1), start=1):
        v = books.vendor(i, created, books.later(created, 200))
        data.vendors[v.list_id] = v
    for i, created in enumerate(spread(counts.items, 0.0, 0.15), start=1):
        item = books.item(i, created, books.later(created, 200))
        data.items[item.list_id] = item
    for i, created in enumerate(spread(counts.customers, 0.0, 0.6), start=1):
        modified = books.later(created, 300) if rng.random() < 0.7 else created
        c = books.customer(i, created, modified)
        data.customers[c.list_id] = c
    data.customers_changed()
    sellable = [i for i in data.items.values() if i.sellable]  # the first item is a service
    customers = list(data.customers.values())
    joined = [c.time_created for c in customers]
    for txn_type, n in (
        ("Estimate", counts.estimates),
        ("SalesOrder", counts.sales_orders),
        ("Invoice", counts.invoices),
        ("SalesReceipt", counts.sales_receipts),
        ("CreditMemo", counts.credit_memos),
    ):
        for created in spread(n, 0.2, 0.97):
            created = created + timedelta(minutes=rng.randint(0, 400))
            # A customer who existed by then.
            customer = customers[rng.randrange(max(1, bisect.bisect_right(joined, created)))]
            created = max(created, customer.time_created)
            modified = books.later(created, 20) if rng.random() < 0.3 else created
            lines = books.lines(counts.lines_per_txn, created, txn_type, sellable)
            txn = books.sale(txn_type, customer, created, modified, lines)
            data.txns[txn_type][txn.txn_id] = txn
    _payments(books, counts.payments, customers)
    for customer in customers:
        customer.balance = ZERO
    for table in data.txns.values():
        for txn in table.values():
            customer = data.customers[txn.customer_id]
            if txn.txn_type == "Invoice":
                customer.balance += txn.balance_remaining
            elif txn.txn_type in ("CreditMemo", "ReceivePayment"):
                customer.balance -= txn.balance_remaining


def _payments(books: SampleBooks, n: int, customers: list[SimCustomer]) -> None:
    """Payments on invoices, in date order: most pay an invoice in full, some in part, a few
    pay two invoices of the customer, and with no open invoice left one stays unapplied."""
    data, rng = books.data, books.rng
    invoices = list(data.txns["Invoice"].values())
    by_customer: dict[str, list[SimTxn]] = {}
    for invoice in invoices:
        by_customer.setdefault(invoice.customer_id, []).append(invoice)
    planned = []
    for _ in range(n):
        invoice = rng.choice(invoices) if invoices else None
        base = invoice.time_created if invoice is not None else books.at(0.3)
        planned.append((books.later(base, 60), invoice))
    planned.sort(key=lambda p: p[0])
    for created, first in planned:
        open_invoices = [first] if first is not None and first.balance_remaining > ZERO else []
        if first is not None and open_invoices and rng.random() < 0.1:
            more = [
                t
                for t in by_customer[first.customer_id]
                if t is not first and t.balance_remaining > ZERO and t.time_created <= created
            ]
            open_invoices += more[:1]
        applications = []
        for invoice in open_invoices:
            owed = invoice.balance_remaining
            amount = (
                owed if rng.random() < 0.7 else (owed * rng.randint(20, 80) / 100).quantize(CENT)
            )
            applications.append(SimApplication(invoice.txn_id, max(amount, CENT)))
        total = sum((a.amount for a in applications), ZERO)
        if not applications:
            customer_id = first.customer_id if first is not None else rng.choice(customers).list_id
            total = Decimal(rng.randint(1000, 100000)) / 100
        else:
            customer_id = first.customer_id if first is not None else ""
        payment = books.payment(customer_id, created, applications, total)
        data.txns["ReceivePayment"][payment.txn_id] = payment
        data.apply_payment(payment, created)


def _es(when: datetime) -> str:
    return str(int(when.timestamp()))


def _address_fields(address: SimAddress) -> dict[str, Any]:
    return {name: getattr(address, name) for name in SimAddress.__dataclass_fields__}
