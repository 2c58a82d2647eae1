"""Which tenants have gone quiet: no completed Web Connector session for too long.

The QuickBooks PC being off (or QBWC's scheduler disabled) is the most common failure, and the
relay itself never sees it: no request arrives. This check looks at ``last_sync_at``, which the
relay sets when a session completes without errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..events.publisher import EventPublisher
from ..model.events import Event, tenant_stale
from ..store.ports import Tenant, TenantStore

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class StaleTenant:
    """A tenant overdue for a sync, and how long it has been silent."""

    name: str
    last_sync_at: float | None
    silent_hours: float
    # Since when the tenant is silent, and how long it may be before it counts as stale.
    silent_since: float = 0.0
    allowance_seconds: float = 0.0


def silent_since(tenant: Tenant) -> float:
    """When the tenant last completed a session, or was created if it never did."""
    return tenant.last_sync_at if tenant.last_sync_at is not None else tenant.created_at


def allowance(tenant: Tenant, threshold_hours: float) -> float:
    """Seconds of silence after which the tenant is stale."""
    return threshold_hours * HOUR + tenant.min_interval_seconds


def is_stale(tenant: Tenant, now: float, threshold_hours: float) -> bool:
    """True when the tenant should have completed a session by now and has not.

    The allowance is the threshold plus the tenant's own minimum sync interval (the relay turns
    sessions away within that interval). A tenant that never synced counts from its creation.
    Tenants with no enabled entities have nothing to sync, and paused ones are not meant to:
    neither is ever stale.
    """
    if not tenant.enabled_entities or tenant.paused:
        return False
    return now - silent_since(tenant) > allowance(tenant, threshold_hours)


def stale_tenants(tenants: TenantStore, now: float, threshold_hours: float) -> list[StaleTenant]:
    """Every tenant of the store that is stale at ``now``, by name."""
    if threshold_hours <= 0:
        raise ValueError(f"the stale-sync threshold must be positive hours, not {threshold_hours}")
    return [
        StaleTenant(
            name=t.name,
            last_sync_at=t.last_sync_at,
            silent_hours=(now - silent_since(t)) / HOUR,
            silent_since=silent_since(t),
            allowance_seconds=allowance(t, threshold_hours),
        )
        for t in tenants.list()
        if is_stale(t, now, threshold_hours)
    ]


def stale_notices(
    stale: Sequence[StaleTenant], now: float, threshold_hours: float, window_seconds: float
) -> list[Event]:
    """The ``tenant.stale`` events of a check that runs every ``window_seconds``.

    A tenant is announced once when its silence crosses the allowance, and reminded each further
    threshold period of the same silence (24 h, 48 h ... past it), by the check whose window
    holds the crossing, so a check every few minutes does not repeat itself. The checker keeps
    no state; a window a little longer than the schedule's period only risks a repeat, which
    carries the same event id.
    """
    period = threshold_hours * HOUR
    out = []
    for t in stale:
        overdue = (now - t.silent_since) - t.allowance_seconds
        reminder = max(0, math.floor(overdue / period))
        if overdue - reminder * period < window_seconds:
            out.append(
                tenant_stale(
                    t.name,
                    at=now,
                    silent_since=t.silent_since,
                    last_sync_at=t.last_sync_at,
                    silent_hours=t.silent_hours,
                    threshold_hours=threshold_hours,
                    reminder=reminder,
                )
            )
    return out


def check_stale(
    tenants: TenantStore,
    events: EventPublisher,
    now: float,
    threshold_hours: float,
    window_seconds: float,
) -> list[StaleTenant]:
    """Every stale tenant; the newly (or again) stale ones are published as events."""
    stale = stale_tenants(tenants, now, threshold_hours)
    events.publish(stale_notices(stale, now, threshold_hours, window_seconds))
    return stale
