"""The company behind the fake QuickBooks Online: entities shaped like Intuit's JSON, a seeded
generator, and the edits tests make through Python (changes, deletions, merges, payments, voids).

Every object carries ``Id``, ``SyncToken`` (bumped on each change) and
``MetaData.CreateTime``/``LastUpdatedTime`` in the company's UTC offset, as Intuit writes them.
Each change is also an *event* (entity, id, operation, time) for the webhook sender; deleted
and merged-away objects are remembered for change data capture, which reports them as
``{"Id": ..., "status": "Deleted", "MetaData": {...}}``.
"""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

ENTITIES = ("Customer", "Item", "Estimate", "Invoice", "SalesReceipt", "Payment", "CreditMemo")
# Names (lists) cannot be deleted in QuickBooks Online, only made inactive or merged.
NAME_ENTITIES = ("Customer", "Item")
TRANSACTIONS = ("Estimate", "Invoice", "SalesReceipt", "CreditMemo")

_FIRST = ("Ada", "Bea", "Carl", "Dana", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lia")
_LAST = ("Ng", "Okafor", "Petrov", "Quinn", "Rossi", "Sato", "Tran", "Ueda", "Vega", "Weiss")
_CITIES = (("Austin", "TX", "78701"), ("Denver", "CO", "80202"), ("Fresno", "CA", "93701"))
_PRODUCTS = ("Widget", "Gadget", "Sprocket", "Flange", "Bracket", "Gasket", "Valve", "Hinge")


def qbo_time(moment: datetime, offset: timezone) -> str:
    """A time as Intuit writes it: seconds, with the company's UTC offset (``-07:00``)."""
    return moment.astimezone(offset).replace(microsecond=0).isoformat()


def parse_time(text: str) -> datetime:
    """An ISO-8601 date or date-time as QBO accepts it; zone-less values are UTC."""
    value = datetime.fromisoformat(text.strip())
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Event:
    """One change for the webhook sender: QBO's entity name, Id, operation and when."""

    entity: str
    id: str
    operation: str  # Create | Update | Delete | Merge | Void
    at: datetime
    realm_id: str = ""


@dataclass(slots=True)
class Tombstone:
    """A deleted (or merged-away) object, as change data capture reports it."""

    id: str
    deleted_at: datetime


class QboCompany:
    """One realm's data. Thread-safe: the HTTP fake and the tests' edits share it."""

    def __init__(
        self,
        realm_id: str,
        clock: Callable[[], datetime],
        offset: timezone = timezone(timedelta(hours=-7)),
    ) -> None:
        self.realm_id = realm_id
        self.clock = clock
        self.offset = offset
        self.objects: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.tombstones: dict[str, dict[str, Tombstone]] = {e: {} for e in ENTITIES}
        self.events: list[Event] = []
        # DisplayNames of vendors and employees (not served as entities): a customer may not
        # take one (6240), as QuickBooks Online keeps names unique across the three.
        self.other_names: dict[str, str] = {}  # name -> "Vendor" | "Employee"
        # Each entity has its own Id sequence, as in QuickBooks Online.
        self._next_id = dict.fromkeys(ENTITIES, 1)
        self.lock = threading.RLock()

    # Reading.

    def get(self, entity: str, obj_id: str) -> dict[str, Any] | None:
        """A copy of the live object, or None."""
        with self.lock:
            found = self.objects[entity].get(obj_id)
            return copy.deepcopy(found) if found else None

    def all(self, entity: str) -> list[dict[str, Any]]:
        """Copies of every live object of ``entity``, by numeric Id."""
        with self.lock:
            return [
                copy.deepcopy(o)
                for o in sorted(self.objects[entity].values(), key=lambda o: int(o["Id"]))
            ]

    def count(self, entity: str | None = None) -> int:
        """Live objects of one entity (or of all)."""
        with self.lock:
            names = [entity] if entity else list(ENTITIES)
            return sum(len(self.objects[n]) for n in names)

    # Writing (the primitives every change goes through).

    def _stamp(self, obj: dict[str, Any], created: bool) -> None:
        now = qbo_time(self.clock(), self.offset)
        meta = obj.setdefault("MetaData", {})
        if created:
            meta["CreateTime"] = now
            obj["SyncToken"] = "0"
        else:
            obj["SyncToken"] = str(int(obj.get("SyncToken", "0")) + 1)
        meta["LastUpdatedTime"] = now

    def _event(self, entity: str, obj_id: str, operation: str) -> None:
        self.events.append(Event(entity, obj_id, operation, self.clock(), self.realm_id))

    def add(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Create an object from ``fields`` (no Id); the stored copy."""
        with self.lock:
            obj = {k: copy.deepcopy(v) for k, v in fields.items() if k not in ("Id", "sparse")}
            obj["Id"] = str(self._next_id[entity])
            self._next_id[entity] += 1
            obj.setdefault("domain", "QBO")
            obj["sparse"] = False
            self._derive(entity, obj)
            self._stamp(obj, created=True)
            self.objects[entity][obj["Id"]] = obj
            self._event(entity, obj["Id"], "Create")
            return copy.deepcopy(obj)

    def edit(self, entity: str, obj_id: str, **changes: Any) -> dict[str, Any]:
        """Change fields of a live object (a value of None removes the field)."""
        with self.lock:
            obj = self.objects[entity][obj_id]
            for key, value in changes.items():
                if value is None:
                    obj.pop(key, None)
                else:
                    obj[key] = copy.deepcopy(value)
            self._derive(entity, obj)
            self._stamp(obj, created=False)
            self._event(entity, obj_id, "Update")
            return copy.deepcopy(obj)

    def replace(self, entity: str, obj_id: str, body: dict[str, Any], sparse: bool) -> dict:
        """An API update: sparse keeps omitted fields, full drops them (Intuit sets them NULL)."""
        with self.lock:
            old = self.objects[entity][obj_id]
            keep = {"Id", "MetaData", "SyncToken", "domain"}
            if sparse:
                obj = copy.deepcopy(old)
            else:
                obj = {k: v for k, v in copy.deepcopy(old).items() if k in keep}
            for key, value in body.items():
                if key not in keep and key != "sparse":
                    obj[key] = copy.deepcopy(value)
            obj["sparse"] = False
            self._derive(entity, obj)
            self._stamp(obj, created=False)
            self.objects[entity][obj_id] = obj
            self._event(entity, obj_id, "Update")
            return copy.deepcopy(obj)

    def delete(self, entity: str, obj_id: str) -> None:
        """Delete a transaction (names are made inactive, as QuickBooks Online does)."""
        with self.lock:
            if entity in NAME_ENTITIES:
                self.edit(entity, obj_id, Active=False)
                return
            self.objects[entity].pop(obj_id)
            self.tombstones[entity][obj_id] = Tombstone(obj_id, self.clock())
            self._event(entity, obj_id, "Delete")

    def merge(self, entity: str, from_id: str, into_id: str) -> None:
        """Merge one name into another: references move, the merged-away one is gone."""
        with self.lock:
            if entity not in NAME_ENTITIES:
                raise ValueError(f"only {NAME_ENTITIES} merge")
            ref = "CustomerRef" if entity == "Customer" else "ItemRef"
            target = self.objects[entity][into_id]
            name = target.get("DisplayName") or target.get("Name")
            for txn_entity in (*TRANSACTIONS, "Payment"):
                for txn in list(self.objects[txn_entity].values()):
                    if _repoint(txn, ref, from_id, into_id, name):
                        self._derive(txn_entity, txn)
                        self._stamp(txn, created=False)
                        self._event(txn_entity, txn["Id"], "Update")
            self.objects[entity].pop(from_id)
            self.tombstones[entity][from_id] = Tombstone(from_id, self.clock())
            self._event(entity, from_id, "Merge")

    def void(self, entity: str, obj_id: str) -> dict[str, Any]:
        """Void a transaction: amounts become zero, the object stays."""
        with self.lock:
            obj = self.objects[entity][obj_id]
            for line in obj.get("Line", []):
                line["Amount"] = 0
                detail = line.get("SalesItemLineDetail")
                if detail:
                    detail["Qty"] = 0
            obj["PrivateNote"] = "Voided"
            if entity == "Payment":
                obj["TotalAmt"] = 0
                self._unapply(obj)
                obj["Line"] = []
            self._derive(entity, obj)
            self._stamp(obj, created=False)
            self._event(entity, obj_id, "Void")
            return copy.deepcopy(obj)

    def pay(self, invoice_id: str, amount: float | None = None) -> dict[str, Any]:
        """Receive a payment against an invoice (all of its balance by default)."""
        with self.lock:
            inv = self.objects["Invoice"][invoice_id]
            paid = round(float(inv["Balance"]) if amount is None else amount, 2)
            payment = self.add(
                "Payment",
                {
                    "CustomerRef": dict(inv["CustomerRef"]),
                    "TxnDate": self.clock().astimezone(self.offset).date().isoformat(),
                    "TotalAmt": paid,
                    "UnappliedAmt": 0,
                    "Line": [
                        {"Amount": paid, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}
                    ],
                },
            )
            inv["Balance"] = round(float(inv["Balance"]) - paid, 2)
            self._stamp(inv, created=False)
            self._event("Invoice", invoice_id, "Update")
            return payment

    def _unapply(self, payment: dict[str, Any]) -> None:
        for line in payment.get("Line", []):
            for link in line.get("LinkedTxn", []):
                inv = self.objects["Invoice"].get(link.get("TxnId"))
                if inv is not None and link.get("TxnType") == "Invoice":
                    inv["Balance"] = round(float(inv["Balance"]) + float(line["Amount"]), 2)
                    self._stamp(inv, created=False)
                    self._event("Invoice", inv["Id"], "Update")

    def _derive(self, entity: str, obj: dict[str, Any]) -> None:
        """Totals QuickBooks computes itself (TotalAmt from the lines, a new Balance)."""
        if entity not in TRANSACTIONS:
            return
        lines = [ln for ln in obj.get("Line", []) if ln.get("DetailType") == "SalesItemLineDetail"]
        for number, line in enumerate(lines, 1):
            line.setdefault("Id", str(number))
            line["LineNum"] = number
            detail = line["SalesItemLineDetail"]
            if "Qty" in detail and "UnitPrice" in detail:
                line["Amount"] = round(float(detail["Qty"]) * float(detail["UnitPrice"]), 2)
        total = round(sum(float(ln.get("Amount", 0)) for ln in lines), 2)
        obj["Line"] = [*lines, {"Amount": total, "DetailType": "SubTotalLineDetail"}]
        before = float(obj.get("TotalAmt", total))
        obj["TotalAmt"] = total
        if entity == "Invoice":
            paid = before - float(obj.get("Balance", before))
            obj["Balance"] = round(max(total - paid, 0.0), 2)
        elif entity == "SalesReceipt":
            obj["Balance"] = 0
        elif entity == "CreditMemo":
            obj["RemainingCredit"] = total
        elif entity == "Estimate":
            obj.setdefault("TxnStatus", "Pending")

    # Change data capture.

    def changed_since(self, entity: str, since: datetime) -> list[dict[str, Any]]:
        """Live objects updated after ``since`` and tombstones deleted after it, in time order."""
        with self.lock:
            out: list[tuple[datetime, dict[str, Any]]] = []
            for obj in self.objects[entity].values():
                moment = parse_time(obj["MetaData"]["LastUpdatedTime"])
                if moment >= since:
                    out.append((moment, copy.deepcopy(obj)))
            for stone in self.tombstones[entity].values():
                if stone.deleted_at >= since:
                    stamp = qbo_time(stone.deleted_at, self.offset)
                    gone = {"Id": stone.id, "status": "Deleted", "domain": "QBO"}
                    gone["MetaData"] = {"LastUpdatedTime": stamp}
                    out.append((stone.deleted_at, gone))
            return [obj for _, obj in sorted(out, key=lambda pair: pair[0])]

    # Generation.

    def generate(self, seed: int, customers: int = 12, items: int = 6, invoices: int = 10) -> None:
        """A small realistic company: customers, items, estimates, invoices, a few payments."""
        rng = random.Random(seed)
        with self.lock:
            cust_ids = [self.add("Customer", _customer(rng, n))["Id"] for n in range(customers)]
            item_ids = [self.add("Item", _item(rng, n))["Id"] for n in range(items)]
            names = {i: self.objects["Item"][i]["Name"] for i in item_ids}
            prices = {i: self.objects["Item"][i]["UnitPrice"] for i in item_ids}
            today = self.clock().astimezone(self.offset).date()
            for n in range(invoices):
                cust = self.objects["Customer"][rng.choice(cust_ids)]
                chosen = rng.sample(item_ids, k=min(len(item_ids), rng.randint(1, 3)))
                lines = [
                    {
                        "DetailType": "SalesItemLineDetail",
                        "Description": names[i],
                        "SalesItemLineDetail": {
                            "ItemRef": {"value": i, "name": names[i]},
                            "Qty": rng.randint(1, 9),
                            "UnitPrice": prices[i],
                        },
                    }
                    for i in chosen
                ]
                txn_date = today - timedelta(days=rng.randint(0, 60))
                common = {
                    "CustomerRef": {"value": cust["Id"], "name": cust["DisplayName"]},
                    "TxnDate": txn_date.isoformat(),
                    "Line": lines,
                    "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
                    "BillAddr": copy.deepcopy(cust["BillAddr"]),
                }
                kind = ("Invoice", "Invoice", "Estimate", "SalesReceipt", "CreditMemo")[n % 5]
                fields = {**common, "DocNumber": f"{1001 + n}"}
                if kind == "Invoice":
                    fields["DueDate"] = (txn_date + timedelta(days=30)).isoformat()
                if kind == "Estimate":
                    fields["ExpirationDate"] = (txn_date + timedelta(days=14)).isoformat()
                created = self.add(kind, fields)
                if kind == "Invoice" and n % 3 == 0:
                    self.pay(created["Id"])


def _repoint(txn: dict[str, Any], ref: str, old: str, new: str, name: str) -> bool:
    changed = False
    if ref == "CustomerRef" and txn.get(ref, {}).get("value") == old:
        txn[ref] = {"value": new, "name": name}
        changed = True
    for line in txn.get("Line", []):
        detail = line.get("SalesItemLineDetail") or {}
        if detail.get(ref, {}).get("value") == old:
            detail[ref] = {"value": new, "name": name}
            changed = True
    return changed


def _customer(rng: random.Random, n: int) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    city, state, postal = rng.choice(_CITIES)
    company = f"{last} {rng.choice(('Supply', 'Labs', 'Works', 'Traders'))} {n + 1}"
    return {
        "DisplayName": company,
        "CompanyName": company,
        "GivenName": first,
        "FamilyName": last,
        "PrintOnCheckName": company,
        "Active": True,
        "Taxable": rng.random() < 0.5,
        "Balance": 0,
        "BalanceWithJobs": 0,
        "PrimaryEmailAddr": {"Address": f"{first.lower()}.{last.lower()}{n}@example.com"},
        "PrimaryPhone": {"FreeFormNumber": f"(512) 555-{1000 + n:04d}"},
        # Intuit returns ISO-3 country codes since 2025.
        "BillAddr": {
            "Id": str(100 + n),
            "Line1": f"{rng.randint(1, 999)} Main St",
            "City": city,
            "CountrySubDivisionCode": state,
            "PostalCode": postal,
            "Country": "USA",
        },
        "CurrencyRef": {"value": "USD", "name": "United States Dollar"},
        "PreferredDeliveryMethod": "Email",
    }


def _item(rng: random.Random, n: int) -> dict[str, Any]:
    name = f"{_PRODUCTS[n % len(_PRODUCTS)]} {n + 1}"
    kind = ("Service", "NonInventory", "Inventory")[n % 3]
    item: dict[str, Any] = {
        "Name": name,
        "FullyQualifiedName": name,
        "Description": f"{name} as sold",
        "Sku": f"SKU-{n + 1:04d}",
        "Active": True,
        "Type": kind,
        "UnitPrice": round(rng.uniform(5, 250), 2),
        "Taxable": True,
        "IncomeAccountRef": {"value": "79", "name": "Sales of Product Income"},
    }
    if kind == "Inventory":
        item.update(QtyOnHand=rng.randint(0, 100), TrackQtyOnHand=True, InvStartDate="2024-01-01")
    return item
