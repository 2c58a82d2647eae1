"""The QuickBooks Online sync as the deployments run it: clients per tenant, the sync of queued
changes, the scheduled catch-up and the reconnect check, over ports the caller wires.

The Lambda handlers (``lambdas/handlers/qbo_sync.py``, ``qbo_cdc.py``) and the local process's
worker (``qbrelay serve``, the demo) build one :class:`QboRuntime` from their adapters and call
``handle``/``drain``, ``catch_up`` and ``reconnect_check``. What it adds to the cores:

- a tenant that is paused (``qbrelay pause``) or deleted is skipped: its notices are dropped
  (logged) and its catch-up does not run, so its watermarks stay where they were and the first
  catch-up after ``resume`` brings everything it missed;
- each tenant gets a :class:`QboClient` whose tokens refresh under the connection's lease and
  whose calls wait for the realm's turn in the shared :class:`RealmLimiter`; one client per
  tenant per pass, so a pass refreshes at most once;
- a connection Intuit stops accepting is marked ``needs_reconnect`` by the tokens or the client,
  and one ``qbo.needs_reconnect`` event is published by the process that marked it;
- a tenant whose company answered is recorded (``record_success``), and counters go to
  ``Metrics`` (records queued, API calls, throttled realms, reconnect figures).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from ..events import EventPublisher, NoEvents
from ..metrics import Metrics, NoMetrics
from ..model.errors import error_info
from ..model.events import qbo_needs_reconnect
from ..store.ports import (
    MappingStore,
    PayloadStore,
    RecordQueue,
    SecretStore,
    SyncStateStore,
    TenantStore,
)
from ..store.qbo_ports import ChangeQueue, ReceivedChange
from ..store.writeback_ports import WriteBackStore
from ..writeback.online import OnlineWriter, WriterReport
from .auth_client import IntuitAuthClient
from .cdc import CatchUpReport, CdcCatchUp
from .client import QboClient
from .config import QboConfig
from .connections import CONNECTED, DISCONNECTED, NEEDS_RECONNECT, QboConnectionStore
from .errors import QboNeedsReconnect
from .limits import RealmLimiter, RealmLimitStore, RealmPolicy
from .sync import QboSync, SyncReport
from .tokens import RECONNECT_WARNING_DAYS, QboTokens

log = logging.getLogger(__name__)

# Counter names (the dashboard charts them; lambdas/metrics.py has the product's others).
QBO_RECORDS_QUEUED = "QboRecordsQueued"
QBO_API_CALLS = "QboApiCalls"
QBO_THROTTLED = "QboThrottled"
QBO_SYNC_FAILURES = "QboSyncFailures"
QBO_NEEDS_RECONNECT = "QboNeedsReconnect"  # connections marked, as they are marked
QBO_NEEDS_RECONNECT_TENANTS = "QboNeedsReconnectTenants"  # connections waiting, per check
QBO_RECONNECT_SOON = "QboReconnectSoon"
QBO_RECONNECT_DAYS_LEFT = "QboReconnectDaysLeft"
QBO_WEBHOOKS = "QboWebhooks"
QBO_WRITEBACK_APPLIED = "QboWriteBackApplied"
QBO_WRITEBACK_FAILED = "QboWriteBackNotApplied"
QBO_WEBHOOK_SIGNATURE_FAILURES = "QboWebhookSignatureFailures"


@dataclass(slots=True)
class QboPorts:
    """What the QuickBooks Online sync runs on (adapters chosen by the deployment)."""

    config: QboConfig
    secrets: SecretStore
    connections: QboConnectionStore
    limits: RealmLimitStore
    tenants: TenantStore
    mappings: MappingStore
    records: RecordQueue
    state: SyncStateStore
    payloads: PayloadStore | None = None
    events: EventPublisher = field(default_factory=NoEvents)
    metrics: Metrics = field(default_factory=NoMetrics)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session | None = None
    policy: RealmPolicy | None = None
    # Write-back operations the Online writer applies (None: no write-back).
    writeback: WriteBackStore | None = None


class ActiveRealms:
    """The realm directory of the sync: a realm's tenant unless it is disconnected, paused or
    gone (then its notices are dropped, and the catch-up after a resume brings the changes)."""

    def __init__(self, connections: QboConnectionStore, tenants: TenantStore) -> None:
        self.connections = connections
        self.tenants = tenants

    def find_by_realm(self, realm_id: str) -> str | None:
        conn = self.connections.find_by_realm(realm_id)
        if conn is None or conn.status == DISCONNECTED:
            return None
        tenant = self.tenants.get(conn.tenant)
        if tenant is None:
            return None
        if tenant.paused:
            log.info("QuickBooks Online changes of paused tenant %s are skipped", conn.tenant)
            return None
        return conn.tenant


@dataclass(slots=True)
class ReconnectCheck:
    """The connections that need a person: already refused, or due within the warning days."""

    needs_reconnect: list[str] = field(default_factory=list)
    expiring: list[tuple[str, float]] = field(default_factory=list)  # (tenant, days left)
    min_days_left: float | None = None


class QboRuntime:
    """One deployment's QuickBooks Online sync (see the module docstring)."""

    def __init__(self, ports: QboPorts) -> None:
        self.ports = ports
        self.directory = ActiveRealms(ports.connections, ports.tenants)
        self.limiter = RealmLimiter(ports.limits, ports.policy, ports.clock, ports.sleep)
        self.auth = IntuitAuthClient(ports.config, ports.session, ports.clock)
        self._clients: dict[str, QboClient] = {}
        self.sync = QboSync(
            self.directory,
            self.client,
            ports.mappings,
            ports.records,
            ports.state,
            ports.payloads,
            ports.clock,
        )
        self.catch_up_core = CdcCatchUp(self.sync, ports.state, ports.mappings, ports.clock)

    # --- clients -------------------------------------------------------------------------

    def client(self, tenant: str) -> QboClient:
        """The tenant's API client for this pass (made on first use)."""
        found = self._clients.get(tenant)
        if found is None:
            p = self.ports
            tokens = QboTokens(
                tenant,
                p.secrets,
                p.connections,
                self.auth,
                clock=p.clock,
                sleep=p.sleep,
                on_needs_reconnect=self._announce,
            )
            found = QboClient(tokens, p.config, self.limiter, p.session, p.sleep, p.clock)
            self._clients[tenant] = found
        return found

    def api_calls(self) -> int:
        """Accounting API calls the clients of this runtime made so far."""
        return sum(sum(c.calls.values()) for c in self._clients.values())

    def _announce(self, tenant: str, error: QboNeedsReconnect) -> None:
        conn = self.ports.connections.get(tenant)
        realm = conn.realm_id if conn is not None else ""
        info = error_info("QBO_INVALID_GRANT", str(error))
        event = qbo_needs_reconnect(tenant, realm, at=self.ports.clock(), error=info)
        self.ports.events.publish([event])
        self.ports.metrics.count(QBO_NEEDS_RECONNECT)

    def _end_pass(self) -> None:
        calls = self.api_calls()
        if calls:
            self.ports.metrics.count(QBO_API_CALLS, calls)
        self._clients.clear()

    # --- queued changes ------------------------------------------------------------------

    def handle(self, received: Sequence[ReceivedChange]) -> tuple[SyncReport, list[str]]:
        """Sync received change messages; (report, receipts handled). The rest go back to the
        queue (a Lambda reports them as batch item failures)."""
        try:
            report, done = self.sync.handle(received)
        finally:
            self._end_pass()
        self._after(report)
        return report, done

    def drain(self, queue: ChangeQueue, batch_size: int = 10, max_batches: int = 100) -> SyncReport:
        """Sync the queue's messages one receive at a time until it shows none."""
        total = SyncReport()
        for _ in range(max_batches):
            received = queue.receive(batch_size)
            if not received:
                break
            report, done = self.handle(received)
            queue.delete(done)
            total.add(report)
        return total

    def _after(self, report: SyncReport) -> None:
        m, now = self.ports.metrics, self.ports.clock()
        if report.queued:
            m.count(QBO_RECORDS_QUEUED, report.queued)
        throttled = [r for r, why in report.failed_realms.items() if why.startswith("QboThrottled")]
        if throttled:
            m.count(QBO_THROTTLED, len(throttled))
        if report.failed_realms:
            m.count(QBO_SYNC_FAILURES, len(report.failed_realms))
        for realm in dict.fromkeys(report.realms_order):
            if realm in report.failed_realms:
                continue
            tenant = self.directory.find_by_realm(realm)
            if tenant is not None:
                self.ports.connections.record_success(tenant, now)

    # --- catch-up ------------------------------------------------------------------------

    def catch_up_tenants(self) -> list[str]:
        """Tenants the catch-up runs for: connected, not paused, still existing."""
        out = []
        for conn in self.ports.connections.list():
            if conn.status != CONNECTED:
                continue
            tenant = self.ports.tenants.get(conn.tenant)
            if tenant is not None and not tenant.paused:
                out.append(conn.tenant)
        return out

    def catch_up(self, tenants: Sequence[str] | None = None) -> list[CatchUpReport]:
        """Change-data-capture catch-up (or first full load) of each tenant; one tenant's
        failure is reported and the others go on."""
        names = self.catch_up_tenants() if tenants is None else list(tenants)
        try:
            reports = self.catch_up_core.run_all(names, self.client)
        finally:
            self._end_pass()
        m, now = self.ports.metrics, self.ports.clock()
        for r in reports:
            if r.queued:
                m.count(QBO_RECORDS_QUEUED, r.queued)
            if r.error.startswith("QboThrottled"):
                m.count(QBO_THROTTLED)
            if r.error:
                m.count(QBO_SYNC_FAILURES)
            else:
                self.ports.connections.record_success(r.tenant, now)
        return reports

    # --- write-back ----------------------------------------------------------------------

    def write_back(self, tenants: Sequence[str] | None = None) -> list[WriterReport]:
        """Apply the open write-back operations of each tenant the catch-up runs for (or of
        ``tenants``) that has write-back on; nothing without a write-back store. One tenant's
        failure is logged and reported (``errors``), and the others go on."""
        store = self.ports.writeback
        if store is None:
            return []
        p = self.ports
        writer = OnlineWriter(store, p.mappings, p.records, self.client, p.clock, p.payloads)
        reports: list[WriterReport] = []
        try:
            for name in self.catch_up_tenants() if tenants is None else tenants:
                tenant = p.tenants.get(name)
                if tenant is None or not tenant.writeback or tenant.paused:
                    continue
                try:
                    report = writer.run(tenant)
                except Exception as exc:  # the store failed: the next run tries again
                    log.warning("write-back of %s failed: %s", name, exc, extra={"tenant": name})
                    report = WriterReport(name, errors=[f"{type(exc).__name__}: {exc}"])
                if report.applied:
                    p.metrics.count(QBO_WRITEBACK_APPLIED, report.applied)
                if report.not_applied:
                    p.metrics.count(QBO_WRITEBACK_FAILED, report.not_applied)
                reports.append(report)
        finally:
            self._end_pass()
        return reports

    # --- reconnect check -----------------------------------------------------------------

    def reconnect_check(self, warning_days: float = RECONNECT_WARNING_DAYS) -> ReconnectCheck:
        """Connections needing a reconnect now or within ``warning_days``; the counts go to
        Metrics (``QboNeedsReconnectTenants`` per run, ``QboReconnectDaysLeft`` the
        fewest days left of any connected company), so an alarm can fire days ahead."""
        now = self.ports.clock()
        check = ReconnectCheck()
        for conn in self.ports.connections.list():
            if conn.status == NEEDS_RECONNECT:
                check.needs_reconnect.append(conn.tenant)
                continue
            if conn.status != CONNECTED:
                continue
            left = conn.days_left(now)
            if left is None:
                continue
            if check.min_days_left is None or left < check.min_days_left:
                check.min_days_left = left
            if left < warning_days:
                check.expiring.append((conn.tenant, left))
        m = self.ports.metrics
        m.count(QBO_NEEDS_RECONNECT_TENANTS, len(check.needs_reconnect))
        m.count(QBO_RECONNECT_SOON, len(check.expiring))
        if check.min_days_left is not None:
            m.count(QBO_RECONNECT_DAYS_LEFT, max(0, math.floor(check.min_days_left)))
        return check


def describe_check(check: ReconnectCheck) -> dict[str, Any]:
    """The reconnect check as JSON (the CDC handler's answer, ``qbrelay qbo status``)."""
    return {
        "needs_reconnect": check.needs_reconnect,
        "expiring": [{"tenant": t, "days_left": round(d, 1)} for t, d in check.expiring],
        "min_days_left": None if check.min_days_left is None else round(check.min_days_left, 1),
    }


def describe_written(reports: Sequence[WriterReport]) -> list[dict[str, Any]]:
    """The write-back runs as JSON (the CDC handler's answer)."""
    return [
        {
            "tenant": r.tenant,
            "applied": r.applied,
            "not_applied": r.not_applied,
            "unknown": r.unknown,
            "waiting": r.waiting,
            "stopped": r.stopped,
        }
        for r in reports
    ]
