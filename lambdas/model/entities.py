"""The entity table: every entity the relay syncs, in the order sessions and the forwarder run.

One row per canonical entity says what kind it is (a list element, a transaction or a deletion
record), which qbxml record type carries it, how a summary names it and which ZOHO modules the
default mapping writes it to. The sync plan, the forwarder, the mapping catalogue and the
summaries all read this table; nothing else lists entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from qbxml.records import (
    CreditMemo,
    Customer,
    Estimate,
    Invoice,
    Item,
    ListDeleted,
    ReceivePayment,
    SalesOrder,
    SalesReceipt,
    TxnDeleted,
    Vendor,
)


class Kind(StrEnum):
    """What an entity's records are."""

    LIST = "list"  # keyed by ListID; transactions refer to them
    TXN = "txn"  # keyed by TxnID
    DELETION = "deletion"  # a ListDeleted / TxnDeleted record naming what went away


@dataclass(frozen=True, slots=True)
class Entity:
    """One row of the entity table."""

    name: str
    kind: Kind
    record_type: type
    singular: str
    plural: str
    # Synced by a new tenant unless told otherwise (what the default CRM mapping uses).
    default: bool
    # ZOHO modules the default mapping writes (the first is the record's own module).
    zoho_modules: tuple[str, ...] = ()

    @property
    def id_field(self) -> str:
        """The canonical field holding the QuickBooks id."""
        return "list_id" if self.kind is Kind.LIST else "txn_id"


# Lists before the transactions that refer to them, payments after the invoices they pay,
# deletions last: the order of a session's plan and of the forwarder's writes alike.
ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity("Item", Kind.LIST, Item, "item", "items", True, ("Products",)),
        Entity(
            "Customer", Kind.LIST, Customer, "customer", "customers", True, ("Accounts", "Contacts")
        ),
        Entity("Vendor", Kind.LIST, Vendor, "vendor", "vendors", False),
        Entity("Estimate", Kind.TXN, Estimate, "estimate", "estimates", True, ("Quotes",)),
        Entity(
            "SalesOrder",
            Kind.TXN,
            SalesOrder,
            "sales order",
            "sales orders",
            True,
            ("Sales_Orders",),
        ),
        Entity("Invoice", Kind.TXN, Invoice, "invoice", "invoices", True, ("Invoices",)),
        Entity("SalesReceipt", Kind.TXN, SalesReceipt, "sales receipt", "sales receipts", False),
        Entity(
            "ReceivePayment", Kind.TXN, ReceivePayment, "payment", "payments", True, ("Invoices",)
        ),
        Entity("CreditMemo", Kind.TXN, CreditMemo, "credit memo", "credit memos", False),
        Entity("ListDeleted", Kind.DELETION, ListDeleted, "list deletion", "list deletions", True),
        Entity(
            "TxnDeleted",
            Kind.DELETION,
            TxnDeleted,
            "transaction deletion",
            "transaction deletions",
            True,
        ),
    )
}

SYNC_ORDER: tuple[str, ...] = tuple(ENTITIES)
DEFAULT_ENTITIES: tuple[str, ...] = tuple(e.name for e in ENTITIES.values() if e.default)
LIST_ENTITIES: frozenset[str] = frozenset(e.name for e in ENTITIES.values() if e.kind is Kind.LIST)
DELETION_ENTITIES: frozenset[str] = frozenset(
    e.name for e in ENTITIES.values() if e.kind is Kind.DELETION
)
PAYMENT = "ReceivePayment"

_SALE = frozenset({"Customer", "Item"})
# The entities whose records a record names as the parents its CRM writes need first: a job
# its parent customer, a sales transaction its customer and its lines' items, a payment its
# customer and the invoices it pays. Each comes before its referrers in ``SYNC_ORDER``.
REFERS_TO: dict[str, frozenset[str]] = {
    "Customer": frozenset({"Customer"}),
    "Estimate": _SALE,
    "SalesOrder": _SALE,
    "Invoice": _SALE,
    "SalesReceipt": _SALE,
    "CreditMemo": _SALE,
    PAYMENT: frozenset({"Customer", "Invoice"}),
}


def unknown_entities(names: tuple[str, ...] | list[str]) -> list[str]:
    """Names in ``names`` that are not in the entity table."""
    return [n for n in names if n not in ENTITIES]


def plural(name: str, count: int = 2) -> str:
    """How a summary names ``count`` records of entity ``name``."""
    row = ENTITIES.get(name)
    if row is None:
        return name if count == 1 else name + "s"
    return row.singular if count == 1 else row.plural
