"""Reading QuickBooks Desktop's answers to write-back requests into operation outcomes.

One answer (``*Rs``) concerns one operation and one step of it. Writes: success is APPLIED
(the record handed off first, then the operation marked, so a failed hand-off leaves it open
and the next session reconciles it); 3100 on CustomerAdd asks for the customer by name (then
linked); 3200 on CustomerMod asks for the customer by ListID (then ``conflicts.resolve`` and
one retried Mod; a second 3200 waits for the next session); 3170/3175/3176/3180 wait for the
next session, NOT_APPLIED after MAX_ATTEMPTS; any other error is NOT_APPLIED with QuickBooks'
message. Queries answer the follow-ups: a link, a conflict, or whether a write whose answer was
lost is in QuickBooks (only "not there" makes the operation PENDING again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from qbxml import Response
from qbxml.records import Customer, Record
from qbxml.status import RETRYABLE_CODES, STATUS_NAME_IN_USE, STATUS_STALE_EDIT_SEQUENCE

from ..model.identity import SOURCE_QBD
from ..store.ports import ConcurrentUpdate, MappingStore, StoreError
from ..store.writeback_ports import WriteBackStore
from ..sync.write_handoff import WriteHandOff
from .conflicts import resolve
from .desktop_requests import changed_fields, customer_values, invoice_marker
from .model import OUTCOME_SECONDS, Conflict, OpStatus, WriteOp
from .targets import DUPLICATE_ACCOUNT, held_elsewhere

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# Steps of an operation within a session (the session state names them).
ADD = "add"
MOD = "mod"
RETRY = "retry"  # the one Mod after a 3200, with the resolved fields
INVOICE = "invoice"
FIND_NAME = "find_name"  # after 3100: the customer that has the name
CONFLICT = "conflict"  # after 3200: the customer as QuickBooks holds it now
VERIFY = "verify"  # a lost answer: is the write in QuickBooks?
WRITES = (ADD, MOD, RETRY, INVOICE)
ANSWERED = (OpStatus.SENT, OpStatus.UNKNOWN)


def _epoch(value: Any) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


class Outcomes:
    """Moves operations to their outcomes and hands those off (see the module docstring)."""

    def __init__(
        self,
        store: WriteBackStore,
        writes: WriteHandOff,
        clock: Callable[[], float],
        mappings: MappingStore,
    ) -> None:
        self.store = store
        self.writes = writes
        self.clock = clock
        self.mappings = mappings

    # --- one answer -------------------------------------------------------------------------

    def answer(self, phase: dict[str, Any], op: WriteOp, step: str, rs: Response) -> None:
        """Apply the answer ``rs`` to step ``step`` of ``op`` (``phase``: the session's)."""
        follow = phase["follow"]
        done = follow.pop(op.op_id, {})
        code = rs.status_code
        ok = rs.status_class in ("ok", "info", "warning")
        record = rs.records[0] if ok and rs.records else None
        if step == ADD:
            if record is not None:
                self.applied(phase, op, record, link=True)
            elif code == STATUS_NAME_IN_USE:
                follow[op.op_id] = {"step": FIND_NAME}
            else:
                self.refused(phase, op, rs)
        elif step in (MOD, RETRY):
            conflicts = tuple(Conflict.from_item(c) for c in done.get("conflicts", ()))
            if record is not None:
                self.applied(phase, op, record, link=False, conflicts=conflicts)
            elif code == STATUS_STALE_EDIT_SEQUENCE and step == MOD:
                follow[op.op_id] = {"step": CONFLICT}
            elif code == STATUS_STALE_EDIT_SEQUENCE:
                self.later(phase, op, code, "changed in QuickBooks again while it was written")
            else:
                self.refused(phase, op, rs)
        elif step == INVOICE:
            if record is not None:
                self.applied(phase, op, record, link=False)
            else:
                self.refused(phase, op, rs)
        elif step == FIND_NAME:
            self._found_name(phase, op, rs)
        elif step == CONFLICT:
            self._conflict(phase, op, rs)
        elif step == VERIFY:
            self._verified(phase, op, rs)

    def _found_name(self, phase: dict[str, Any], op: WriteOp, rs: Response) -> None:
        customer = self._customer(rs)
        if customer is None:
            # 3100 and no customer of that name: a vendor, employee or other name has it.
            name = op.fields.get("name")
            self.not_applied(
                phase,
                op,
                str(STATUS_NAME_IN_USE),
                f"The name {name!r} is used by a vendor, employee or other name in QuickBooks",
            )
            return
        list_id = str(customer.list_id or "")
        why = held_elsewhere(self.mappings, op, SOURCE_QBD, list_id, self.store)
        if why is not None:
            self.not_applied(phase, op, DUPLICATE_ACCOUNT, why)
            return
        self.applied(phase, op, customer, link=True, linked=True)

    def _conflict(self, phase: dict[str, Any], op: WriteOp, rs: Response) -> None:
        customer = self._customer(rs)
        if customer is None:
            self.not_applied(phase, op, "3120", "The QuickBooks customer no longer exists")
            return
        send, conflicts = resolve(
            phase["policy"],
            op.base,
            {k: str(v or "") for k, v in op.fields.items()},
            customer_values(customer),
            _epoch(op.zoho_version),
            _epoch(customer.time_modified),
        )
        if not send:
            self.applied(phase, op, customer, link=False, conflicts=conflicts)
            return
        phase["follow"][op.op_id] = {
            "step": RETRY,
            "list_id": customer.list_id or op.qb_id,
            "edit_sequence": customer.edit_sequence or "",
            "send": send,
            "conflicts": [c.to_item() for c in conflicts],
        }

    def _verified(self, phase: dict[str, Any], op: WriteOp, rs: Response) -> None:
        found: Record | None = None
        if op.kind == "invoice":
            marker = invoice_marker(op)
            found = next((r for r in rs.records if marker in (getattr(r, "memo", "") or "")), None)
            link = False
        elif op.action == "add":
            found = self._customer(rs)
            link = True
            if found is not None:
                # The customer of that name may be one the Add met (3100), not made: it is
                # linked only as a 3100's would be.
                list_id = str(found.list_id or "")
                why = held_elsewhere(self.mappings, op, SOURCE_QBD, list_id, self.store)
                if why is not None:
                    self.not_applied(phase, op, DUPLICATE_ACCOUNT, why)
                    return
        else:
            customer = self._customer(rs)
            current = customer_values(customer) if customer is not None else {}
            moved = customer is not None and customer.edit_sequence != op.qb_version
            if moved and all(current.get(k) == v for k, v in changed_fields(op).items()):
                found = customer
            link = False
        if found is not None:
            self.applied(phase, op, found, link=link)
            return
        if rs.status_class not in ("ok", "empty", "info", "warning"):
            # The query itself failed: nothing is known yet; the next session asks again.
            log.warning("could not verify write %s: %s", op.op_id, rs.status_message)
            return
        if op.attempts >= MAX_ATTEMPTS:
            self.not_applied(phase, op, "RELAY_ERROR", "QuickBooks did not apply it in 5 tries")
            return
        self._mark(op, OpStatus.PENDING, expect=(OpStatus.UNKNOWN,))

    @staticmethod
    def _customer(rs: Response) -> Customer | None:
        return next((r for r in rs.records if isinstance(r, Customer)), None)

    # --- outcomes ---------------------------------------------------------------------------

    def applied(
        self,
        phase: dict[str, Any],
        op: WriteOp,
        record: Record,
        *,
        link: bool,
        linked: bool = False,
        conflicts: tuple[Conflict, ...] = (),
    ) -> None:
        """APPLIED with QuickBooks' record: handed off (linked when ``link``), then marked."""
        now = self.clock()
        attrs: dict[str, Any] = {
            "qb_id": getattr(record, "list_id", None) or getattr(record, "txn_id", None) or "",
            "result_version": getattr(record, "edit_sequence", None) or "",
            "ref_number": getattr(record, "ref_number", None) or "",
            "linked": linked,
            "conflicts": conflicts,
            "error": "",
            "error_code": "",
            "outcome_at": now,
            "expires_at": now + OUTCOME_SECONDS,
        }
        final = op.with_(status=OpStatus.APPLIED, **attrs)
        try:
            self.writes.applied(final, record, link, now)
        except StoreError as exc:
            # Left open: the next session finds it in QuickBooks and hands it off then.
            log.error("write %s applied but not handed off: %s", op.op_id, exc)
            return
        if self._mark(op, OpStatus.APPLIED, **attrs):
            phase["counts"]["applied"] = phase["counts"].get("applied", 0) + 1

    def not_applied(
        self,
        phase: dict[str, Any],
        op: WriteOp,
        code: str,
        message: str,
        expect: tuple[OpStatus, ...] = ANSWERED,
    ) -> None:
        """NOT_APPLIED with the reason, which the ZohoUpdate shows on the ZOHO record."""
        now = self.clock()
        attrs = {
            "error": message,
            "error_code": code,
            "outcome_at": now,
            "expires_at": now + OUTCOME_SECONDS,
        }
        final = op.with_(status=OpStatus.NOT_APPLIED, **attrs)
        try:
            self.writes.outcome(final, now)
        except StoreError as exc:
            log.error("could not hand off the outcome of %s: %s", op.op_id, exc)
            return
        if self._mark(op, OpStatus.NOT_APPLIED, expect=expect, **attrs):
            phase["counts"]["failed"] = phase["counts"].get("failed", 0) + 1

    def refused(self, phase: dict[str, Any], op: WriteOp, rs: Response) -> None:
        """QuickBooks refused the write: try again later, or NOT_APPLIED."""
        if rs.status_code in RETRYABLE_CODES:
            self.later(phase, op, rs.status_code, rs.status_message)
            return
        self.not_applied(phase, op, str(rs.status_code), rs.status_message or "refused")

    def later(self, phase: dict[str, Any], op: WriteOp, code: int, message: str) -> None:
        """Back to PENDING for the next session (NOT_APPLIED once its tries are used up)."""
        if op.attempts >= MAX_ATTEMPTS:
            self.not_applied(phase, op, str(code), f"{message} ({op.attempts} tries)")
            return
        phase["deferred"].append(op.op_id)
        self._mark(op, OpStatus.PENDING, error=message, error_code=str(code))

    def unknown(self, op: WriteOp) -> None:
        """The answer was lost: UNKNOWN until reconciled (never re-sent blindly)."""
        self._mark(op, OpStatus.UNKNOWN, expect=(OpStatus.SENT,))

    def _mark(
        self,
        op: WriteOp,
        status: OpStatus,
        expect: tuple[OpStatus, ...] = ANSWERED,
        **attrs: Any,
    ) -> bool:
        try:
            self.store.mark(op.tenant, op.op_id, expect, status, **attrs)
        except ConcurrentUpdate:
            log.warning("write %s moved meanwhile; not marked %s", op.op_id, status)
            return False
        return True
