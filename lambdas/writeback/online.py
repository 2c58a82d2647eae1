"""The QuickBooks Online writer: a tenant's open write-back operations through its API client.

Operations go in ``seq`` order (only edition "qbo" ones); one waits while the operation it
depends on (a deal's account) is open. Each is claimed by a conditional mark (PENDING -> SENT),
so of two writers running for one tenant only one sends it. Every send carries a ``requestid``
derived from the realm and the operation (``request_id``): the client retries a timeout or a
5xx with the same one, and Intuit answers a repeated requestid with its first answer.

Outcomes:
- APPLIED: Intuit's answer (or what reconciliation found) goes to the record queue as the
  canonical record the sync would hand off (its hand-off recorded, so the next read of that
  SyncToken is unchanged: no echo), ``linked`` to the ZOHO account for a customer ADD or a
  6240 link; then the operation's ``outcome_update`` (status, message, a deal's TxnID/number);
- NOT_APPLIED: Intuit refused it (its message kept) or it cannot be made; ``outcome_update``;
- PENDING again: throttled or unavailable past the client's budget (sent again next run);
- UNKNOWN: no answer came. Reconciled in a later run and never re-sent blindly: a customer ADD
  by its requestid again (Intuit replays the first answer; were it forgotten, the unique
  DisplayName answers 6240 and the customer is linked) and, when that call fails too, a query by
  DisplayName; an invoice by a query for the operation's marker in ``PrivateNote`` *first*
  (nothing else makes a second invoice impossible should Intuit have forgotten the requestid,
  whose retention is undocumented), then its requestid again; a MOD by reading the customer and
  resolving again (its SyncToken makes a repeat harmless).
A later attempt after a definite answer (PENDING again) gets a requestid of its own (a repeat
of the first would replay that answer); an invoice's later attempt looks for its marker first.
Customer names collide (6240) -> the customer of that DisplayName is linked; a stale SyncToken
(5010) -> the customer is read, ``conflicts.resolve`` decides per field, and one retry follows.
A connection needing a reconnect stops the run; the operation goes back to PENDING.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..model.identity import SOURCE_QBO
from ..qbo.client import quote
from ..qbo.errors import QboError, QboNeedsReconnect, QboNoAnswer
from ..qbo.transform import canonical
from ..qbo.values import canonical_id
from ..store.ports import (
    ConcurrentUpdate,
    MappingStore,
    PayloadStore,
    QueueMessage,
    RecordQueue,
    Tenant,
)
from ..store.writeback_ports import WriteBackStore
from ..sync.handoff import HandOff
from .conflicts import resolve
from .model import (
    ACCOUNTS,
    ADD,
    CUSTOMER,
    INVOICE,
    MOD,
    OUTCOME_SECONDS,
    Conflict,
    OpStatus,
    WriteOp,
)
from .online_body import InvoiceProblem, customer_body, invoice_body, invoice_lines, projected
from .outcomes import linked, outcome_update

log = logging.getLogger(__name__)

EDITION = "qbo"
# The namespace of write-back requestids (fixed: a requestid must be the same in every process).
REQUEST_NAMESPACE = uuid.UUID("3b8f6a52-0c4e-5d1a-9e27-b5c1f0d2a7e4")
# A SENT operation older than this lost its writer (a crash between send and outcome): the
# client's retries end long before (5 attempts of at most 35 s plus backoff).
STALE_SENT_SECONDS = 900.0
IN_FLIGHT_SECONDS = 900.0
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


@dataclass(slots=True)
class WriterReport:
    """What one run did for one tenant."""

    tenant: str
    applied: int = 0
    linked: int = 0  # of applied: an existing customer linked (6240)
    not_applied: int = 0
    unknown: int = 0  # answers lost: reconciled in a later run
    retry: int = 0  # back to PENDING (throttled, unavailable)
    waiting: int = 0  # left for later: a dependency open, or another writer holds it
    conflicts: int = 0
    stopped: str = ""  # why the run ended early (a reconnect is needed)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Result:
    status: OpStatus
    entity: str = ""
    obj: dict[str, Any] | None = None
    linked: bool = False
    error_code: str = ""
    error: str = ""
    conflicts: tuple[Conflict, ...] = ()


class _Wait(Exception):
    """The operation cannot go yet (its account has no customer while its dependency is open)."""


def _applied(entity: str, obj: dict[str, Any], **kw: Any) -> _Result:
    return _Result(OpStatus.APPLIED, entity, obj, **kw)


def _refused(code: str, message: str) -> _Result:
    return _Result(OpStatus.NOT_APPLIED, error_code=code, error=message)


class OnlineWriter:
    """Applies tenants' open QuickBooks Online operations (see the module docstring)."""

    def __init__(
        self,
        store: WriteBackStore,
        mappings: MappingStore,
        queue: RecordQueue,
        clients: Callable[[str], OnlineClient],
        clock: Callable[[], float] = time.time,
        payloads: PayloadStore | None = None,
        limit: int = 100,
        stale_sent_seconds: float = STALE_SENT_SECONDS,
    ) -> None:
        self.store = store
        self.mappings = mappings
        self.queue = queue
        self.clients = clients
        self.clock = clock
        self.limit = limit
        self.stale_sent_seconds = stale_sent_seconds
        self.hand_off = HandOff(SOURCE_QBO, mappings, queue, payloads, clock, IN_FLIGHT_SECONDS)

    def run(self, tenant: Tenant) -> WriterReport:
        """Apply the tenant's open "qbo" operations in ``seq`` order (nothing when write-back
        is off). QboNeedsReconnect ends the run (``stopped``); one operation's other failure
        is logged and reported, and the run goes on."""
        report = WriterReport(tenant.name)
        if not tenant.writeback:
            return report
        ops = [o for o in self.store.open_ops(tenant.name, self.limit) if o.edition == EDITION]
        if not ops:
            return report
        client = self.clients(tenant.name)
        items: dict[str, str | None] = {}
        for op in ops:
            try:
                self._one(tenant, client, op, items, report)
            except QboNeedsReconnect as exc:
                report.stopped = str(exc)
                break
            except (ConcurrentUpdate, _Wait):
                report.waiting += 1  # another writer moved it, or its account is not there yet
            except Exception as exc:  # the operation stays as it is; the others go on
                log.exception("write-back operation %s of %s failed", op.op_id, tenant.name)
                report.errors.append(f"{op.op_id}: {type(exc).__name__}: {exc}")
        return report

    # --- one operation -------------------------------------------------------------------

    def _one(
        self,
        tenant: Tenant,
        client: OnlineClient,
        op: WriteOp,
        items: dict[str, str | None],
        report: WriterReport,
    ) -> None:
        name, now = tenant.name, self.clock()
        if op.status == OpStatus.SENT:
            if (op.sent_at or 0.0) + self.stale_sent_seconds > now:
                report.waiting += 1  # another writer is waiting for its answer
                return
            op = self.store.mark(
                name, op.op_id, [OpStatus.SENT], OpStatus.UNKNOWN, error="the writer stopped"
            )
        if op.status == OpStatus.PENDING and op.depends_on:
            dep = self.store.get(name, op.depends_on)
            if dep is not None and dep.open:
                report.waiting += 1
                return
            if dep is not None and dep.status == OpStatus.NOT_APPLIED:
                why = f"its account could not be written to QuickBooks Online: {dep.error}"
                claimed = self.store.mark(
                    name, op.op_id, [OpStatus.PENDING], OpStatus.SENT, rev=op.rev, sent_at=now
                )
                self._finish(tenant, claimed, _refused(dep.error_code or INVALID, why), report)
                return
        if op.status == OpStatus.PENDING:
            attempt = op.attempts + 1
            rid = request_id(client.realm_id, op.op_id, attempt)
            claimed = self.store.mark(
                name,
                op.op_id,
                [OpStatus.PENDING],
                OpStatus.SENT,
                rev=op.rev,
                sent_at=now,
                attempts=attempt,
                message_set_id=rid,
            )
            result = self._guarded(
                claimed, lambda: self._send(tenant, client, claimed, rid, items), OpStatus.PENDING
            )
        else:  # UNKNOWN: held as SENT while reconciling, so a second writer leaves it alone
            rid = op.message_set_id or request_id(client.realm_id, op.op_id, max(op.attempts, 1))
            claimed = self.store.mark(
                name, op.op_id, [OpStatus.UNKNOWN], OpStatus.SENT, sent_at=now
            )
            result = self._guarded(
                claimed,
                lambda: self._reconcile(tenant, client, claimed, rid, items),
                OpStatus.UNKNOWN,
            )
        self._finish(tenant, claimed, result, report)

    def _guarded(self, op: WriteOp, call: Callable[[], _Result], retry: OpStatus) -> _Result:
        """``call``'s result, Intuit's failures as outcomes: no answer -> UNKNOWN, throttled or
        unavailable -> ``retry``, a refusal -> NOT_APPLIED. A reconnect (Intuit refused the
        token: nothing was applied) or a wait puts the operation back to ``retry`` and
        re-raises."""
        try:
            return call()
        except (QboNeedsReconnect, _Wait):
            self.store.mark(op.tenant, op.op_id, [OpStatus.SENT], retry)
            raise
        except QboNoAnswer as exc:
            return _Result(OpStatus.UNKNOWN, error_code=exc.code, error=exc.message)
        except QboError as exc:
            if exc.retryable:
                return _Result(retry, error_code=exc.code, error=exc.message)
            return _refused(exc.code, exc.message)
        except InvoiceProblem as exc:
            return _refused(INVALID, str(exc))

    def _send(
        self, tenant: Tenant, client: OnlineClient, op: WriteOp, rid: str, items: dict
    ) -> _Result:
        if op.kind == CUSTOMER and op.action == ADD:
            return self._add_customer(client, op, rid)
        if op.kind == CUSTOMER and op.action == MOD:
            return self._mod_customer(tenant, client, op, rid)
        if op.kind == INVOICE and op.action == ADD:
            # A later attempt may follow one Intuit applied without a clear answer: look first.
            return self._add_invoice(tenant, client, op, rid, items, look_first=op.attempts > 1)
        return _refused(INVALID, f"write-back cannot {op.action} a {op.kind} in QuickBooks Online")

    def _reconcile(
        self, tenant: Tenant, client: OnlineClient, op: WriteOp, rid: str, items: dict
    ) -> _Result:
        if op.kind == CUSTOMER and op.action == ADD:
            try:
                return self._add_customer(client, op, rid)  # the same requestid: Intuit replays
            except QboError as exc:
                if not exc.retryable:
                    raise
                found = self._customer_named(client, _name(op))
                if found is None:
                    raise
                return _applied("Customer", found)
        if op.kind == CUSTOMER and op.action == MOD:
            return self._resolve_and_send(tenant, client, op, rid)
        if op.kind == INVOICE and op.action == ADD:
            return self._add_invoice(tenant, client, op, rid, items, look_first=True)
        return _refused(INVALID, f"write-back cannot {op.action} a {op.kind} in QuickBooks Online")

    # --- customers -----------------------------------------------------------------------

    def _add_customer(self, client: OnlineClient, op: WriteOp, rid: str) -> _Result:
        body = customer_body(op.fields)
        name = _name(op)
        if not name:
            return _refused("2020", "the account has no name for a QuickBooks Online customer")
        try:
            return _applied("Customer", client.create("Customer", body, rid))
        except QboError as exc:
            if exc.code != DUPLICATE_NAME:
                raise
            found = self._customer_named(client, name)
            if found is None:
                return _refused(
                    exc.code,
                    f"QuickBooks Online has a vendor or employee named {name!r}; a customer "
                    "cannot take the same name (rename the account in ZOHO)",
                )
            return _applied("Customer", found, linked=True)

    def _customer_named(self, client: OnlineClient, name: str) -> dict[str, Any] | None:
        statement = f"select * from Customer where DisplayName = {quote(name)}"
        return next(iter(client.query(statement)), None)

    def _mod_customer(self, tenant: Tenant, client: OnlineClient, op: WriteOp, rid: str) -> _Result:
        if not op.qb_version:  # the version is unknown: read it, then decide as after a 5010
            return self._resolve_and_send(tenant, client, op, rid)
        changed = [k for k, v in op.fields.items() if _s(v) != op.base.get(k, "")]
        fields = customer_body(op.fields, changed)
        if not fields:  # nothing QuickBooks Online holds changed: see what it has
            return self._resolve_and_send(tenant, client, op, rid)
        body = {"Id": _api_id(op.qb_id), "SyncToken": op.qb_version, **fields}
        try:
            return _applied("Customer", client.update("Customer", body, rid))
        except QboError as exc:
            if exc.code != STALE_OBJECT:
                raise
        retry = request_id(client.realm_id, op.op_id, op.attempts, "stale")
        self.store.mark(op.tenant, op.op_id, [OpStatus.SENT], OpStatus.SENT, message_set_id=retry)
        return self._resolve_and_send(tenant, client, op, retry)

    def _resolve_and_send(
        self, tenant: Tenant, client: OnlineClient, op: WriteOp, rid: str
    ) -> _Result:
        """Read the customer, keep per the tenant's policy what changed on both sides, and
        write what ZOHO still changes (once: another 5010 leaves it PENDING)."""
        current = client.read("Customer", _api_id(op.qb_id))
        if current is None:
            return _refused(NOT_FOUND, f"the QuickBooks Online customer {op.qb_id} is gone")
        zoho = {k: _s(v) for k, v in op.fields.items()}
        qb = projected(current)
        send, conflicts = resolve(
            tenant.conflict_policy,
            op.base,
            zoho,
            qb,
            _epoch(op.zoho_version),
            _epoch((current.get("MetaData") or {}).get("LastUpdatedTime")),
        )
        body = customer_body({**qb, **send}, send)
        if not body:
            return _applied("Customer", current, conflicts=conflicts)
        body |= {"Id": current["Id"], "SyncToken": current["SyncToken"]}
        try:
            updated = client.update("Customer", body, rid)
        except QboError as exc:
            if exc.code != STALE_OBJECT:
                raise
            return _Result(OpStatus.PENDING, error_code=exc.code, error=exc.message)
        return _applied("Customer", updated, conflicts=conflicts)

    # --- invoices ------------------------------------------------------------------------

    def _add_invoice(
        self,
        tenant: Tenant,
        client: OnlineClient,
        op: WriteOp,
        rid: str,
        items: dict[str, str | None],
        look_first: bool,
    ) -> _Result:
        customer_id = self._customer_id(tenant.name, op)
        if customer_id is None:
            return _refused(
                NOT_FOUND,
                f"the deal's account {op.customer_zoho_id or '(none)'} is not a QuickBooks "
                "Online customer",
            )
        if look_first:
            found = self._invoice_marked(client, customer_id, op)
            if found is not None:
                return _applied("Invoice", found)
        lines = invoice_lines(op.fields, tenant.invoice_item)
        ids: dict[str, str] = {}
        for item, *_ in lines:
            if item not in items:
                hit = next(
                    iter(client.query(f"select * from Item where Name = {quote(item)}")), None
                )
                items[item] = str(hit["Id"]) if hit else None
            if items[item] is None:
                return _refused(NOT_FOUND, f"QuickBooks Online has no item named {item!r}")
            ids[item] = str(items[item])
        memo = _s(op.fields.get("memo"))[:200]
        note = f"{memo} (ZOHO deal {op.zoho_id}) {marker(op)}".strip()
        body = invoice_body(op.fields, customer_id, lines, ids, note)
        return _applied("Invoice", client.create("Invoice", body, rid))

    def _invoice_marked(
        self, client: OnlineClient, customer_id: str, op: WriteOp
    ) -> dict[str, Any] | None:
        statement = f"select * from Invoice where CustomerRef = {quote(customer_id)}"
        tag = marker(op)
        return next(
            (i for i in client.query(statement) if tag in (i.get("PrivateNote") or "")), None
        )

    def _customer_id(self, tenant: str, op: WriteOp) -> str | None:
        """The Online Id of the deal's account's customer: from its mapping, else from the
        account's write-back operation; _Wait while that operation is still open."""
        if not op.customer_zoho_id:
            return None
        found = self.mappings.find_by_zoho_id(tenant, ACCOUNTS, op.customer_zoho_id)
        if found is not None and found.source == SOURCE_QBO and found.entity == "Customer":
            return _api_id(found.source_id)
        latest = self.store.latest_for(tenant, ACCOUNTS, op.customer_zoho_id)
        if latest is not None and latest.edition == EDITION and latest.qb_id:
            return _api_id(latest.qb_id)
        if latest is not None and latest.open:
            raise _Wait(op.op_id)
        return None

    # --- outcomes ------------------------------------------------------------------------

    def _finish(self, tenant: Tenant, op: WriteOp, result: _Result, report: WriterReport) -> None:
        name, now = tenant.name, self.clock()
        status = result.status
        if status in (OpStatus.UNKNOWN, OpStatus.PENDING):
            self.store.mark(
                name,
                op.op_id,
                [OpStatus.SENT],
                status,
                error_code=result.error_code,
                error=result.error,
            )
            if status == OpStatus.UNKNOWN:
                report.unknown += 1
            else:
                report.retry += 1
            return
        attrs: dict[str, Any] = {
            "outcome_at": now,
            "expires_at": now + OUTCOME_SECONDS,
            "error_code": result.error_code,
            "error": result.error,
            "conflicts": result.conflicts,
            "linked": result.linked,
        }
        obj = result.obj or {}
        if status == OpStatus.APPLIED:
            attrs["qb_id"] = canonical_id(obj["Id"])
            attrs["result_version"] = str(obj.get("SyncToken", ""))
            if result.entity == "Invoice":
                attrs["ref_number"] = str(obj.get("DocNumber", ""))
        final = self.store.mark(name, op.op_id, [OpStatus.SENT], status, **attrs)
        if status == OpStatus.APPLIED:
            record = canonical(result.entity, obj)
            wrap = {}
            if final.kind == CUSTOMER and (final.action == ADD or final.linked):
                # The record names the account it came from, so no second account appears.
                module, zoho_id = final.zoho_module, final.zoho_id
                wrap[("Customer", str(record["list_id"]))] = lambda e: linked(e, module, zoho_id)
            self.hand_off(name, [[record]], wrap=wrap)
            report.applied += 1
            report.linked += int(final.linked)
            report.conflicts += len(final.conflicts)
        else:
            report.not_applied += 1
        update = outcome_update(final, now)
        self.queue.send([QueueMessage(name, update.to_json(), update.dedup_id)])


def _name(op: WriteOp) -> str:
    return _s(op.fields.get("name"))


def _s(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _api_id(value: str) -> str:
    """The Online Id of a canonical ("qbo:58") or plain ("58") id."""
    return value.split(":", 1)[1] if value.startswith("qbo:") else value


def _epoch(value: Any) -> float | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo else None
