"""Write operations: one intended change to QuickBooks, from one version of one ZOHO record.

An operation is created by the change capture, applied by the edition's writer (Desktop: in
the next Web Connector session; Online: through the API client), and keeps its outcome for at
least ``OUTCOME_DAYS`` days. Its ``op_id`` is derived from the ZOHO record and version, so a
change captured twice is one operation, and it is the request id QuickBooks sees on every
attempt (Desktop ``requestID``, Online ``requestid``), so a retry is recognisable as one.

Field values travel as a flat ``dict[str, str]`` (``CUSTOMER_FIELDS`` names, addresses as
``bill_address.city`` etc.), the same shape for both editions, so conflicts compare field by
field and the last synced values (``base``) can be stored beside the operation.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

# Outcomes are kept at least this long (the seven days, plus a day's margin for TTL).
OUTCOME_DAYS = 8
OUTCOME_SECONDS = OUTCOME_DAYS * 86400
# qbXML's requestID allows 50 characters; Online's requestid 50 (36 inside a batch).
MAX_OP_ID = 36

CUSTOMER = "customer"
INVOICE = "invoice"
KINDS = (CUSTOMER, INVOICE)
ADD = "add"
MOD = "mod"
ACTIONS = (ADD, MOD)

ACCOUNTS = "Accounts"
DEALS = "Deals"

# The customer fields write-back carries (flat; see the module docstring).
# "street" is Addr1..Addr4 joined with ", " (as the forwarder writes ZOHO's one Street field);
# the writers split it again within QuickBooks' line lengths.
ADDRESS_PARTS = ("street", "city", "state", "postal_code", "country")
STREET_SEPARATOR = ", "
# The plain text fields (the rest are the two addresses' parts).
PLAIN_FIELDS: tuple[str, ...] = (
    "name",
    "company_name",
    "first_name",
    "last_name",
    "email",
    "phone",
    "alt_phone",
    "fax",
    "account_number",
    "notes",
)
CUSTOMER_FIELDS: tuple[str, ...] = (
    *PLAIN_FIELDS,
    *(f"bill_address.{p}" for p in ADDRESS_PARTS),
    *(f"ship_address.{p}" for p in ADDRESS_PARTS),
)


class OpStatus(StrEnum):
    """Where an operation stands. ``OPEN`` ones block newer operations on the same record."""

    PENDING = "pending"  # waiting to be sent
    SENT = "sent"  # handed to QuickBooks; no answer yet
    UNKNOWN = "unknown"  # the answer was lost: reconcile (never re-send blindly)
    APPLIED = "applied"  # QuickBooks confirmed it (or reconciliation found it applied)
    NOT_APPLIED = "not_applied"  # confirmed not applied: refused, invalid, or superseded


OPEN = (OpStatus.PENDING, OpStatus.SENT, OpStatus.UNKNOWN)
FINAL = (OpStatus.APPLIED, OpStatus.NOT_APPLIED)

# Conflict policies (per tenant): which side keeps a field changed on both since the last sync.
QB_WINS = "qb_wins"
ZOHO_WINS = "zoho_wins"
NEWEST_WINS = "newest_wins"
POLICIES = (QB_WINS, ZOHO_WINS, NEWEST_WINS)


def op_id(zoho_module: str, zoho_id: str, zoho_version: str) -> str:
    """The stable id of the operation for this version of this ZOHO record (<= 36 chars).

    Deterministic, so a capture that runs twice, or a redelivered message, names the same
    operation; different for every version, so a new change is a new operation.
    """
    digest = hashlib.sha256(f"{zoho_module}\0{zoho_id}\0{zoho_version}".encode()).hexdigest()
    return f"wb-{zoho_module[:1].lower()}-{digest[:30]}"


def content_op_id(zoho_module: str, zoho_id: str, zoho_version: str, fields: dict[str, Any]) -> str:
    """``op_id`` of a version and its content: ZOHO's times have whole seconds, so two edits in
    one second are one version string, and only their content tells them apart."""
    return op_id(zoho_module, zoho_id, f"{zoho_version}#{json.dumps(fields, sort_keys=True)}")


@dataclass(frozen=True, slots=True)
class Conflict:
    """A field changed on both sides since the last sync, and which value was kept."""

    field: str
    qb_value: str
    zoho_value: str
    kept: str  # "qb" | "zoho"

    def to_item(self) -> dict[str, str]:
        return {
            "field": self.field,
            "qb": self.qb_value,
            "zoho": self.zoho_value,
            "kept": self.kept,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Conflict:
        return cls(
            str(item.get("field") or ""),
            str(item.get("qb") or ""),
            str(item.get("zoho") or ""),
            str(item.get("kept") or ""),
        )


@dataclass(frozen=True, slots=True)
class WriteOp:
    """One intended write to QuickBooks and, once known, its outcome.

    Written by two components, each only its own attributes: the capture creates the
    operation and, while it is still ``PENDING``, may replace its content with a newer version
    of the same ZOHO record (``rev`` counts that); the writer moves ``status`` and records the
    outcome attributes. Every transition is conditional on the status (and ``rev``) it expects.
    """

    tenant: str
    op_id: str
    seq: int  # orders a tenant's operations (capture time in microseconds)
    kind: str  # CUSTOMER | INVOICE
    action: str  # ADD | MOD (invoices are only added)
    edition: str  # "qbd" | "qbo": which QuickBooks the tenant writes to
    zoho_module: str  # ACCOUNTS | DEALS
    zoho_id: str
    zoho_version: str  # the record's Modified_Time as ZOHO gave it
    # content (capture)
    fields: dict[str, Any] = field(default_factory=dict)  # CUSTOMER_FIELDS, or the invoice's
    base: dict[str, str] = field(default_factory=dict)  # values at the last sync (conflicts)
    qb_id: str = ""  # ListID / TxnID / Online Id: the target of a Mod, the result of an Add
    qb_version: str = ""  # EditSequence / SyncToken the Mod expects (the base's version)
    depends_on: str = ""  # op_id that must be APPLIED first (a deal's account)
    customer_zoho_id: str = ""  # an invoice's account in ZOHO (resolved to a customer at send)
    rev: int = 0
    created_at: float = 0.0
    # outcome (writer)
    status: OpStatus = OpStatus.PENDING
    attempts: int = 0
    sent_at: float | None = None
    outcome_at: float | None = None
    expires_at: float | None = None  # outcome_at + OUTCOME_SECONDS (TTL)
    message_set_id: str = ""  # Desktop: the newMessageSetID it was sent in
    ref_number: str = ""  # an invoice's RefNumber (Desktop) / DocNumber (Online)
    result_version: str = ""  # EditSequence / SyncToken after the write
    linked: bool = False  # an existing QuickBooks record was linked instead of created
    error_code: str = ""  # catalogue code (lambdas/model/error_catalogue.py) or QuickBooks'
    error: str = ""  # the message shown on the ZOHO record and in status
    conflicts: tuple[Conflict, ...] = ()

    @property
    def open(self) -> bool:
        """Not final yet: newer operations on the same ZOHO record wait behind it."""
        return self.status in OPEN

    def with_(self, **changes: Any) -> WriteOp:
        """A copy with ``changes`` (for adapters and tests)."""
        return replace(self, **changes)

    def to_item(self) -> dict[str, Any]:
        """The stored shape (JSON-compatible), identical in both adapters."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "status":
                value = str(value)
            elif f.name == "conflicts":
                value = [c.to_item() for c in value]
            out[f.name] = value
        return out

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> WriteOp:
        """Read the stored shape; unknown keys are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        data = {k: v for k, v in item.items() if k in known}
        data["status"] = OpStatus(data.get("status") or OpStatus.PENDING)
        data["conflicts"] = tuple(Conflict.from_item(c) for c in data.get("conflicts") or ())
        for name in ("seq", "rev", "attempts"):
            data[name] = int(data.get(name) or 0)
        for name in ("sent_at", "outcome_at", "expires_at"):
            if data.get(name) is not None:
                data[name] = float(data[name])
        data["created_at"] = float(data.get("created_at") or 0.0)
        data["linked"] = bool(data.get("linked"))
        return cls(**data)
