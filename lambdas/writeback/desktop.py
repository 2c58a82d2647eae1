"""QuickBooks Desktop write-back: the write exchanges that open a Web Connector session.

A session of a tenant with write-back on and open operations starts with them, before the
read plan. Its phase (a JSON dict kept in the session state) goes:

1. Reconcile: operations found SENT (their session ended without the answer) become UNKNOWN;
   for each message set they were sent in, an error-recovery message set
   (``oldMessageSetID=X newMessageSetID=X``, no requests) asks QuickBooks for the saved
   responses of X, which are read as if they had just arrived; then ``oldMessageSetID=X``
   alone clears them. An operation the saved status does not answer (QuickBooks kept none, or
   lost it) is verified by a query before anything is written again (desktop_outcomes VERIFY).
2. Write: follow-ups of earlier answers (a query after 3100 or 3200, the retried Mod), then
   PENDING operations in ``seq`` order, each its own request (requestID = op_id), together in
   one message set with a fresh ``newMessageSetID``; an operation is marked SENT with that id
   before the message set is returned. An operation whose dependency is not APPLIED waits; one
   whose dependency ended NOT_APPLIED, or whose request cannot be built, is NOT_APPLIED.
3. Done when an exchange would be empty; the read plan follows.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from qbxml import QbxmlError, QbxmlVersion, build_message_set, parse_response
from qbxml.requests import Request

from ..model.identity import SOURCE_QBD
from ..store.ports import ConcurrentUpdate, MappingStore, StoreError, Tenant
from ..store.writeback_ports import WriteBackStore
from ..sync.write_handoff import WriteHandOff
from .desktop_outcomes import (
    ADD,
    CONFLICT,
    FIND_NAME,
    INVOICE,
    MOD,
    RETRY,
    VERIFY,
    WRITES,
    Outcomes,
)
from .desktop_requests import (
    WriteRefused,
    changed_fields,
    customer_add,
    customer_mod,
    find_customer_by_id,
    find_customer_by_name,
    find_invoice,
    invoice_add,
    query_id,
)
from .model import ACCOUNTS, CUSTOMER, OpStatus, WriteOp
from .model import INVOICE as KIND_INVOICE
from .model import MOD as ACTION_MOD
from .targets import DEPENDENCY_FAILED, TargetedStore

log = logging.getLogger(__name__)

# How far before an invoice's send time its verification looks: the workstation's zone is not
# known, and QuickBooks reads a zone-less FromModifiedDate in it.
VERIFY_MARGIN = timedelta(days=1)
RECOVER = "recover"
CLEAR = "clear"
WAIT = "wait"


@dataclass(slots=True)
class WriteResult:
    """What one answer did: ``fatal`` ends the session (QuickBooks failed the message set)."""

    warnings: list[str] = field(default_factory=list)
    fatal: str | None = None
    more: bool = True  # more write exchanges may follow


def _message_set_id() -> str:
    return f"wb-{secrets.token_hex(10)}"


class DesktopWriteBack:
    """Builds the write exchanges of Desktop sessions and reads their answers."""

    def __init__(
        self,
        store: WriteBackStore,
        mappings: MappingStore,
        writes: WriteHandOff,
        clock: Callable[[], float],
        batch: int = 20,
        capture: Callable[[Tenant], None] | None = None,
    ) -> None:
        # Run before each session's plan: ZOHO's latest changes become operations first
        # (runner.before_plan: a failing capture never fails the session).
        self.capture = capture
        # Reads resolve a MOD captured behind an unanswered Add to the customer the Add made.
        self.store = TargetedStore(store, SOURCE_QBD)
        self.mappings = mappings
        self.clock = clock
        self.batch = batch
        self.outcomes = Outcomes(self.store, writes, clock, mappings)

    # --- the session's view ---------------------------------------------------------------

    def start(self, tenant: Tenant, capture: bool = True) -> dict[str, Any]:
        """The write phase of a new session: {} when the tenant has nothing to write.

        ``capture`` False skips the ZOHO capture (a live session checking for operations
        that arrived while it waits: lambdas/qbwc/live.py).
        """
        if not tenant.writeback:
            return {}
        if capture and self.capture is not None:
            self.capture(tenant)
        try:
            if not self.store.open_ops(tenant.name, limit=1):
                return {}
        except StoreError as exc:
            log.warning("write-back store unavailable: %s", exc, extra={"tenant": tenant.name})
            return {}
        return {
            "tenant": tenant.name,
            "policy": tenant.conflict_policy,
            "invoice_item": tenant.invoice_item,
            "started": False,
            "done": False,
            "recover": [],
            "clear": [],
            "follow": {},
            "deferred": [],
            "sent": {},
            "msid": "",
            "counts": {},
        }

    @staticmethod
    def awaiting(phase: dict[str, Any]) -> bool:
        """True while a write exchange's answer is due."""
        return bool(phase.get("sent"))

    def next_exchange(self, phase: dict[str, Any], version: QbxmlVersion) -> str | None:
        """The next write message set (ops marked SENT first), or None when writes are done."""
        if not phase or phase.get("done"):
            return None
        tenant = phase["tenant"]
        if phase["sent"]:
            self._lost(phase)
        if not phase["started"]:
            self._start(tenant, phase)
        if phase["clear"]:
            msid = phase["clear"].pop(0)
            phase["sent"] = {"": {"step": CLEAR, "msid": msid}}
            return build_message_set([], version, "continueOnError", old_message_set_id=msid)
        if phase["recover"]:
            msid = phase["recover"].pop(0)
            phase["sent"] = {"": {"step": RECOVER, "msid": msid}}
            return build_message_set(
                [], version, "continueOnError", new_message_set_id=msid, old_message_set_id=msid
            )
        msid = _message_set_id()
        requests, sent = self._requests(tenant, phase, msid, version)
        if not requests:
            phase["done"] = True
            return None
        phase["sent"], phase["msid"] = sent, msid
        return build_message_set(requests, version, "continueOnError", new_message_set_id=msid)

    def apply(
        self, phase: dict[str, Any], response: str, hresult: str, message: str
    ) -> WriteResult:
        """Read the answer to the last write exchange into outcomes."""
        result = WriteResult()
        sent, phase["sent"] = phase["sent"], {}
        if hresult or message or not response or response.isspace():
            self._unknown(phase, sent)
            result.fatal = (
                f"QuickBooks could not process the write-back requests ({hresult or 'no code'}): "
                f"{message or 'empty response'}; the next session finds out what was applied."
            )
            return result
        try:
            parsed = parse_response(response)
        except QbxmlError as exc:
            self._unknown(phase, sent)
            result.fatal = f"QuickBooks sent a write-back answer the relay could not read: {exc}"
            return result
        entry = sent.get("")
        if entry is not None and entry["step"] == RECOVER:
            self._recovered(phase, entry["msid"], parsed)
        elif entry is None:
            answers = {r.request_id: r for r in parsed.responses}
            for request_id, item in sent.items():
                op = self.store.get(phase["tenant"], item["op"])
                if op is None or not op.open:
                    continue
                rs = answers.get(request_id)
                if rs is None:
                    # Not answered although the set goes on after errors: find out by a query.
                    if op.status == OpStatus.SENT:
                        self.outcomes.unknown(op)
                    phase["follow"][op.op_id] = {"step": VERIFY}
                    continue
                self.outcomes.answer(phase, op, item["step"], rs)
        result.more = self._has_more(phase)
        phase["done"] = not result.more
        return result

    # --- reconciliation -------------------------------------------------------------------

    def _start(self, tenant: str, phase: dict[str, Any]) -> None:
        phase["started"] = True
        for op in self.store.open_ops(tenant, limit=self.batch * 10):
            if op.status == OpStatus.SENT:
                self.outcomes.unknown(op)
                op = op.with_(status=OpStatus.UNKNOWN)
            if op.status != OpStatus.UNKNOWN:
                continue
            if op.message_set_id and op.message_set_id not in phase["recover"]:
                phase["recover"].append(op.message_set_id)
            elif not op.message_set_id:
                phase["follow"][op.op_id] = {"step": VERIFY}

    def _recovered(self, phase: dict[str, Any], msid: str, parsed: Any) -> None:
        """The saved answers of message set ``msid``, read as if they had arrived then."""
        phase["clear"].append(msid)
        saved = parsed.message_set_status_code == 0
        answers = {r.request_id: r for r in parsed.responses} if saved else {}
        for op in self.store.open_ops(phase["tenant"], limit=self.batch * 10):
            if op.status != OpStatus.UNKNOWN or op.message_set_id != msid:
                continue
            rs = answers.get(op.op_id)
            if rs is None:
                phase["follow"][op.op_id] = {"step": VERIFY}
            else:
                self.outcomes.answer(phase, op, _write_step(op), rs)

    def _lost(self, phase: dict[str, Any]) -> None:
        """The previous exchange's answer never came (this session asks again)."""
        sent, phase["sent"] = phase["sent"], {}
        entry = sent.get("")
        if entry is not None:
            # A recovery or a clearing is asked again.
            phase["clear" if entry["step"] == CLEAR else "recover"].insert(0, entry["msid"])
            return
        self._unknown(phase, sent)
        if phase["msid"] and phase["msid"] not in phase["recover"]:
            phase["recover"].append(phase["msid"])

    def _unknown(self, phase: dict[str, Any], sent: dict[str, Any]) -> None:
        for item in sent.values():
            op_id = item.get("op")
            if not op_id:
                continue
            if item["step"] in WRITES:
                op = self.store.get(phase["tenant"], op_id)
                if op is not None and op.status == OpStatus.SENT:
                    self.outcomes.unknown(op)
            else:
                phase["follow"].setdefault(op_id, {"step": item["step"]})

    # --- building requests ----------------------------------------------------------------

    def _requests(
        self, tenant: str, phase: dict[str, Any], msid: str, version: QbxmlVersion
    ) -> tuple[list[Request], dict[str, Any]]:
        requests: list[Request] = []
        sent: dict[str, Any] = {}
        open_ops = self.store.open_ops(tenant, limit=self.batch * 10)
        by_id = {op.op_id: op for op in open_ops}
        for op_id, follow in list(phase["follow"].items()):
            op = by_id.get(op_id)
            if op is None:
                phase["follow"].pop(op_id)
                continue
            request = self._follow_request(phase, op, follow, msid)
            if request is not None:
                requests.append(request)
                sent[request.request_id] = {"op": op_id, "step": follow["step"]}
        for op in open_ops:
            if len(requests) >= self.batch:
                break
            if op.status != OpStatus.PENDING or op.op_id in phase["deferred"]:
                continue
            if op.op_id in phase["follow"]:
                continue
            built = self._write_request(phase, op)
            if built is None:
                continue
            request, step = built
            try:
                _check(request, version)
                self.store.mark(
                    tenant,
                    op.op_id,
                    [OpStatus.PENDING],
                    OpStatus.SENT,
                    rev=op.rev,
                    sent_at=self.clock(),
                    attempts=op.attempts + 1,
                    message_set_id=msid,
                )
            except QbxmlError as exc:
                self.outcomes.not_applied(
                    phase, op, "QB_FIELD_INVALID", str(exc), expect=(OpStatus.PENDING,)
                )
                continue
            except ConcurrentUpdate:
                continue  # superseded meanwhile: the next exchange reads it again
            requests.append(request)
            sent[request.request_id] = {"op": op.op_id, "step": step}
        return requests, sent

    def _follow_request(
        self, phase: dict[str, Any], op: WriteOp, follow: dict[str, Any], msid: str
    ) -> Request | None:
        step = follow["step"]
        if step == FIND_NAME:
            return find_customer_by_name(op)
        if step == CONFLICT:
            return find_customer_by_id(query_id(op.op_id), op.qb_id)
        if step == RETRY:
            try:
                self.store.mark(
                    op.tenant, op.op_id, [OpStatus.SENT], OpStatus.SENT, message_set_id=msid
                )
            except ConcurrentUpdate:
                phase["follow"].pop(op.op_id, None)
                return None
            return customer_mod(
                op.op_id, follow["list_id"], follow["edit_sequence"], follow["send"]
            )
        # VERIFY: is the lost write in QuickBooks?
        if op.kind == KIND_INVOICE:
            customer = self._customer_of(op)
            if not isinstance(customer, str) or not customer:
                return None
            sent_at = op.sent_at if op.sent_at is not None else self.clock()
            since = datetime.fromtimestamp(sent_at, UTC).replace(tzinfo=None) - VERIFY_MARGIN
            return find_invoice(op, customer, since)
        if not _adds(op):
            return find_customer_by_id(query_id(op.op_id), op.qb_id)
        return find_customer_by_name(op)

    def _write_request(self, phase: dict[str, Any], op: WriteOp) -> tuple[Request, str] | None:
        """The write of a PENDING operation, or None to wait (or when it was refused here)."""
        blocked = self._dependency(phase, op)
        if blocked:
            return None
        try:
            if op.kind == KIND_INVOICE:
                customer = self._customer_of(op)
                if customer == WAIT:
                    return None
                if customer is None:
                    raise WriteRefused(
                        f"the deal's account {op.customer_zoho_id} is not a QuickBooks customer"
                    )
                return invoice_add(op, customer, phase["invoice_item"], op.tenant), INVOICE
            if not _adds(op):
                send = changed_fields(op)
                if not op.qb_id:
                    raise WriteRefused("the QuickBooks customer to change is not known")
                if not op.qb_version:
                    # The current EditSequence is unknown: ask for the customer first, then go
                    # on as after a 3200 (resolve, one Mod).
                    return find_customer_by_id(query_id(op.op_id), op.qb_id), CONFLICT
                if not send:
                    send = {"name": str(op.fields.get("name") or "")}
                return customer_mod(op.op_id, op.qb_id, op.qb_version, send), MOD
            return customer_add(op), ADD
        except (WriteRefused, QbxmlError) as exc:
            self.outcomes.not_applied(
                phase, op, "QB_FIELD_INVALID", str(exc), expect=(OpStatus.PENDING,)
            )
            return None

    def _dependency(self, phase: dict[str, Any], op: WriteOp) -> bool:
        """True while ``op`` must wait for its dependency (NOT_APPLIED-ing it when that
        dependency failed)."""
        if not op.depends_on:
            return False
        dep = self.store.get(op.tenant, op.depends_on)
        if dep is None or dep.status == OpStatus.APPLIED:
            return False
        if dep.status == OpStatus.NOT_APPLIED and _adds(op) and dep.zoho_id == op.zoho_id:
            # An edit captured behind an Add that was refused carries the latest content (often
            # the fix, e.g. a shorter name): it adds the customer itself.
            return False
        if dep.status == OpStatus.NOT_APPLIED:
            why = f"it needs {dep.zoho_module} {dep.zoho_id} in QuickBooks, which failed: "
            self.outcomes.not_applied(
                phase,
                op,
                DEPENDENCY_FAILED,
                why + (dep.error or "not applied"),
                expect=(OpStatus.PENDING,),
            )
        return True

    def _customer_of(self, op: WriteOp) -> str | None:
        """The ListID of an invoice's customer; WAIT while its account is being written;
        None when there is none."""
        if not op.customer_zoho_id:
            return None
        mapping = self.mappings.find_by_zoho_id(op.tenant, ACCOUNTS, op.customer_zoho_id)
        if mapping is not None and mapping.source == SOURCE_QBD and mapping.entity == "Customer":
            return mapping.source_id
        latest = self.store.latest_for(op.tenant, ACCOUNTS, op.customer_zoho_id)
        if latest is None or latest.kind != CUSTOMER:
            return None
        if latest.qb_id and (latest.status == OpStatus.APPLIED or latest.action == ACTION_MOD):
            return latest.qb_id
        return WAIT if latest.open else None

    def _has_more(self, phase: dict[str, Any]) -> bool:
        if phase["follow"] or phase["recover"] or phase["clear"]:
            return True
        for op in self.store.open_ops(phase["tenant"], limit=self.batch * 10):
            if op.status != OpStatus.PENDING or op.op_id in phase["deferred"]:
                continue
            dep = self.store.get(op.tenant, op.depends_on) if op.depends_on else None
            if dep is not None and dep.status not in (OpStatus.APPLIED, OpStatus.NOT_APPLIED):
                continue
            if op.kind == KIND_INVOICE and self._customer_of(op) == WAIT:
                continue
            return True
        return False


def _write_step(op: WriteOp) -> str:
    """The write step an operation's own request was (for a recovered answer)."""
    if op.kind == KIND_INVOICE:
        return INVOICE
    return ADD if _adds(op) else MOD


def _adds(op: WriteOp) -> bool:
    """Whether ``op`` creates its account's customer: an Add, or a MOD captured behind an Add
    that ended without one (TargetedStore names a MOD's customer once its Add is APPLIED)."""
    return op.kind == CUSTOMER and (op.action != ACTION_MOD or not op.qb_id)


def _check(request: Request, version: QbxmlVersion) -> None:
    """Render the request once so a refusal (length, characters, version) happens before
    the operation is marked SENT."""
    request.to_element(version)
