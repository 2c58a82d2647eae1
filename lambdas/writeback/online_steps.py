"""The QuickBooks Online calls of the Online writer (lambdas/writeback/online.py), one step of
one operation each: a customer created (or linked on 6240), a customer updated (resolved and
retried once on 5010), an invoice created (or found by its marker). Each answers a ``Result``;
Intuit's failures other than 6240 and 5010 propagate as QboError for the writer to classify.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from ..qbo.client import quote
from ..qbo.errors import QboError
from .conflicts import resolve
from .model import Conflict, OpStatus, WriteOp
from .online_body import customer_body, invoice_body, invoice_lines, projected

# The namespace of write-back requestids (fixed: a requestid must be the same in every process).
REQUEST_NAMESPACE = uuid.UUID("3b8f6a52-0c4e-5d1a-9e27-b5c1f0d2a7e4")
DUPLICATE_NAME = "6240"
STALE_OBJECT = "5010"
NOT_FOUND = "610"
INVALID = "6000"


def request_id(realm_id: str, op_id: str, attempt: int = 1, step: str = "") -> str:
    """The requestid (36 characters) of attempt ``attempt`` of an operation (``step``: a retry
    within that attempt, e.g. after 5010). The first attempt's is uuid5 of "realm:op_id"."""
    key = f"{realm_id}:{op_id}"
    if attempt > 1:
        key += f":{attempt}"
    if step:
        key += f":{step}"
    return str(uuid.uuid5(REQUEST_NAMESPACE, key))


def marker(op: WriteOp) -> str:
    """What an invoice's PrivateNote carries so a read-back can find it: the operation id."""
    return f"[{op.op_id}]"


class OnlineClient(Protocol):
    """What the writer needs of lambdas/qbo/client.py QboClient."""

    @property
    def realm_id(self) -> str: ...

    def query(self, statement: str) -> Iterable[dict[str, Any]]: ...

    def read(self, entity: str, obj_id: str) -> dict[str, Any] | None: ...

    def create(self, entity: str, body: dict[str, Any], request_id: str) -> dict[str, Any]: ...

    def update(self, entity: str, body: dict[str, Any], request_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Result:
    """One step's outcome: the status, Intuit's object (APPLIED), and why (NOT_APPLIED...)."""

    status: OpStatus
    entity: str = ""
    obj: dict[str, Any] | None = None
    linked: bool = False
    error_code: str = ""
    error: str = ""
    conflicts: tuple[Conflict, ...] = ()
    # Intuit throttled or did not serve past the client's budget: the tenant's run ends here.
    halt: bool = False


def applied(entity: str, obj: dict[str, Any], **kw: Any) -> Result:
    """APPLIED with Intuit's ``entity`` object."""
    return Result(OpStatus.APPLIED, entity, obj, **kw)


def refused(code: str, message: str) -> Result:
    """NOT_APPLIED with a code and the message the ZOHO record shows."""
    return Result(OpStatus.NOT_APPLIED, error_code=code, error=message)


def add_customer(client: OnlineClient, op: WriteOp, rid: str) -> Result:
    """Create the account's customer; a name in use (6240) links the customer of that name."""
    body = customer_body(op.fields)
    name = op_name(op)
    if not name:
        return refused("2020", "the account has no name for a QuickBooks Online customer")
    try:
        return applied("Customer", client.create("Customer", body, rid))
    except QboError as exc:
        if exc.code != DUPLICATE_NAME:
            raise
        found = customer_named(client, name)
        if found is None:
            return refused(
                exc.code,
                f"QuickBooks Online has a vendor or employee named {name!r}; a customer "
                "cannot take the same name (rename the account in ZOHO)",
            )
        return applied("Customer", found, linked=True)


def customer_named(client: OnlineClient, name: str) -> dict[str, Any] | None:
    """The customer whose DisplayName is ``name`` (inactive ones too: their names stay in
    use, and a query leaves them out unless it asks), or None."""
    statement = (
        f"select * from Customer where DisplayName = {quote(name)} and Active in (true, false)"
    )
    return next(iter(client.query(statement)), None)


def update_customer(
    policy: str, client: OnlineClient, op: WriteOp, rid: str, retry_id: Callable[[], str]
) -> Result:
    """Update the customer with what ZOHO changed, at the SyncToken the operation expects; on
    5010 (or no known SyncToken) read and resolve (``resolve_and_send``) under ``retry_id()``."""
    if not op.qb_version:  # the version is unknown: read it, then decide as after a 5010
        return resolve_and_send(policy, client, op, rid)
    changed = [k for k, v in op.fields.items() if text(v) != op.base.get(k, "")]
    fields = customer_body(op.fields, changed)
    if not fields:  # nothing QuickBooks Online holds changed: see what it has
        return resolve_and_send(policy, client, op, rid)
    body = {"Id": api_id(op.qb_id), "SyncToken": op.qb_version, **fields}
    try:
        return applied("Customer", client.update("Customer", body, rid))
    except QboError as exc:
        if exc.code != STALE_OBJECT:
            raise
    return resolve_and_send(policy, client, op, retry_id())


def resolve_and_send(policy: str, client: OnlineClient, op: WriteOp, rid: str) -> Result:
    """Read the customer, keep per ``policy`` what changed on both sides, and write what ZOHO
    still changes (once: another 5010 leaves it PENDING)."""
    current = client.read("Customer", api_id(op.qb_id))
    if current is None:
        return refused(NOT_FOUND, f"the QuickBooks Online customer {op.qb_id} is gone")
    qb = projected(current)
    send, conflicts = resolve(
        policy,
        op.base,
        {k: text(v) for k, v in op.fields.items()},
        qb,
        epoch(op.zoho_version),
        epoch((current.get("MetaData") or {}).get("LastUpdatedTime")),
    )
    body = customer_body({**qb, **send}, send)
    if not body:
        return applied("Customer", current, conflicts=conflicts)
    body |= {"Id": current["Id"], "SyncToken": current["SyncToken"]}
    try:
        updated = client.update("Customer", body, rid)
    except QboError as exc:
        if exc.code != STALE_OBJECT:
            raise
        return Result(OpStatus.PENDING, error_code=exc.code, error=exc.message)
    return applied("Customer", updated, conflicts=conflicts)


def add_invoice(
    client: OnlineClient,
    op: WriteOp,
    rid: str,
    customer_id: str,
    invoice_item: str,
    items: dict[str, str | None],
    look_first: bool,
) -> Result:
    """Create the deal's invoice for customer ``customer_id`` (items by Name, cached in
    ``items``); with ``look_first``, an invoice carrying the operation's marker is the answer."""
    if look_first:
        found = invoice_marked(client, customer_id, op)
        if found is not None:
            return applied("Invoice", found)
    lines = invoice_lines(op.fields, invoice_item)
    ids: dict[str, str] = {}
    for item, *_ in lines:
        if item not in items:
            statement = f"select * from Item where Name = {quote(item)}"
            hit = next(iter(client.query(statement)), None)
            items[item] = str(hit["Id"]) if hit else None
        found_id = items[item]
        if found_id is None:
            return refused(NOT_FOUND, f"QuickBooks Online has no item named {item!r}")
        ids[item] = found_id
    memo = text(op.fields.get("memo"))[:200]
    note = f"{memo} (ZOHO deal {op.zoho_id}) {marker(op)}".strip()
    body = invoice_body(op.fields, customer_id, lines, ids, note)
    return applied("Invoice", client.create("Invoice", body, rid))


def invoice_marked(client: OnlineClient, customer_id: str, op: WriteOp) -> dict[str, Any] | None:
    """The customer's invoice whose PrivateNote carries the operation's marker, or None."""
    statement = f"select * from Invoice where CustomerRef = {quote(customer_id)}"
    tag = marker(op)
    return next((i for i in client.query(statement) if tag in (i.get("PrivateNote") or "")), None)


def op_name(op: WriteOp) -> str:
    """The customer name an account operation carries."""
    return text(op.fields.get("name"))


def text(value: Any) -> str:
    """A field value as text ("" for None)."""
    return "" if value is None else str(value).strip()


def api_id(value: str) -> str:
    """The Online Id of a canonical ("qbo:58") or plain ("58") id."""
    return value.split(":", 1)[1] if value.startswith("qbo:") else value


def epoch(value: Any) -> float | None:
    """An ISO time with a zone as epoch seconds; None when absent or unreadable."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None
