"""Running the change capture: for every write-back tenant on a schedule, or for one tenant
before its Web Connector session's plan is built.

A tenant's failure (ZOHO, store, credentials) is logged and counted; it never stops another
tenant, and before a session it never stops the session (the scheduled run catches up).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ..model.identity import SOURCE_QBD, SOURCE_QBO
from ..qbo.connections import DISCONNECTED, QboConnectionStore
from ..store.ports import StoreError, Tenant
from ..zoho.errors import ZohoError
from .capture import CaptureReport, ZohoCapture

log = logging.getLogger(__name__)

# What one tenant's capture may raise without stopping the others.
TENANT_ERRORS = (ZohoError, StoreError)


@dataclass(slots=True)
class CaptureRun:
    """Per tenant: what the capture did, or why it failed."""

    reports: dict[str, CaptureReport] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ops_added(self) -> int:
        return sum(r.ops_added for r in self.reports.values())


def capture_tenants(tenants: Iterable[Tenant], capture: ZohoCapture) -> CaptureRun:
    """Run ``capture`` for each tenant with write-back on (not paused)."""
    run = CaptureRun()
    for tenant in tenants:
        if not tenant.writeback or tenant.paused:
            continue
        try:
            run.reports[tenant.name] = capture.run(tenant)
        except TENANT_ERRORS as exc:
            run.failed[tenant.name] = f"{type(exc).__name__}: {exc}"
            log.warning("write-back capture failed: %s", exc, extra={"tenant": tenant.name})
    return run


def before_plan(capture: Callable[[Tenant], object]) -> Callable[[Tenant], None]:
    """``capture`` for the Web Connector's authenticate: any failure is logged, never raised
    (the session goes on with the operations already stored)."""

    def run(tenant: Tenant) -> None:
        try:
            capture(tenant)
        except Exception as exc:  # a capture must never fail a session
            log.warning(
                "write-back capture before the session failed: %s",
                exc,
                extra={"tenant": tenant.name},
            )

    return run


def editions(connections: QboConnectionStore | None) -> Callable[[str], str]:
    """Which QuickBooks a tenant writes to: Online when it has a company connected (also one
    needing a reconnect: its operations wait for it, rather than going to a Web Connector the
    tenant does not run), else Desktop."""

    def edition(tenant: str) -> str:
        if connections is None:
            return SOURCE_QBD
        connection = connections.get(tenant)
        online = connection is not None and connection.status != DISCONNECTED
        return SOURCE_QBO if online else SOURCE_QBD

    return edition
