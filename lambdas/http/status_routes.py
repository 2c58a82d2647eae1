"""The status API, ``/api/v1``: what ``qbrelay status`` shows, and the operator's actions.

Every route needs a valid ``X-API-Key`` (router guard); answers are lambdas/ops/status.py's
shapes, errors the one error shape (lambdas/http/ops_common.py). Reads are GETs; actions are
POSTs with a small JSON body, the same core functions the CLI calls:

- ``GET /api/v1/tenants`` (overview), ``GET /api/v1/tenants/{tenant}`` (tenant_status)
- ``GET /api/v1/tenants/{tenant}/runs?limit=`` (run history with per-entity counts)
- ``GET /api/v1/tenants/{tenant}/mappings?qb_id=&entity=`` or ``?zoho_id=&zoho_module=``
- ``GET /api/v1/failures?tenant=&entity=&limit=`` (parked records with their errors)
- ``POST /api/v1/failures/redrive`` ``{"tenant", "entity", "limit", "confirm"}``
- ``POST /api/v1/tenants/{tenant}/resync`` ``{"entities": [...]}``
- ``POST /api/v1/tenants/{tenant}/pause`` ``{"reason"}``, ``.../resume``
- ``POST /api/v1/tenants/{tenant}/audit`` ``{"repair"}``
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model.entities import unknown_entities
from ..model.identity import SOURCES
from ..ops import actions, status
from ..ops.failures import MAX_REDRIVE, redrive
from ..sync.plan import SYNC_ORDER
from .messages import Request, Response
from .ops_common import (
    API_PREFIX,
    MAX_JSON_BODY,
    OPS_FUNCTION,
    BadRequest,
    api_key_guard,
    clock,
    int_param,
    json_body,
    json_errors,
    ok,
)
from .router import Router
from .services import Services

Handler = Callable[[Request, Services], Response]


def _fields(body: dict[str, Any], allowed: dict[str, type | tuple[type, ...]]) -> dict[str, Any]:
    """The body's fields, each of its declared type; unknown fields are refused."""
    extra = sorted(set(body) - set(allowed))
    if extra:
        raise BadRequest(f"unknown field(s): {', '.join(extra)}")
    for name, value in body.items():
        kind = allowed[name]
        # JSON booleans are Python ints too; an integer field takes none.
        if value is not None and (
            not isinstance(value, kind) or (kind is int and isinstance(value, bool))
        ):
            raise BadRequest(f"{name} has the wrong type")
    return body


def _entities(values: Any) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise BadRequest("entities must be a list of entity names")
    canonical = {e.lower(): e for e in SYNC_ORDER}
    names = tuple(dict.fromkeys(canonical.get(v.lower(), v) for v in values))
    bad = unknown_entities(names)
    if bad:
        raise BadRequest(f"unknown entities {', '.join(bad)}; choose from {', '.join(SYNC_ORDER)}")
    return names


def _optional(request: Request, name: str) -> str | None:
    return request.query.get(name) or None


# --- reads --------------------------------------------------------------------------------------


def tenants(request: Request, services: Services) -> Response:
    return ok(status.overview(services.get("tenant_data"), clock(services)()))


def tenant(request: Request, services: Services) -> Response:
    data = services.get("tenant_data")
    found = status.get_tenant(data, request.params["tenant"])
    return ok(status.tenant_status(data, found, clock(services)()))


def runs(request: Request, services: Services) -> Response:
    limit = int_param(request, "limit", 20, 1, 200)
    return ok(status.run_history(services.get("tenant_data"), request.params["tenant"], limit))


def mappings(request: Request, services: Services) -> Response:
    qb_id, zoho_id = _optional(request, "qb_id"), _optional(request, "zoho_id")
    if bool(qb_id) == bool(zoho_id):
        raise BadRequest("give exactly one of qb_id and zoho_id")
    entity = _optional(request, "entity")
    if entity is not None and unknown_entities([entity]):
        raise BadRequest(f"unknown entity {entity}; choose from {', '.join(SYNC_ORDER)}")
    source = request.query.get("source") or SOURCES[0]
    if source not in SOURCES:
        raise BadRequest(f"source must be one of {', '.join(SOURCES)}")
    found = status.find_mappings(
        services.get("tenant_data"),
        request.params["tenant"],
        qb_id=qb_id,
        entity=entity,
        zoho_id=zoho_id,
        zoho_module=_optional(request, "zoho_module"),
        source=source,
    )
    return ok(found)


def failures(request: Request, services: Services) -> Response:
    limit = int_param(request, "limit", 100, 1, 1000)
    found = status.parked_failures(
        services.get("tenant_data"),
        _optional(request, "tenant"),
        _optional(request, "entity"),
        limit,
    )
    return ok(found)


# --- actions ------------------------------------------------------------------------------------


def redrive_action(request: Request, services: Services) -> Response:
    body = _fields(
        json_body(request),
        {"tenant": str, "entity": str, "limit": int, "confirm": bool},
    )
    name = body.get("tenant") or None
    if name is not None:
        status.get_tenant(services.get("tenant_data"), name)
    limit = body.get("limit") or 100
    if not 1 <= limit <= MAX_REDRIVE:
        raise BadRequest(f"limit must be between 1 and {MAX_REDRIVE}")
    result = redrive(
        services.get("dead_letters"),
        services.get("record_queue"),
        name,
        body.get("entity") or None,
        limit,
        confirm=bool(body.get("confirm")),
    )
    return ok(result.to_json())


def resync_action(request: Request, services: Services) -> Response:
    body = _fields(json_body(request), {"entities": list})
    chosen = _entities(body.get("entities"))
    data = services.get("tenant_data")
    return ok(actions.resync(data, request.params["tenant"], chosen, clock(services)()))


def pause_action(request: Request, services: Services) -> Response:
    body = _fields(json_body(request), {"reason": str})
    data = services.get("tenant_data")
    reason = body.get("reason") or "paused through the status API"
    return ok(actions.pause(data.tenants, request.params["tenant"], reason, clock(services)()))


def resume_action(request: Request, services: Services) -> Response:
    _fields(json_body(request), {})
    return ok(actions.resume(services.get("tenant_data").tenants, request.params["tenant"]))


def audit_action(request: Request, services: Services) -> Response:
    body = _fields(json_body(request), {"repair": bool})
    summary = actions.audit(
        services.get("tenant_data"),
        request.params["tenant"],
        clock(services),
        repair=bool(body.get("repair")),
        session=services.optional("zoho_session"),
        events=services.optional("events"),
    )
    return ok(summary)


# --- the table ----------------------------------------------------------------------------------

_TENANT = {"name": "tenant", "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str, kind: str = "string") -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": kind}, "description": description}


_OBJECT = {"type": "object"}
_ERRORS = ("400", "401", "404", "409", "413", "503")
_REDRIVE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "tenant": {"type": "string", "description": "only this tenant's records"},
        "entity": {"type": "string", "description": "only records of this entity"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_REDRIVE, "default": 100},
        "confirm": {
            "type": "boolean",
            "description": "also send records held for review (qbrelay failures redrive --confirm)",
        },
    },
}

# (method, path, handler, summary, parameters, request body schema, response description)
ROUTES: tuple[tuple[str, str, Handler, str, list[dict[str, Any]], dict | None, str], ...] = (
    ("GET", "/tenants", tenants, "Every tenant's status", [], None, "overview"),
    ("GET", "/tenants/{tenant}", tenant, "One tenant's status", [_TENANT], None, "tenant_status"),
    (
        "GET",
        "/tenants/{tenant}/runs",
        runs,
        "Run history with per-entity counts, newest first",
        [_TENANT, _query("limit", "1-200, default 20", "integer")],
        None,
        '{"tenant", "runs": [run_json, ...]}',
    ),
    (
        "GET",
        "/tenants/{tenant}/mappings",
        mappings,
        "Mappings by QuickBooks id or by ZOHO id",
        [
            _TENANT,
            _query("qb_id", "a QuickBooks ListID/TxnID (or QuickBooks Online Id)"),
            _query("entity", "the QuickBooks entity of qb_id (default: every entity)"),
            _query("zoho_id", "a ZOHO record id"),
            _query("zoho_module", "the ZOHO module of zoho_id (default: every mapped module)"),
            _query("source", "qbd (default) or qbo"),
        ],
        None,
        '{"mappings": [mapping_json, ...]}',
    ),
    (
        "GET",
        "/failures",
        failures,
        "Parked records with ZOHO's or QuickBooks' message and error code",
        [
            _query("tenant", "only this tenant"),
            _query("entity", "only this entity"),
            _query("limit", "1-1000, default 100", "integer"),
        ],
        None,
        '{"parked": [mapping_json, ...]}',
    ),
    (
        "POST",
        "/failures/redrive",
        redrive_action,
        "Send parked records to the forwarder again",
        [],
        _REDRIVE_BODY,
        '{"redriven", "left_parked_unreadable", "awaiting_confirmation"}',
    ),
    (
        "POST",
        "/tenants/{tenant}/resync",
        resync_action,
        "Make the next Web Connector session re-read entities whole",
        [_TENANT],
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"entities": {"type": "array", "items": {"type": "string"}}},
        },
        '{"tenant", "reset", "read_next_session", "not_enabled"}',
    ),
    (
        "POST",
        "/tenants/{tenant}/pause",
        pause_action,
        "Pause a tenant (its Web Connector is told there is nothing to do)",
        [_TENANT],
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"reason": {"type": "string", "maxLength": actions.MAX_REASON}},
        },
        '{"tenant", "paused", "paused_reason", "paused_at"}',
    ),
    (
        "POST",
        "/tenants/{tenant}/resume",
        resume_action,
        "Resume a paused tenant",
        [_TENANT],
        {"type": "object", "additionalProperties": False, "properties": {}},
        '{"tenant", "paused", "paused_reason", "paused_at"}',
    ),
    (
        "POST",
        "/tenants/{tenant}/audit",
        audit_action,
        "Audit the tenant against ZOHO and keep the summary for status",
        [_TENANT],
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {"repair": {"type": "boolean"}},
        },
        "the audit report (AuditReport.to_json())",
    ),
)


def register(router: Router) -> None:
    """Add the status API under ``/api/v1``."""
    for method, path, handler, summary, parameters, body, answer in ROUTES:
        doc: dict[str, Any] = {
            "tags": ["status" if method == "GET" else "actions"],
            "summary": summary,
            "parameters": parameters,
            "responses": {
                "200": {"description": answer, "schema": _OBJECT},
                **{code: {"error": True} for code in _ERRORS},
            },
        }
        if body is not None:
            doc["request"] = body
        router.add(
            method,
            API_PREFIX + path,
            json_errors(handler),
            guard=api_key_guard,
            # json_body refuses a larger body itself, in the one error shape.
            max_body=None,
            function=OPS_FUNCTION,
            summary=summary,
            doc=doc,
        )


__all__ = ["MAX_JSON_BODY", "ROUTES", "register"]
