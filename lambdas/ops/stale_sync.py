"""Which tenants have gone quiet: no completed Web Connector session for too long.

The QuickBooks PC being off (or QBWC's scheduler disabled) is the most common failure, and the
relay itself never sees it: no request arrives. This check looks at ``last_sync_at``, which the
relay sets when a session completes without errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store.ports import Tenant, TenantStore

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class StaleTenant:
    """A tenant overdue for a sync, and how long it has been silent."""

    name: str
    last_sync_at: float | None
    silent_hours: float


def silent_since(tenant: Tenant) -> float:
    """When the tenant last completed a session, or was created if it never did."""
    return tenant.last_sync_at if tenant.last_sync_at is not None else tenant.created_at


def is_stale(tenant: Tenant, now: float, threshold_hours: float) -> bool:
    """True when the tenant should have completed a session by now and has not.

    The allowance is the threshold plus the tenant's own minimum sync interval (the relay turns
    sessions away within that interval). A tenant that never synced counts from its creation.
    Tenants with no enabled entities have nothing to sync, and paused ones are not meant to:
    neither is ever stale.
    """
    if not tenant.enabled_entities or tenant.paused:
        return False
    return now - silent_since(tenant) > threshold_hours * HOUR + tenant.min_interval_seconds


def stale_tenants(tenants: TenantStore, now: float, threshold_hours: float) -> list[StaleTenant]:
    """Every tenant of the store that is stale at ``now``, by name."""
    if threshold_hours <= 0:
        raise ValueError(f"the stale-sync threshold must be positive hours, not {threshold_hours}")
    return [
        StaleTenant(
            name=t.name,
            last_sync_at=t.last_sync_at,
            silent_hours=(now - silent_since(t)) / HOUR,
        )
        for t in tenants.list()
        if is_stale(t, now, threshold_hours)
    ]
