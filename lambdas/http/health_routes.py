"""Per-dependency health: ``GET /health/zoho``, ``/health/qbo``, ``/health/sync``.

Public, like ``GET /health`` (monitors poll them without a key): without a valid ``X-API-Key``
an answer is only ``{"status": ...}``, naming no tenant and holding no data; with one, each
tenant's details (lambdas/ops/status.py, lambdas/ops/qbo_status.py). ``ok`` and ``degraded``
answer 200, ``unavailable`` (a store could not be read) 503, so a plain HTTP check notices it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from ..ops.qbo_status import health_qbo
from ..ops.status import health_sync, health_zoho
from .messages import Request, Response
from .ops_common import OPS_FUNCTION, clock, has_valid_key, json_errors, ok
from .router import Router
from .services import Services

Check = Callable[[Services, float, bool], dict[str, Any]]

_STATUS_SCHEMA = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
        "tenants": {
            "type": "array",
            "description": "Only with a valid X-API-Key: one object per tenant.",
            "items": {"type": "object"},
        },
    },
}


# How long a key-less answer is reused: it reads every tenant's secret and token, and anyone
# may poll it (on AWS every Secrets Manager read is paid and counts against its quota).
KEYLESS_SECONDS = 30.0


def _answer(check: Check) -> Callable[[Request, Services], Response]:
    lock = threading.Lock()
    # (services it was computed for, when it lapses, the body): one per process and route.
    cached: list[tuple[Services, float, dict[str, Any]]] = []

    @json_errors
    def handler(request: Request, services: Services) -> Response:
        detailed = has_valid_key(request, services)
        now = clock(services)()
        if detailed:
            body = check(services, now, True)
        else:
            with lock:
                hit = cached[0] if cached else None
                if hit is None or hit[0] is not services or hit[1] <= now:
                    hit = (services, now + KEYLESS_SECONDS, check(services, now, False))
                    cached[:] = [hit]
                body = hit[2]
        return ok(body, 503 if body["status"] == "unavailable" else 200)

    return handler


def _sync(services: Services, now: float, detailed: bool) -> dict[str, Any]:
    return health_sync(services.get("tenant_data"), now, detailed)


def _zoho(services: Services, now: float, detailed: bool) -> dict[str, Any]:
    return health_zoho(services.get("tenant_data"), now, detailed)


def _qbo(services: Services, now: float, detailed: bool) -> dict[str, Any]:
    return health_qbo(services.optional("qbo_connections"), now, detailed)


CHECKS: dict[str, tuple[Check, str]] = {
    "sync": (
        _sync,
        "Per tenant: last seen (the Web Connector's last authenticate), last completed "
        "session, records in flight, parked, drift.",
    ),
    "zoho": (
        _zoho,
        "Per tenant: ZOHO credentials present and readable, the access token's expiry, a "
        "refresh block, a forwarding pause with its error.",
    ),
    "qbo": (
        _qbo,
        "Per connected tenant: connected or needs_reconnect, the access token's expiry, days "
        "to the refresh token's hard expiry, the last successful sync.",
    ),
}


def register(router: Router) -> None:
    """Add ``GET /health/{zoho,qbo,sync}``."""
    for name, (check, description) in CHECKS.items():
        router.add(
            "GET",
            f"/health/{name}",
            _answer(check),
            function=OPS_FUNCTION,
            summary=f"{name} health (details with X-API-Key)",
            doc={
                "tags": ["health"],
                "summary": f"Health of {name}; details only with a valid X-API-Key",
                "description": description,
                "security": [{}, {"ApiKey": []}],
                "responses": {
                    "200": {"description": "ok or degraded", "schema": _STATUS_SCHEMA},
                    "503": {"description": "a store could not be read", "schema": _STATUS_SCHEMA},
                },
            },
        )
