"""``/openapi.json`` is generated from the router's table: every guarded route is in it, and it
is a structurally valid OpenAPI 3.0 document (openapi-spec-validator would bring jsonschema,
referencing and a compiled rpds-py for a dev check, so the rules it needs are checked here)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from lambdas.http.messages import Request
from lambdas.http.openapi import document, path_parameters
from lambdas.http.ops_common import api_key_guard
from lambdas.http.router import Router
from lambdas.http.routes import app_router
from lambdas.http.services import Services

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_STATUS = re.compile(r"[1-5]\d\d|default")


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def check_openapi(doc: dict[str, Any]) -> None:
    """The OpenAPI 3.0 rules a generator can break (structure, ids, parameters, refs)."""
    assert re.fullmatch(r"3\.0\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    schemes = doc["components"]["securitySchemes"]
    ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/")
        for method, op in item.items():
            assert method in METHODS, (path, method)
            ids.append(op["operationId"])
            assert op["responses"] and all(_STATUS.fullmatch(c) for c in op["responses"])
            for response in op["responses"].values():
                assert response["description"]
                for media in (response.get("content") or {}).values():
                    assert "schema" in media
            params = op.get("parameters", [])
            for p in params:
                assert p["in"] in {"path", "query", "header", "cookie"} and "schema" in p
                if p["in"] == "path":
                    assert p["required"] is True
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == set(path_parameters(path)), (path, declared)
            keys = [(p["name"], p["in"]) for p in params]
            assert len(keys) == len(set(keys)), path
            for requirement in op.get("security", []):
                assert set(requirement) <= set(schemes), path
            if "requestBody" in op:
                assert op["requestBody"]["content"]
    assert len(ids) == len(set(ids)), "operationIds are unique"
    for ref in refs(doc):
        assert resolve(doc, ref) is not None, ref
    json.dumps(doc)  # serialisable as is


def test_every_guarded_and_health_route_is_documented() -> None:
    doc = document(app_router())
    check_openapi(doc)
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    for route in app_router().routes:
        for method in route.methods:
            if route.guard is not None or route.path.startswith(("/health", "/api/")):
                assert (method, route.path) in documented, route.path
                op = doc["paths"][route.path][method.lower()]
                if route.guard is api_key_guard:
                    assert op["security"] == [{"ApiKey": []}]
                    assert op["responses"]["401"]["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Unauthorized"
                    }
    assert ("GET", "/openapi.json") in documented and ("GET", "/health") in documented
    # HTML and SOAP routes stay out.
    assert not any(p.startswith(("/console", "/qbwc", "/support")) for p in doc["paths"])


def test_the_check_catches_broken_documents() -> None:
    router = Router()
    router.add("GET", "/a/{x}", lambda r, s: None, doc={"responses": {"200": {}}})  # type: ignore
    with pytest.raises(AssertionError):
        check_openapi(document(router))


def test_served_document_names_the_server() -> None:
    reply = app_router().dispatch(
        Request("GET", "/openapi.json", base_url="https://api.example.test/dev"), Services()
    )
    assert reply.status == 200
    doc = json.loads(reply.body)
    check_openapi(doc)
    assert doc["servers"] == [{"url": "https://api.example.test/dev"}]
    assert "/api/v1/failures/redrive" in doc["paths"]
