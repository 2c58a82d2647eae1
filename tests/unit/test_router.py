"""The shared router: matching, 404/405, body limits, guards, and both transports alike."""

from __future__ import annotations

import base64
import io
import threading
import time

from lambdas.http.apigw import base_url, to_event_reply, to_request
from lambdas.http.messages import Request, Response
from lambdas.http.router import Router
from lambdas.http.services import Services, ServiceUnavailable
from lambdas.local.wsgi import RelayWsgiApp


def echo(request: Request, services: Services) -> Response:
    return Response.json({"params": request.params, "body": request.body.decode()})


def refuse(request: Request, services: Services) -> Response | None:
    return None if request.header("x-api-key") == "k" else Response.text("no\n", 401)


def router() -> Router:
    r = Router()
    r.add("POST", "/items/{item_id}", echo, max_body=10)
    r.add("GET", "/items/{item_id}", echo, guard=refuse)
    r.add("GET", "/items/special", echo)
    return r


def test_match_params_404_405() -> None:
    r, services = router(), Services()
    reply = r.dispatch(Request("GET", "/items/7", headers={"X-Api-Key": "k"}), services)
    assert reply.status == 200 and b'"item_id":"7"' in reply.body
    special = r.dispatch(Request("GET", "/items/special"), services)
    assert special.status == 200 and b'"params":{}' in special.body
    assert r.dispatch(Request("GET", "/nope"), services).status == 404
    assert r.dispatch(Request("GET", "/items/"), services).status == 404
    wrong = r.dispatch(Request("DELETE", "/items/7"), services)
    assert wrong.status == 405 and wrong.header("Allow") == "GET, POST"


def test_guard_and_head() -> None:
    r, services = router(), Services()
    assert r.dispatch(Request("GET", "/items/7"), services).status == 401
    assert (
        r.dispatch(Request("HEAD", "/items/7", headers={"x-api-key": "k"}), services).status == 200
    )


def test_body_over_the_limit_is_refused_unread() -> None:
    read = []

    def body() -> bytes:
        read.append(1)
        return b"x" * 11

    reply = router().dispatch(Request("POST", "/items/1", body=body, content_length=11), Services())
    assert reply.status == 413 and not read


def test_duplicate_routes_are_refused() -> None:
    r = router()
    try:
        r.add("GET", "/items/{other}", echo)
    except ValueError as exc:
        assert "twice" in str(exc)
    else:
        raise AssertionError("a second GET /items/{x} was accepted")


def test_handler_exception_is_a_bare_500(caplog) -> None:
    def boom(request: Request, services: Services) -> Response:
        raise RuntimeError("secret detail")

    r = Router()
    r.add("GET", "/boom", boom)
    reply = r.dispatch(Request("GET", "/boom"), Services())
    assert reply.status == 500 and b"secret" not in reply.body


def test_services_are_lazy_and_named() -> None:
    built = []
    services = Services(tenants=lambda: built.append(1) or "store")
    assert not built
    assert services.tenants == "store" and services.tenants == "store" and built == [1]
    assert services.sync_state is None
    try:
        services.soap  # noqa: B018
    except ServiceUnavailable:
        pass
    else:
        raise AssertionError("an unprovided port was built")


def test_api_gateway_event_round_trip() -> None:
    event = {
        "httpMethod": "POST",
        "path": "/items/3",
        "headers": {"Host": "h.example"},
        "queryStringParameters": None,
        "requestContext": {"path": "/prod/items/3", "domainName": "api.example"},
        "body": base64.b64encode(b"hello").decode(),
        "isBase64Encoded": True,
    }
    request = to_request(event)
    assert request.content_length == 5 and request.base_url == "https://api.example/prod"
    reply = to_event_reply(router().dispatch(request, Services()))
    assert reply["statusCode"] == 200 and '"body":"hello"' in reply["body"]
    bad = dict(event, body="%%%")
    assert router().dispatch(to_request(bad), Services()).status in (400, 413)
    root = {"path": "/", "requestContext": {"path": "/dev/", "domainName": "d"}}
    assert base_url(root) == "https://d/dev"
    custom = {"path": "/qbwc", "requestContext": {"path": "/qbwc", "domainName": "relay.example"}}
    assert base_url(custom) == "https://relay.example"


def test_wsgi_serves_the_same_router() -> None:
    app = RelayWsgiApp(endpoint=None, router=router())  # type: ignore[arg-type]
    seen: list[str] = []
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/items/9",
        "CONTENT_LENGTH": "2",
        "wsgi.input": io.BytesIO(b"hi"),
        "HTTP_HOST": "127.0.0.1:8080",
        "wsgi.url_scheme": "http",
    }
    body = b"".join(app(environ, lambda status, headers: seen.append(status)))
    assert seen == ["200 OK"] and b'"item_id":"9"' in body and b'"body":"hi"' in body


def test_hostile_bodies_are_client_errors_not_tracebacks(caplog) -> None:
    r = Router()
    r.add("POST", "/form", lambda q, s: Response.json(q.form()))
    r.add("POST", "/json", lambda q, s: Response.json(q.json()))
    many = "&".join(f"f{n}=1" for n in range(300)).encode()
    deep = b"[" * 200_000
    with caplog.at_level("ERROR"):
        assert r.dispatch(Request("POST", "/form", body=many), Services()).status == 400
        assert r.dispatch(Request("POST", "/json", body=deep), Services()).status == 400
    assert not [rec for rec in caplog.records if rec.levelname == "ERROR"]


def test_wsgi_query_with_too_many_parameters_is_a_400() -> None:
    app = RelayWsgiApp(endpoint=None, router=router())  # type: ignore[arg-type]
    seen: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/items/special",
        "QUERY_STRING": "&".join(f"q{n}=1" for n in range(500)),
        "wsgi.input": io.BytesIO(b""),
    }
    body = b"".join(app(environ, lambda status, headers: seen.append(status)))
    assert seen == ["400 Bad Request"] and b"query" in body.lower()


def test_a_provider_may_use_another_port() -> None:
    # A port built from another (an engine over the stores) must not deadlock the lazy build.
    services = Services(tenants=lambda: "store", soap=lambda: f"over {services.tenants}")
    done: list[str] = []
    worker = threading.Thread(target=lambda: done.append(services.soap), daemon=True)
    worker.start()
    worker.join(5)
    assert done == ["over store"]


def test_each_port_is_built_once_under_concurrency() -> None:
    built: list[int] = []
    gate = threading.Barrier(8)

    def slow() -> object:
        built.append(1)
        time.sleep(0.05)
        return object()

    services = Services(tenants=slow)
    seen: list[object] = []

    def use() -> None:
        gate.wait()
        seen.append(services.tenants)

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert built == [1] and len(seen) == 8 and len({id(s) for s in seen}) == 1
