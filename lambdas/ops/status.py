"""What an operator sees: tenants, their sessions, counts, parked failures, drift, health.

Every function takes the stores (a :class:`TenantData`) and returns JSON-serialisable dicts of
a stable shape, shared by ``qbrelay status --json`` and the status API; keys are only ever
added. Errors appear in the one shape of :mod:`lambdas.model.errors` (``error`` objects with
``code``, ``message``, ``user_message``, ``retryable``, ``docs``).

Shapes (``SHAPE_VERSION`` 1):

- ``overview``: ``{"version", "generated_at", "tenants": [tenant_status, ...]}``
- ``tenant_status``: ``{"tenant", "health", "paused", "paused_reason", "paused_at",
  "entities", "last_seen_at", "qbwc_version", "last_completed_at", "last_summary",
  "session_running_until", "last_run", "counts": {"in_flight", "in_flight_complete",
  "parked", "parked_complete", "drift"}, "last_audit", "forwarding_paused", "writeback"}``
  (``writeback``: see :mod:`.writeback_status`)
- ``run_json``: ``{"ticket", "started_at", "ended_at", "seconds", "status", "exchanges",
  "errors", "summary", "error", "warnings", "entities": {name: {"received", "queued",
  "unchanged", "errors"}}}`` (``ticket`` is shortened: a live one is a credential)
- ``mapping_json``: ``{"tenant", "source", "entity", "source_id", "zoho_module", "zoho_id",
  "status", "handed_at", "outcome_at", "error"}``
- health: ``{"status": "ok" | "degraded" | "unavailable", ...}``; without ``detailed`` nothing
  else, so the unauthenticated answer names no tenant and holds no data.
"""

from __future__ import annotations

from typing import Any

from ..model.errors import classify_text, error_info
from ..model.identity import SOURCE_QBD
from ..store.ports import DeliveryStatus, Mapping, RunRecord, StoreError, Tenant
from ..sync.plan import SYNC_ORDER
from .stale_sync import is_stale
from .tenant_purge import TenantData
from .writeback_status import writeback_status

SHAPE_VERSION = 1
# A record handed off longer ago than this without an outcome is no longer "in flight" (the
# forwarder's and the audit's horizon).
IN_FLIGHT_SECONDS = 900.0
# Status reads at most this many mappings per tenant to count those in flight; beyond it the
# count says it is incomplete (the audit reads them all).
MAX_IN_FLIGHT_SCAN = 50_000
MAX_PARKED_COUNT = 1_000
STALE_HOURS = 24.0
HEALTH_ORDER = ("ok", "paused", "warning", "error")


def _error(text: str | None, code: str = "") -> dict[str, Any] | None:
    """The error object of a stored message (its code if stored, else read from the text)."""
    if not text:
        return None
    info = error_info(code, text) if code else classify_text(text)
    return info.to_json() if info is not None else None


def run_json(run: RunRecord) -> dict[str, Any]:
    """One run-history row, with per-entity counts and its error in the one shape."""
    return {
        "ticket": run.ticket[:8],
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "seconds": round(run.seconds, 3),
        "status": run.status,
        "exchanges": run.exchanges,
        "errors": run.errors,
        "summary": run.summary,
        "error": _error(run.last_error, run.error_code),
        "warnings": list(run.warnings),
        "entities": {
            name: {
                "received": c.received,
                "queued": c.queued,
                "unchanged": c.unchanged,
                "errors": c.errors,
            }
            for name, c in run.entities.items()
        },
    }


def mapping_json(m: Mapping) -> dict[str, Any]:
    """One mapping: the record in QuickBooks and in ZOHO, its delivery status and error."""
    return {
        "tenant": m.tenant,
        "source": m.source,
        "entity": m.entity,
        "source_id": m.source_id,
        "zoho_module": m.zoho_module,
        "zoho_id": m.zoho_id,
        "status": m.status or "handed off",
        "handed_at": m.handed_at,
        "outcome_at": m.outcome_at,
        "error": _error(m.last_error),
    }


def _forwarding(data: TenantData, tenant: str, now: float) -> dict[str, Any] | None:
    """The forwarder's pause of the tenant (credits, a setup error), with its error."""
    pause = data.forwarder.paused(tenant, now)
    if pause is None:
        return None
    return {"until": pause.until, "reason": pause.reason, "error": _error(pause.reason)}


def _in_flight(data: TenantData, tenant: str, now: float) -> tuple[int, bool]:
    """(records handed off and not yet answered for, whether every mapping was read)."""
    count = 0
    for seen, m in enumerate(data.mappings.scan(tenant), start=1):
        if m.handed_hash and m.in_flight(m.handed_hash, now, IN_FLIGHT_SECONDS):
            count += 1
        if seen >= MAX_IN_FLIGHT_SCAN:
            return count, False
    return count, True


def _last_audit(data: TenantData, tenant: str) -> dict[str, Any] | None:
    found = data.audits.last(tenant) if data.audits is not None else None
    if found is None:
        return None
    summary, at = found
    return {
        "at": at,
        "drift": int(summary.get("drift") or 0),
        "counts": {k[len("audit_") :]: v for k, v in summary.items() if k.startswith("audit_")},
        "repaired": summary.get("repaired") or {},
    }


def _health(
    tenant: Tenant,
    last_run: RunRecord | None,
    parked: int,
    drift: int,
    forwarding: dict[str, Any] | None,
    now: float,
) -> str:
    """The badge: paused, error (last run failed, forwarding stopped), warning, or ok."""
    if tenant.paused:
        return "paused"
    if (last_run is not None and last_run.status == "failed") or forwarding is not None:
        return "error"
    partial = last_run is not None and last_run.status == "partial"
    if partial or parked or drift or is_stale(tenant, now, STALE_HOURS):
        return "warning"
    return "ok"


def tenant_status(data: TenantData, tenant: Tenant, now: float) -> dict[str, Any]:
    """One tenant's state: last sighting and session, counts, drift, pauses and a badge."""
    runs = data.runs.recent(tenant.name, 1)
    last_run = runs[0] if runs else None
    parked = len(data.mappings.list(tenant.name, DeliveryStatus.PARKED, MAX_PARKED_COUNT))
    in_flight, complete = _in_flight(data, tenant.name, now)
    audit = _last_audit(data, tenant.name)
    forwarding = _forwarding(data, tenant.name, now)
    drift = audit["drift"] if audit is not None else 0
    return {
        "tenant": tenant.name,
        "health": _health(tenant, last_run, parked, drift, forwarding, now),
        "paused": tenant.paused,
        "paused_reason": tenant.paused_reason,
        "paused_at": tenant.paused_at,
        "entities": list(tenant.enabled_entities),
        "last_seen_at": tenant.last_seen_at or tenant.qbwc_seen_at,
        "qbwc_version": tenant.qbwc_version,
        "last_completed_at": tenant.last_sync_at,
        "last_summary": tenant.last_summary,
        "session_running_until": data.sessions.lock_until(tenant.name, now),
        "last_run": run_json(last_run) if last_run is not None else None,
        "counts": {
            "in_flight": in_flight,
            "in_flight_complete": complete,
            "parked": parked,
            "parked_complete": parked < MAX_PARKED_COUNT,
            "drift": audit["drift"] if audit is not None else None,
        },
        "last_audit": audit,
        "forwarding_paused": forwarding,
        "writeback": writeback_status(data.writeback, tenant),
    }


class UnknownTenant(LookupError):
    """No tenant of that name; the message says so (and nothing else)."""


def get_tenant(data: TenantData, name: str) -> Tenant:
    """The tenant, or UnknownTenant."""
    tenant = data.tenants.get(name)
    if tenant is None:
        raise UnknownTenant(f"no tenant named {name!r}")
    return tenant


def overview(data: TenantData, now: float, tenant: str | None = None) -> dict[str, Any]:
    """Every tenant's status (or one's): ``{"version", "generated_at", "tenants": [...]}``."""
    tenants = [get_tenant(data, tenant)] if tenant else data.tenants.list()
    return {
        "version": SHAPE_VERSION,
        "generated_at": now,
        "tenants": [tenant_status(data, t, now) for t in tenants],
    }


def run_history(data: TenantData, tenant: str, limit: int = 20) -> dict[str, Any]:
    """The tenant's latest runs, newest first: ``{"tenant", "runs": [run_json, ...]}``."""
    get_tenant(data, tenant)
    return {
        "tenant": tenant,
        "runs": [run_json(r) for r in data.runs.recent(tenant, max(1, min(limit, 200)))],
    }


def parked_failures(
    data: TenantData, tenant: str | None = None, entity: str | None = None, limit: int = 100
) -> dict[str, Any]:
    """Parked records with ZOHO's (or QuickBooks') message and code: ``{"parked": [...]}``."""
    names = [get_tenant(data, tenant).name] if tenant else [t.name for t in data.tenants.list()]
    rows = [
        m
        for n in names
        for m in data.mappings.list(n, DeliveryStatus.PARKED, limit)
        if entity is None or m.entity == entity
    ]
    return {"parked": [mapping_json(m) for m in rows[:limit]]}


def _zoho_modules(data: TenantData, tenant: str) -> list[str]:
    from ..zoho.mapping import MappingError, build_config

    try:
        config = build_config(data.forwarder.get_mapping(tenant), origin=f"tenant {tenant}")
    except MappingError:
        return []
    modules = [
        s.module for spec in config.entities.values() for s in (spec, spec.contact) if s is not None
    ]
    return list(dict.fromkeys(modules))


def find_mappings(
    data: TenantData,
    tenant: str,
    *,
    qb_id: str | None = None,
    entity: str | None = None,
    zoho_id: str | None = None,
    zoho_module: str | None = None,
    source: str = SOURCE_QBD,
) -> dict[str, Any]:
    """Mappings by QuickBooks id (of ``entity``, or of any entity) or by ZOHO id (in
    ``zoho_module``, or in any module the tenant's mapping writes): ``{"mappings": [...]}``."""
    get_tenant(data, tenant)
    found: list[Mapping] = []
    if qb_id:
        for e in [entity] if entity else SYNC_ORDER:
            m = data.mappings.get(tenant, source, e, qb_id)
            if m is not None:
                found.append(m)
    elif zoho_id:
        for module in [zoho_module] if zoho_module else _zoho_modules(data, tenant):
            m = data.mappings.find_by_zoho_id(tenant, module, zoho_id)
            if m is not None:
                found.append(m)
    else:
        raise ValueError("give a QuickBooks id or a ZOHO id")
    return {"mappings": [mapping_json(m) for m in found]}


def _worst(badges: list[str]) -> str:
    return max(badges, key=HEALTH_ORDER.index, default="ok")


def health_sync(data: TenantData, now: float, detailed: bool = False) -> dict[str, Any]:
    """``GET /health/sync``: ``unavailable`` if the stores cannot be read; ``degraded`` if any
    tenant is in error or warning. Only ``detailed`` (authenticated) names tenants."""
    try:
        tenants = data.tenants.list()
        rows = [tenant_status(data, t, now) for t in tenants] if detailed else []
        badges = (
            [r["health"] for r in rows] if detailed else [_quick_badge(t, now) for t in tenants]
        )
    except StoreError:
        return {"status": "unavailable"}
    worst = _worst(badges)
    out: dict[str, Any] = {"status": "degraded" if worst in ("warning", "error") else "ok"}
    if detailed:
        out["tenants"] = [
            {
                "tenant": r["tenant"],
                "health": r["health"],
                "last_seen_at": r["last_seen_at"],
                "last_completed_at": r["last_completed_at"],
                "in_flight": r["counts"]["in_flight"],
                "parked": r["counts"]["parked"],
                "drift": r["counts"]["drift"],
            }
            for r in rows
        ]
    return out


def _quick_badge(tenant: Tenant, now: float) -> str:
    """The badge from the tenant row alone (the public health check reads nothing else)."""
    if tenant.paused:
        return "paused"
    return "warning" if is_stale(tenant, now, STALE_HOURS) else "ok"


def health_zoho(data: TenantData, now: float, detailed: bool = False) -> dict[str, Any]:
    """``GET /health/zoho``: per tenant whether its ZOHO credentials are there and readable,
    the cached access token's expiry, a refresh block, and a forwarding pause with its error.
    Without ``detailed`` only the overall status."""
    from ..zoho.auth import ZohoCredentials, secret_name
    from ..zoho.errors import ZohoError

    try:
        tenants = data.tenants.list()
        secrets = data.secrets()
        rows = []
        for t in tenants:
            value = secrets.get(secret_name(t.name))
            if value is None:
                credentials = "missing"
            else:
                try:
                    ZohoCredentials.from_secret(value)
                    credentials = "present"
                except ZohoError:
                    credentials = "invalid"
            token = data.tokens.load(t.name)
            rows.append(
                {
                    "tenant": t.name,
                    "credentials": credentials,
                    "token_expires_at": token.expires_at if token and token.access_token else None,
                    "token_valid": bool(token and token.usable(now)),
                    "refresh_blocked_until": (
                        token.blocked_until if token and token.blocked_until > now else None
                    ),
                    "forwarding_paused": _forwarding(data, t.name, now),
                }
            )
    except StoreError:
        return {"status": "unavailable"}
    bad = any(
        r["credentials"] != "present" or r["forwarding_paused"] or r["refresh_blocked_until"]
        for r in rows
    )
    out: dict[str, Any] = {"status": "degraded" if bad else "ok"}
    if detailed:
        out["tenants"] = rows
    return out
