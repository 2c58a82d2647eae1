"""Every URL the product hands out exists in the synthesized API, with the right method.

Two sources name URLs: the .qwc files (``AppURL`` and ``AppSupport``, generated here through the
real ``qbrelay qwc --from-stack`` code path against the stack's own outputs) and README.md
(its "HTTP routes" table, and any backticked ``GET /path`` in its text). A route either of them
names but the API lacks is what made API Gateway answer 403 to the Web Connector's AppSupport
check, which refuses the file. Adding a route to the product means adding it to README's table;
the checks below then cover it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from lxml import etree

from lambdas.local import cli
from lambdas.local.commands import qwc as qwc_command
from lambdas.store.ports import Tenant
from lambdas.store.sqlite import SqliteDatabase, SqliteTenantStore
from tests.infrastructure.conftest import Synth, resources

README = Path(__file__).resolve().parents[2] / "README.md"
RELAY_HANDLER = "lambdas.handlers.qbwc_api.handler"
# The router's function names and the handlers serving them (infra/stack.py add_routes).
# What the Web Connector does with each .qwc URL: it posts SOAP to AppURL and opens AppSupport
# (the import check wants HTTP 200 from a GET).
QWC_METHODS = {"AppURL": ("POST",), "AppSupport": ("GET",)}
# Stand-ins for the deploy-time values in the stack's outputs.
FAKE_REFS = {"AWS::Region": "us-east-1", "AWS::URLSuffix": "amazonaws.com"}
_DOC_ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE|HEAD) (/[^`\s?]*(?: [^`\s?]*)*)[^`]*`")
_PLACEHOLDER = re.compile(r"<[^>]*>|\{[^}]*\}")


@pytest.fixture(params=["dev", "prod"])
def synth(request) -> Synth:
    return request.getfixturevalue(request.param)


# --- the API as synthesized --------------------------------------------------------------------


def api_routes(synth: Synth) -> dict[str, dict[str, str]]:
    """Path template (``/support/{file_id}``) -> HTTP method -> integration URI (as JSON)."""
    parts = resources(synth, "AWS::ApiGateway::Resource")

    def path_of(ref: Any) -> str:
        if "Fn::GetAtt" in ref:  # the API's root resource
            return ""
        own = parts[ref["Ref"]]["Properties"]
        return f"{path_of(own['ParentId'])}/{own['PathPart']}"

    routes: dict[str, dict[str, str]] = {}
    for method in resources(synth, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        path = path_of(props["ResourceId"]) or "/"
        integration = props.get("Integration") or {}
        assert integration.get("Type") == "AWS_PROXY", f"{path}: not a Lambda proxy route"
        routes.setdefault(path, {})[props["HttpMethod"]] = json.dumps(integration.get("Uri"))
    return routes


def template_matches(template: str, path: str) -> bool:
    """True if a concrete or documented path fits an API path template segment by segment."""
    want, have = template.strip("/").split("/"), path.strip("/").split("/")
    return len(want) == len(have) and all(
        w == h or (w.startswith("{") and w.endswith("}") and bool(h))
        for w, h in zip(want, have, strict=True)
    )


def relay_function(synth: Synth, handler: str = RELAY_HANDLER) -> str:
    (logical_id,) = [
        k
        for k, v in resources(synth, "AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == handler
    ]
    return logical_id


def assert_routed(
    synth: Synth, method: str, path: str, why: str, function_prefix: str | None = None
) -> None:
    routes = api_routes(synth)
    matching = [t for t in routes if template_matches(t, path)]
    assert matching, f"{why}: {method} {path} has no API Gateway resource (have {sorted(routes)})"
    # A literal resource (/support) wins over a parameter (/{x}), as in API Gateway.
    template = min(matching, key=lambda t: t.count("{"))
    assert method in routes[template], f"{why}: {template} lacks {method}"
    prefix = function_prefix or relay_function(synth)
    # With SnapStart (prod) a route invokes the function's "live" alias, FunctionsXLive….
    alias = prefix[: prefix.rindex("Function")] + "Live"
    uri = routes[template][method]
    assert f'"{prefix}' in uri or f'"{alias}' in uri, (
        f"{why}: {method} {template} does not reach the {function_prefix or 'relay'} function"
    )


# --- URLs in a generated .qwc ------------------------------------------------------------------


def resolve(value: Any, refs: dict[str, str]) -> str:
    """A CloudFormation output value with Ref / Fn::Join / Fn::GetAtt resolved to stand-ins."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return refs.get(value["Ref"], value["Ref"].lower())
    if "Fn::Join" in value:
        sep, items = value["Fn::Join"]
        return sep.join(resolve(item, refs) for item in items)
    if "Fn::GetAtt" in value:
        return "-".join(value["Fn::GetAtt"]).lower()
    raise AssertionError(f"cannot resolve {value!r}")


def stack_outputs(synth: Synth) -> dict[str, str]:
    refs = dict(FAKE_REFS)
    for logical_id, stage in resources(synth, "AWS::ApiGateway::Stage").items():
        refs[logical_id] = stage["Properties"]["StageName"]
    return {k: resolve(v["Value"], refs) for k, v in synth.raw["Outputs"].items()}


@pytest.fixture(params=["dev", "prod"])
def deployed(request, tmp_path, monkeypatch) -> Iterator[tuple[Synth, dict[str, str]]]:
    """A synthesized stack whose outputs ``qbrelay qwc --from-stack`` reads as if deployed."""
    synth: Synth = request.getfixturevalue(request.param)
    outputs = stack_outputs(synth)
    tenants = SqliteTenantStore(SqliteDatabase.in_dir(tmp_path))
    tenants.create(Tenant(name="acme", qbwc_user="acme-qbwc", password_hash="x"))
    tenants.ensure_file_id("acme")
    monkeypatch.setattr(qwc_command, "stack_outputs", lambda stack, region=None: outputs)
    monkeypatch.setattr(qwc_command, "dynamo_tenants", lambda table, region=None: tenants)
    for name in ("QBRELAY_TENANTS_TABLE", "QBRELAY_ENV"):
        monkeypatch.delenv(name, raising=False)
    yield synth, outputs


def qwc_urls(capsys: Any, stack: str) -> dict[str, str]:
    """AppURL and AppSupport of a .qwc that ``qbrelay qwc --from-stack`` writes."""
    assert cli.main(["qwc", "--tenant", "acme", "--from-stack", stack]) == 0
    root = etree.fromstring(capsys.readouterr().out.encode())
    return {name: root.findtext(name) or "" for name in QWC_METHODS}


def test_every_qwc_url_is_routed(deployed, capsys) -> None:
    synth, outputs = deployed
    base = urlsplit(outputs["ApiUrl"])
    urls = qwc_urls(capsys, f"QbxmlRelay-{synth.env}")
    for name, url in urls.items():
        parts = urlsplit(url)
        assert parts.netloc == base.netloc, f"{name} {url} is not on the API's host"
        assert parts.path.startswith(base.path), f"{name} {url} is outside {base.path}"
        path = "/" + parts.path[len(base.path) :].lstrip("/")
        for method in QWC_METHODS[name]:
            assert_routed(synth, method, path, f".qwc {name}")


# --- routes README documents -------------------------------------------------------------------


def readme_routes(text: str) -> set[tuple[str, str]]:
    """(method, path) of every route README names: its HTTP routes table and backticked text.

    Placeholders (``<FileID>``, ``{file_id}``) become ``{}``; query strings are dropped.
    """
    return {(method, normal_path(path)) for method, path in _DOC_ROUTE.findall(text)}


def normal_path(path: str) -> str:
    """A route as README and the API both spell it: placeholders as ``{}``, no query."""
    return _PLACEHOLDER.sub("{}", path.split("?")[0]).rstrip("/") or "/"


def readme_table(text: str) -> set[tuple[str, str]]:
    """The rows of README's "HTTP routes" table, the one place a route is declared.

    The first column of each row holds the backticked route, e.g. ``| `GET /health` | ... |``.
    """
    heading = re.search(r"^#+ HTTP routes[ \t]*$", text, re.MULTILINE)
    assert heading, "README.md lost its 'HTTP routes' section"
    body = re.split(r"^#", text[heading.end() :], maxsplit=1, flags=re.MULTILINE)[0]
    cells = [line.split("|")[1] for line in body.splitlines() if line.startswith("|")]
    table = {(m, normal_path(p)) for cell in cells for m, p in _DOC_ROUTE.findall(cell)}
    assert table, "README.md's HTTP routes table names no route"
    return table


def test_readme_parsing_finds_routes_anywhere() -> None:
    text = "`GET /qbwc?wsdl`, `POST /qbwc` and `GET /support/<FileID without braces>`"
    assert readme_routes(text) == {("GET", "/qbwc"), ("POST", "/qbwc"), ("GET", "/support/{}")}


def test_every_route_in_readme_is_routed(synth: Synth) -> None:
    text = README.read_text(encoding="utf-8")
    table = readme_table(text)
    named = readme_routes(text)
    # Anything the prose names is declared in the table, so this list stays complete.
    assert named <= table, f"README names routes its HTTP routes table lacks: {named - table}"
    from lambdas.http.routes import app_router
    from tests.infrastructure.test_stack import ROUTE_FUNCTIONS

    function_of = {
        (m, normal_path(r.path)): r.function for r in app_router().routes for m in r.methods
    }
    for method, path in sorted(table):
        prefix = ROUTE_FUNCTIONS[function_of.get((method, path), "relay")]
        assert_routed(synth, method, path.replace("{}", "x"), "README", prefix)


def test_a_missing_route_fails(dev: Synth) -> None:
    # The check itself must notice a route the API lacks (the bug this file guards against).
    with pytest.raises(AssertionError, match="no API Gateway resource"):
        assert_routed(dev, "GET", "/status", "probe")
    with pytest.raises(AssertionError, match="lacks DELETE"):
        assert_routed(dev, "DELETE", "/health", "probe")


# --- the router's table ------------------------------------------------------------------------


def test_api_serves_exactly_the_routers_routes(synth: Synth) -> None:
    from lambdas.http.routes import app_router

    declared = {(m, r.path) for r in app_router().routes for m in r.methods}
    deployed = {(m, path) for path, methods in api_routes(synth).items() for m in methods}
    assert deployed == declared
    from tests.infrastructure.test_stack import ROUTE_FUNCTIONS

    for r in app_router().routes:
        for method in r.methods:
            path = r.path.replace("{", "").replace("}", "")
            assert_routed(synth, method, path, "router", ROUTE_FUNCTIONS[r.function])
