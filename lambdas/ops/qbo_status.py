"""QuickBooks Online connections as an operator sees them: ``GET /health/qbo`` and the console.

Reads only the connection rows (:mod:`lambdas.qbo.connections`): non-secret metadata, never
the tokens. Shapes (keys are only ever added):

- ``connection_json``: ``{"tenant", "status", "message", "realm_id", "connected_at",
  "access_expires_at", "refresh_expires_at", "refresh_hard_expires_at", "days_to_reconnect",
  "days_to_hard_expiry", "last_success_at", "warning"}`` (``status``: connected,
  needs_reconnect or disconnected)
- ``health_qbo``: ``{"status": "ok" | "degraded" | "unavailable"}``, and with ``detailed``
  ``"tenants": [connection_json, ...]``.
"""

from __future__ import annotations

from typing import Any

from ..qbo.connections import CONNECTED, NEEDS_RECONNECT, QboConnection, QboConnectionStore
from ..qbo.tokens import RECONNECT_WARNING_DAYS
from ..store.ports import StoreError

DAY = 86400.0


def _days(until: float | None, now: float) -> float | None:
    return None if until is None else round((until - now) / DAY, 1)


def connection_json(c: QboConnection, now: float) -> dict[str, Any]:
    """One tenant's connection: status, expiry times, days left, last success, a warning."""
    left = c.days_left(now)
    warning = None
    if c.status == NEEDS_RECONNECT:
        warning = c.message or "QuickBooks Online needs the company connected again"
    elif c.status == CONNECTED and left is not None and left < RECONNECT_WARNING_DAYS:
        warning = f"the company must be connected again within {max(left, 0):.0f} day(s)"
    return {
        "tenant": c.tenant,
        "status": c.status,
        "message": c.message,
        "realm_id": c.realm_id,
        "connected_at": c.connected_at,
        "access_expires_at": c.access_expires_at,
        "refresh_expires_at": c.refresh_expires_at,
        "refresh_hard_expires_at": c.refresh_hard_expires_at,
        "days_to_reconnect": None if left is None else round(left, 1),
        "days_to_hard_expiry": _days(c.refresh_hard_expires_at, now),
        "last_success_at": c.last_success_at,
        "warning": warning,
    }


def connections_by_tenant(store: QboConnectionStore | None, now: float) -> dict[str, Any]:
    """Every connection's ``connection_json`` by tenant name (empty without a store)."""
    if store is None:
        return {}
    return {c.tenant: connection_json(c, now) for c in store.list()}


def health_qbo(
    store: QboConnectionStore | None, now: float, detailed: bool = False
) -> dict[str, Any]:
    """``degraded`` when a connection needs a reconnect or must be reconnected within
    RECONNECT_WARNING_DAYS; tenants that never connected QuickBooks Online are not counted.
    ``unavailable`` when the store cannot be read. Only ``detailed`` names tenants."""
    try:
        rows = list(connections_by_tenant(store, now).values())
    except StoreError:
        return {"status": "unavailable"}
    bad = any(r["warning"] for r in rows if r["status"] != "disconnected")
    out: dict[str, Any] = {"status": "degraded" if bad else "ok"}
    if detailed:
        out["tenants"] = rows
    return out
