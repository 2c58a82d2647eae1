"""Operator actions as core functions over the ports: re-sync, pause, resume, audit.

The CLI and the status API call the same functions; each returns a JSON-serialisable dict
(re-drives are in :mod:`.failures`). Refusals are ``ActionError`` with a message that says
what to do, for the CLI to print and the API to answer with 4xx.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..store.ports import AuditResults, Tenant, TenantStore
from .tenant_purge import TenantData

MAX_REASON = 200


class ActionError(ValueError):
    """The action cannot be done as asked; the message says why and what to do."""


def _tenant(tenants: TenantStore, name: str) -> Tenant:
    tenant = tenants.get(name)
    if tenant is None:
        raise ActionError(f"no tenant named {name!r} (see qbrelay tenant list)")
    return tenant


def resync(data: TenantData, name: str, entities: Sequence[str], now: float) -> dict[str, Any]:
    """Forget the watermarks of ``entities`` (default: every enabled one), so the next Web
    Connector session reads them whole. Refused while a session runs (it would write back the
    watermarks it started from)."""
    tenant = _tenant(data.tenants, name)
    chosen = tuple(entities) or tenant.enabled_entities
    if not chosen:
        raise ActionError(f"tenant {tenant.name!r} has no entity enabled; nothing to re-read")
    until = data.sessions.lock_until(tenant.name, now)
    if until is not None:
        raise ActionError(
            f"tenant {tenant.name!r} has a Web Connector session running (until "
            f"{_stamp(until)}); re-sync once it has ended"
        )
    data.state.reset(tenant.name, chosen)
    return {
        "tenant": tenant.name,
        "reset": list(chosen),
        "read_next_session": [e for e in chosen if e in tenant.enabled_entities],
        "not_enabled": [e for e in chosen if e not in tenant.enabled_entities],
    }


def _stamp(at: float) -> str:
    import time

    return time.strftime("%H:%M:%S UTC", time.gmtime(at))


def pause(tenants: TenantStore, name: str, reason: str, now: float) -> dict[str, Any]:
    """Pause a tenant: its Web Connector is told there is nothing to do, the QuickBooks
    Online sync skips it; records already queued still reach ZOHO (nothing is lost, and the
    watermarks stay, so the first session after ``resume`` reads every change)."""
    clean = " ".join(reason.split())[:MAX_REASON]
    tenant = _tenant(tenants, name)
    if not tenant.paused:
        tenant.paused, tenant.paused_at = True, now
    tenant.paused_reason = clean or tenant.paused_reason
    tenants.update(tenant)
    return _pause_json(tenant)


def resume(tenants: TenantStore, name: str) -> dict[str, Any]:
    """Resume a paused tenant (a tenant not paused stays as it is)."""
    tenant = _tenant(tenants, name)
    if tenant.paused:
        tenant.paused, tenant.paused_reason, tenant.paused_at = False, "", None
        tenants.update(tenant)
    return _pause_json(tenant)


def _pause_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant": tenant.name,
        "paused": tenant.paused,
        "paused_reason": tenant.paused_reason,
        "paused_at": tenant.paused_at,
    }


def record_audit(audits: AuditResults | None, summary: dict[str, Any], at: float) -> None:
    """Keep an audit's summary as the tenant's last (the audit is the only writer)."""
    if audits is not None:
        audits.save(str(summary["tenant"]), summary, at)


def audit(
    data: TenantData,
    name: str,
    now: Callable[[], float],
    repair: bool = False,
    session: Any = None,
    progress: Any = None,
    events: Any = None,
) -> dict[str, Any]:
    """Audit one tenant against ZOHO (``lambdas.zoho.audit``), keep its summary for status,
    and return it (``AuditReport.to_json()``). ``session``: the HTTP session for ZOHO (tests
    pass one bound to a fake); ``progress``: the auditor's progress callback; ``events``: where a
    drift found is published. ZOHO and mapping errors are ActionError."""
    from ..zoho.audit import Auditor
    from ..zoho.auth import TokenProvider, load_credentials
    from ..zoho.client import ZohoClient
    from ..zoho.errors import ZohoError
    from ..zoho.mapping import MappingError, build_config

    _tenant(data.tenants, name)
    try:
        config = build_config(data.forwarder.get_mapping(name), origin=f"mapping of tenant {name}")
        credentials = load_credentials(data.secrets(), name)
    except (MappingError, ZohoError) as exc:
        raise ActionError(str(exc)) from exc
    client = ZohoClient(TokenProvider(name, credentials, data.tokens, session), session)
    try:
        report = Auditor(data.mappings, data.state, now, events=events).audit(
            name, config, client, repair=repair, progress=progress
        )
    except ZohoError as exc:
        raise ActionError(f"the audit could not read ZOHO: {exc}") from exc
    summary = report.to_json()
    record_audit(data.audits, summary, now())
    return summary
