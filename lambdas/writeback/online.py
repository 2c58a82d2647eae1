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
  the tenant's run ends there (as after an unanswered call), since every further call would
  spend that budget again and outlast a Lambda's time;
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
A MOD captured behind an Add (``depends_on``) names the Add's customer once it is APPLIED
(targets.TargetedStore); when the Add ended NOT_APPLIED, the MOD, the account's latest content,
adds the customer itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model.identity import SOURCE_QBO
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
from .model import ACCOUNTS, ADD, CUSTOMER, INVOICE, MOD, OUTCOME_SECONDS, OpStatus, WriteOp
from .online_body import InvoiceProblem
from .online_steps import (
    INVALID,
    NOT_FOUND,
    OnlineClient,
    Result,
    add_customer,
    add_invoice,
    api_id,
    applied,
    customer_named,
    op_name,
    refused,
    request_id,
    resolve_and_send,
    update_customer,
)
from .outcomes import link_of, outcome_update
from .targets import DEPENDENCY_FAILED, DUPLICATE_ACCOUNT, TargetedStore, held_elsewhere

log = logging.getLogger(__name__)

EDITION = "qbo"
# A SENT operation older than this lost its writer (a crash between send and outcome): the
# client's retries end long before (5 attempts of at most 35 s plus backoff).
STALE_SENT_SECONDS = 900.0
IN_FLIGHT_SECONDS = 900.0


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


class _Wait(Exception):
    """The operation cannot go yet (its account has no customer while its dependency is open)."""


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
        # Reads resolve a MOD captured behind an unanswered Add to the customer the Add made.
        self.store = TargetedStore(store, EDITION)
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
                halted = self._one(tenant, client, op, items, report)
            except QboNeedsReconnect as exc:
                report.stopped = str(exc)
                break
            except (ConcurrentUpdate, _Wait):
                report.waiting += 1  # another writer moved it, or its account is not there yet
            except Exception as exc:  # the operation stays as it is; the others go on
                log.exception("write-back operation %s of %s failed", op.op_id, tenant.name)
                report.errors.append(f"{op.op_id}: {type(exc).__name__}: {exc}")
            else:
                if halted:
                    report.stopped = halted
                    break
        return report

    # --- one operation -------------------------------------------------------------------

    def _one(
        self,
        tenant: Tenant,
        client: OnlineClient,
        op: WriteOp,
        items: dict[str, str | None],
        report: WriterReport,
    ) -> str:
        """Apply or reconcile one operation; why the run must end now ("" to go on)."""
        name, now = tenant.name, self.clock()
        if op.status == OpStatus.SENT:
            if (op.sent_at or 0.0) + self.stale_sent_seconds > now:
                report.waiting += 1  # another writer is waiting for its answer
                return ""
            # Only the send seen stale: another writer may have taken it over since.
            op = self.store.mark(
                name,
                op.op_id,
                [OpStatus.SENT],
                OpStatus.UNKNOWN,
                expect_sent_at=op.sent_at,
                error="the writer stopped",
            )
        if op.status == OpStatus.PENDING and op.depends_on:
            dep = self.store.get(name, op.depends_on)
            if dep is not None and dep.open:
                report.waiting += 1
                return ""
            # A MOD behind an Add that made no customer is the account's Add now (below).
            if dep is not None and dep.status == OpStatus.NOT_APPLIED and not _adds(op):
                why = f"its account could not be written to QuickBooks Online: {dep.error}"
                claimed = self.store.mark(
                    name, op.op_id, [OpStatus.PENDING], OpStatus.SENT, rev=op.rev, sent_at=now
                )
                self._finish(tenant, claimed, refused(DEPENDENCY_FAILED, why), report)
                return ""
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
        return result.error if result.halt else ""

    def _guarded(self, op: WriteOp, call: Callable[[], Result], retry: OpStatus) -> Result:
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
            return Result(OpStatus.UNKNOWN, error_code=exc.code, error=exc.message, halt=True)
        except QboError as exc:
            if exc.retryable:  # throttled or unavailable: every next call would wait as long
                return Result(retry, error_code=exc.code, error=exc.message, halt=True)
            return refused(exc.code, exc.message)
        except InvoiceProblem as exc:
            return refused(INVALID, str(exc))

    def _send(
        self, tenant: Tenant, client: OnlineClient, op: WriteOp, rid: str, items: dict
    ) -> Result:
        if _adds(op):
            return add_customer(client, op, rid)
        if op.kind == CUSTOMER and op.action == MOD:

            def retry_id() -> str:  # the retry after a 5010 is a request of its own
                retry = request_id(client.realm_id, op.op_id, op.attempts, "stale")
                self.store.mark(
                    op.tenant, op.op_id, [OpStatus.SENT], OpStatus.SENT, message_set_id=retry
                )
                return retry

            return update_customer(tenant.conflict_policy, client, op, rid, retry_id)
        if op.kind == INVOICE and op.action == ADD:
            # A later attempt may follow one Intuit applied without a clear answer: look first.
            return self._invoice(tenant, client, op, rid, items, look_first=op.attempts > 1)
        return refused(INVALID, f"write-back cannot {op.action} a {op.kind} in QuickBooks Online")

    def _reconcile(
        self, tenant: Tenant, client: OnlineClient, op: WriteOp, rid: str, items: dict
    ) -> Result:
        if _adds(op):
            try:
                return add_customer(client, op, rid)  # the same requestid: Intuit replays
            except QboError as exc:
                if not exc.retryable:
                    raise
                found = customer_named(client, op_name(op))
                if found is None:
                    raise
                return applied("Customer", found)
        if op.kind == CUSTOMER and op.action == MOD:
            return resolve_and_send(tenant.conflict_policy, client, op, rid)
        if op.kind == INVOICE and op.action == ADD:
            return self._invoice(tenant, client, op, rid, items, look_first=True)
        return refused(INVALID, f"write-back cannot {op.action} a {op.kind} in QuickBooks Online")

    def _invoice(
        self,
        tenant: Tenant,
        client: OnlineClient,
        op: WriteOp,
        rid: str,
        items: dict[str, str | None],
        look_first: bool,
    ) -> Result:
        customer_id = self._customer_id(tenant.name, op)
        if customer_id is None:
            return refused(
                NOT_FOUND,
                f"the deal's account {op.customer_zoho_id or '(none)'} is not a QuickBooks "
                "Online customer",
            )
        return add_invoice(client, op, rid, customer_id, tenant.invoice_item, items, look_first)

    def _customer_id(self, tenant: str, op: WriteOp) -> str | None:
        """The Online Id of the deal's account's customer: from its mapping, else from the
        account's write-back operation; _Wait while that operation is still open."""
        if not op.customer_zoho_id:
            return None
        found = self.mappings.find_by_zoho_id(tenant, ACCOUNTS, op.customer_zoho_id)
        if found is not None and found.source == SOURCE_QBO and found.entity == "Customer":
            return api_id(found.source_id)
        latest = self.store.latest_for(tenant, ACCOUNTS, op.customer_zoho_id)
        if latest is not None and latest.edition == EDITION and latest.qb_id:
            return api_id(latest.qb_id)
        if latest is not None and latest.open:
            raise _Wait(op.op_id)
        return None

    # --- outcomes ------------------------------------------------------------------------

    def _finish(self, tenant: Tenant, op: WriteOp, result: Result, report: WriterReport) -> None:
        name, now = tenant.name, self.clock()
        if result.status == OpStatus.APPLIED and result.linked and result.obj:
            qb_id = canonical_id(result.obj["Id"])
            why = held_elsewhere(self.mappings, op, SOURCE_QBO, qb_id, self.store)
            if why is not None:
                result = Result(OpStatus.NOT_APPLIED, error_code=DUPLICATE_ACCOUNT, error=why)
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
        # The messages go before the outcome is stored: should the store fail, the operation
        # stays SENT, is reconciled later and its (idempotent) messages are sent again.
        final = op.with_(status=status, **attrs)
        if status == OpStatus.APPLIED:
            record = canonical(result.entity, obj)
            links = {}
            if _adds(op) or (final.kind == CUSTOMER and final.linked):
                # The record names the account it came from, so no second account appears.
                links[("Customer", str(record["list_id"]))] = link_of(final)
            self.hand_off(name, [[record]], links=links)
        update = outcome_update(final, now)
        self.queue.send([QueueMessage(name, update.to_json(), update.dedup_id)])
        self.store.mark(name, op.op_id, [OpStatus.SENT], status, **attrs)
        if status == OpStatus.APPLIED:
            report.applied += 1
            report.linked += int(final.linked)
            report.conflicts += len(final.conflicts)
        else:
            report.not_applied += 1


def _adds(op: WriteOp) -> bool:
    """Whether ``op`` creates its account's customer: an Add, or a MOD captured behind an Add
    that ended without one (TargetedStore names a MOD's customer once its Add is APPLIED)."""
    return op.kind == CUSTOMER and (op.action == ADD or (op.action == MOD and not op.qb_id))
