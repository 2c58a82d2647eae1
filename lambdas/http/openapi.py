"""``GET /openapi.json``: an OpenAPI 3.0 document generated from the router's route table.

Each route that carries ``doc`` metadata (``Route.doc``) becomes an operation; the rest (the
SOAP endpoint, HTML pages) stay out. ``doc`` holds OpenAPI operation fields (``tags``,
``summary``, ``description``, ``parameters``, ``security``) plus two shorthands: ``request``, the
JSON schema of the body, and ``responses`` whose entries give a ``schema`` (JSON content) or
``"error": True`` (the one error shape, or the fixed 401 body). A route guarded by the API-key
guard requires the ``ApiKey`` scheme unless its ``doc`` says otherwise.
"""

from __future__ import annotations

import re
from typing import Any

from ..model.error_catalogue import CATALOGUE
from ..ops.api_keys import HEADER, UNAUTHORIZED_BODY
from .messages import Request, Response
from .ops_common import OPS_FUNCTION, api_key_guard
from .router import Route, Router
from .services import Services

OPENAPI_PATH = "/openapi.json"
VERSION = "3.0.3"
_PARAM = re.compile(r"\{([^}]+)\}")
_ERROR_TEXT = {
    "400": "the request is not valid (API_BAD_REQUEST)",
    "401": "missing, malformed, unknown or revoked X-API-Key",
    "404": "no such tenant (API_NOT_FOUND)",
    "409": "the action is refused as asked (API_ACTION_REFUSED)",
    "413": "the body is too large (API_BAD_REQUEST)",
    "500": "internal error (RELAY_ERROR)",
    "503": "a store could not be reached (RELAY_ERROR)",
}
COMPONENTS: dict[str, Any] = {
    "securitySchemes": {"ApiKey": {"type": "apiKey", "in": "header", "name": HEADER}},
    "schemas": {
        "ErrorInfo": {
            "type": "object",
            "description": "The one error shape (README.md#error-catalogue).",
            "required": ["code", "message", "user_message", "retryable", "docs"],
            "properties": {
                "code": {"type": "string", "enum": [k.code for k in CATALOGUE]},
                "message": {"type": "string"},
                "user_message": {"type": "string"},
                "retryable": {"type": "boolean"},
                "docs": {"type": "string"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"$ref": "#/components/schemas/ErrorInfo"}},
        },
        "Unauthorized": {
            "type": "object",
            "description": "The same body for every refused key: it reveals nothing.",
            "required": sorted(UNAUTHORIZED_BODY),
            "properties": {
                k: {"type": "string", "enum": [v]} for k, v in UNAUTHORIZED_BODY.items()
            },
        },
    },
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _response(code: str, spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("error"):
        name = "Unauthorized" if code == "401" else "Error"
        return {
            "description": _ERROR_TEXT.get(code, "an error"),
            "content": _json({"$ref": f"#/components/schemas/{name}"}),
        }
    out = {"description": spec.get("description") or "OK"}
    if "schema" in spec:
        out["content"] = _json(spec["schema"])
    return out


def _operation_id(method: str, path: str) -> str:
    words = [w.strip("{}") for w in path.strip("/").replace(".", "_").split("/") if w]
    return "_".join([method.lower(), *words]) or method.lower()


def operation(route: Route, method: str) -> dict[str, Any]:
    """The OpenAPI operation object of one route and method."""
    doc = dict(route.doc)
    op: dict[str, Any] = {
        "operationId": _operation_id(method, route.path),
        "summary": doc.get("summary") or route.summary,
        "responses": {
            code: _response(code, spec) for code, spec in (doc.get("responses") or {}).items()
        }
        or {"200": {"description": "OK"}},
    }
    for key in ("tags", "description"):
        if doc.get(key):
            op[key] = doc[key]
    if doc.get("parameters"):
        op["parameters"] = list(doc["parameters"])
    if "request" in doc:
        op["requestBody"] = {"required": False, "content": _json(doc["request"])}
    if "security" in doc:
        op["security"] = doc["security"]
    elif route.guard is api_key_guard:
        op["security"] = [{"ApiKey": []}]
    else:
        op["security"] = []
    return op


def document(router: Router, server_url: str = "") -> dict[str, Any]:
    """The OpenAPI document of every documented route of ``router``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in router.routes:
        if not route.doc:
            continue
        for method in route.methods:
            paths.setdefault(route.path, {})[method.lower()] = operation(route, method)
    return {
        "openapi": VERSION,
        "info": {
            "title": "qbxml-relay status API",
            "version": "1",
            "description": "Health, status and operator actions of the QuickBooks to ZOHO "
            f"relay. Status routes need an {HEADER} header (qbrelay apikey create).",
        },
        "servers": [{"url": server_url or "/"}],
        "paths": paths,
        "components": COMPONENTS,
    }


def path_parameters(path: str) -> list[str]:
    """The names of a path template's parameters."""
    return _PARAM.findall(path)


def openapi_json(request: Request, services: Services) -> Response:
    """The document, for the product's own router."""
    from .routes import app_router  # the table this module is part of

    return Response.json(document(app_router(), request.base_url))


def register(router: Router) -> None:
    """Add ``GET /openapi.json`` (public: it describes routes, and holds no data)."""
    router.add(
        "GET",
        OPENAPI_PATH,
        openapi_json,
        function=OPS_FUNCTION,
        summary="OpenAPI 3 document of the health and status routes",
        doc={
            "tags": ["meta"],
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3.0", "schema": {"type": "object"}}},
        },
    )
