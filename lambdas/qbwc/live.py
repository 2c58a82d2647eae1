"""Live mode: a tenant's Web Connector runs every ``live_interval_seconds`` (RunEveryNSeconds),
and the relay keeps that cheap.

- ``due``: authenticate opens a session only when something is due: a change probe (the last
  completed session is an interval old, less ``EARLY_SECONDS``), or open write-back
  operations. Anything else answers "none" after one small read (the write-back store, one
  operation at most) and no session row; a re-sync (``qbrelay resync``) is read by the next
  due session, at most one interval later.
- A session that has finished its plan holds (receiveResponseXML answers 99, not 100) and
  answers sendRequestXML "" with getLastError "NoOp": the Web Connector waits 5 seconds and asks
  again in the same session, and write-back operations that arrive meanwhile are written at
  once. The hold ends ``wait_seconds`` after the session started (the interval, at most 5
  minutes; the session's absolute life applies as ever) with a closing round: the ZOHO capture
  runs, its operations are written, and the entities are probed once more from the watermarks
  just stored, so QuickBooks changes made during the hold are not left for the next session.
  Its answer is 100 and the session closes.
- A tenant that is not live never gets "NoOp" (it would wait and ask again, for ever).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from qbxml import QbxmlVersion

from ..store.ports import StoreError, Tenant, TenantStore
from ..sync.engine import SyncEngine
from ..sync.plan import Plan
from ..sync.probes import reprobe
from ..writeback.desktop import DesktopWriteBack

log = logging.getLogger(__name__)

NOOP = "NoOp"
# The longest a finished session holds for write-back work, however long the interval.
MAX_WAIT_SECONDS = 300
# A run this much earlier than the interval still counts as on time (timers, network).
EARLY_SECONDS = 5
# The interval's bounds: below 5 s the Web Connector's own NoOp pause is longer; above an hour
# the ordinary schedule (RunEveryNMinutes) serves.
MIN_INTERVAL_SECONDS = 5
MAX_INTERVAL_SECONDS = 3600


def wait_seconds(interval: int) -> int:
    """How long after it started a live session may hold with NoOp waits."""
    return min(interval, MAX_WAIT_SECONDS)


def probe_due(tenant: Tenant, now: float) -> bool:
    """True when the tenant's last completed session is at least an interval old."""
    last = tenant.last_sync_at
    return last is None or now - last >= tenant.live_interval_seconds - EARLY_SECONDS


def _finished_reads(plan: Plan) -> bool:
    """True when the plan read some entity's changes to the end (there is something to probe
    again in the closing round)."""
    return any(not s.ids and s.status == "done" for s in plan.steps)


class LiveSessions:
    """Live mode's decisions at authenticate, sendRequestXML and receiveResponseXML."""

    def __init__(
        self,
        tenants: TenantStore,
        engine: SyncEngine,
        writeback: DesktopWriteBack | None,
        clock: Callable[[], float],
    ) -> None:
        self.tenants = tenants
        self.engine = engine
        self.writeback = writeback
        self.clock = clock

    def due(self, tenant: Tenant, now: float) -> bool:
        """Whether a live tenant's authenticate should open a session (see the module)."""
        return probe_due(tenant, now) or self._writes_open(tenant)

    def _writes_open(self, tenant: Tenant) -> bool:
        if self.writeback is None or not tenant.writeback:
            return False
        try:
            return bool(self.writeback.store.open_ops(tenant.name, limit=1))
        except StoreError as exc:
            # Cannot tell: a session finds out (and reports the store).
            log.warning("write-back store unavailable: %s", exc, extra={"tenant": tenant.name})
            return True

    @staticmethod
    def start(tenant: Tenant, now: float) -> dict[str, Any]:
        """The live part of a new session's state: {} for a tenant that is not live."""
        if not tenant.live:
            return {}
        return {
            "until": now + wait_seconds(tenant.live_interval_seconds),
            "closing": False,
            # Only a write-back tenant's hold looks for operations that arrived.
            "writes": tenant.writeback,
        }

    @staticmethod
    def hold(live: dict[str, Any], plan: Plan, percent: int) -> int:
        """The percent to answer: 99 instead of 100 while a live session may still hold."""
        if percent == 100 and live and not live["closing"] and _finished_reads(plan):
            return 99
        return percent

    def next_request(self, tenant_name: str, state: Any) -> str | None:
        """What a held live session answers this sendRequestXML: a write-back message set for
        operations that arrived, "" with getLastError "NoOp" while the hold lasts, or None to
        go on as usual (not held; or the closing round, whose writes and probes are now in the
        session's state)."""
        live = state.live
        if not live or live["closing"] or not self._idle(state):
            return None
        version = QbxmlVersion.parse(state.qbxml_version)
        if live.get("writes") and self.writeback is not None and self._arrived(tenant_name):
            tenant = self.tenants.get(tenant_name)
            phase = self.writeback.start(tenant, capture=False) if tenant is not None else {}
            writes = self.writeback.next_exchange(phase, version) if phase else None
            if writes:
                state.writeback = phase
                state.exchanges += 1
                self._working(state)
                return writes
        if self.clock() < live["until"]:
            # A flag, not the session's last error: that stays for the run history.
            live["noop"] = True
            return ""
        live["closing"] = True
        self._working(state)
        tenant = self.tenants.get(tenant_name)
        if tenant is not None:
            if self.writeback is not None:
                # The capture runs here too: ZOHO changes reach QuickBooks at the interval.
                state.writeback = self.writeback.start(tenant)
            reprobe(self.engine, tenant, state.plan)
        return None

    def _idle(self, state: Any) -> bool:
        """The plan and the write phase are finished (else the session has work of its own)."""
        phase = state.writeback
        return state.plan.current() is None and (not phase or bool(phase.get("done")))

    def _arrived(self, tenant: str) -> bool:
        if self.writeback is None:
            return False
        try:
            return bool(self.writeback.store.open_ops(tenant, limit=1))
        except StoreError as exc:
            log.warning("write-back store unavailable: %s", exc, extra={"tenant": tenant})
            return False

    @staticmethod
    def waiting(state: Any) -> bool:
        """True while getLastError must answer "NoOp" (the hold's last answer was "")."""
        return bool(state.live.get("noop"))

    @staticmethod
    def _working(state: Any) -> None:
        state.live.pop("noop", None)
