"""A fake QuickBooks Online (Intuit OAuth + Accounting API v3) for tests and the demo.

Served over HTTP on 127.0.0.1 by :class:`sim.fake_qbo_server.LoopbackServer`; every path lives
under one base URL, so it stands in for Intuit's authorization, token, revoke and API hosts at
once (point ``QBO_AUTH_BASE_URL`` and ``QBO_API_BASE_URL`` at it, see lambdas/qbo/config.py).

Modelled (../shared/research/quickbooks-online-api.md): the consent step and token endpoint of
:mod:`sim.fake_qbo_auth`; per realm a :class:`sim.fake_qbo_company.QboCompany`;
``GET|POST /v3/company/<realm>/query`` (:mod:`sim.fake_qbo_query`), ``GET /cdc`` (30-day look-back,
at most 1,000 objects per answer, deletions as ``status: Deleted``), reads by id, creates,
updates (SyncToken 5010, sparse or full), deletes and voids (:mod:`sim.fake_qbo_writes`);
``requestid`` idempotency (the same requestid in a realm answers the first answer again, without
doing the work twice; ``forget_request_ids``), answers lost after the write (``lose_answers``); the
per-realm throttle (10 requests/s, 500/min, 10 in flight: HTTP 429 ``ThrottleExceeded`` 3001);
401 with the gateway's lower-case ``fault`` for a bad or expired token, other faults with
``Fault``; an ``intuit_tid`` header on every answer; faults on demand (:meth:`FakeQbo.inject`,
including an XML 429 body). Call counters per endpoint (``calls``) and per realm, and the times
of admitted calls so tests can check the limits from the server's side.
"""

from __future__ import annotations

import base64
import html
import json
import re
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from . import fake_qbo_query
from .fake_qbo_auth import ACCESS_LIFETIME, FakeIntuitOAuth, OAuthRefusal
from .fake_qbo_company import ENTITIES, QboCompany, parse_time, qbo_time
from .fake_qbo_faults import Fault, Reply, fault_body, fault_reply, not_found
from .fake_qbo_writes import write

PER_SECOND = 10
PER_MINUTE = 500
MAX_CONCURRENT = 10
CDC_LOOKBACK_DAYS = 30
CDC_MAX_OBJECTS = 1000
_URL_ENTITY = {e.lower(): e for e in ENTITIES}
_API = re.compile(r"^/v3/company/(?P<realm>[^/]+)/(?P<rest>.+)$")


class ManualClock:
    """A clock tests move by hand; ``sleep`` advances it instead of waiting."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.t = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.t += max(0.0, seconds)


class FakeQbo:
    """The fake's state and its WSGI application (``__call__``)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        stale_grace: float = 0.0,
        per_second: int = PER_SECOND,
        per_minute: int = PER_MINUTE,
        max_concurrent: int = MAX_CONCURRENT,
        latency: float = 0.0,
    ) -> None:
        self.clock = clock
        self.oauth = FakeIntuitOAuth(clock, stale_grace)
        self.companies: dict[str, QboCompany] = {}
        self.per_second = per_second
        self.per_minute = per_minute
        self.max_concurrent = max_concurrent
        self.latency = latency  # seconds each API or token answer takes (calls overlap)
        self.calls: Counter[str] = Counter()
        self.realm_calls: Counter[str] = Counter()
        self.minor_versions: Counter[str] = Counter()
        self.admitted: dict[str, list[float]] = {}
        self.throttled_at: dict[str, list[float]] = {}
        self.max_in_flight: Counter[str] = Counter()
        self.base_url = ""
        self.busy = 0
        self._in_flight: Counter[str] = Counter()
        self._recent: dict[str, deque[float]] = {}
        self._faults: dict[str, deque[Fault]] = {}
        self._replies: dict[tuple[str, str], Reply] = {}
        self._lost: Counter[str] = Counter()
        self._lock = threading.Lock()

    # Set-up and test controls.

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def add_company(self, realm_id: str, seed: int | None = 1, **sizes: int) -> QboCompany:
        """A company for ``realm_id``, generated from ``seed`` (None: empty)."""
        company = QboCompany(realm_id, self.now_datetime)
        if seed is not None:
            company.generate(seed, **sizes)
        self.companies[realm_id] = company
        return company

    def add_app(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...]) -> None:
        """Register a developer app with its redirect URIs."""
        self.oauth.add_app(client_id, client_secret, redirect_uris)

    def inject(self, endpoint: str, fault: Fault, times: int = 1) -> None:
        """Answer the next ``times`` calls of ``endpoint`` (a ``calls`` key) with ``fault``."""
        with self._lock:
            self._faults.setdefault(endpoint, deque()).extend([fault] * times)

    def lose_answers(self, endpoint: str, times: int = 1) -> None:
        """Apply the next ``times`` writes of ``endpoint`` ("create", "update"; replays of a
        requestid count too) but drop the connection before the answer is complete."""
        with self._lock:
            self._lost[endpoint] += times

    def forget_request_ids(self) -> None:
        """Forget every requestid seen (Intuit keeps them for an undocumented while): a
        repeated one is then served as a new request."""
        with self._lock:
            self._replies.clear()

    def approve(self, authorize_url: str, realm_id: str, deny: bool = False) -> str:
        """Play the user on the consent page: load it, then approve (or deny) for ``realm_id``.

        Returns the ``Location`` the browser would follow (the app's redirect URI with ``code``,
        ``state`` and ``realmId``, or ``error=access_denied``). AssertionError if the page
        refuses the request (then Intuit shows an error and never redirects).
        """
        page = requests.get(authorize_url, timeout=5)
        assert page.status_code == 200, page.text
        params = {k: v[-1] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        form = {**params, "realm_id": realm_id, "decision": "deny" if deny else "approve"}
        resp = requests.post(
            f"{self.base_url}/connect/oauth2/approve", data=form, allow_redirects=False, timeout=5
        )
        assert resp.status_code == 302, resp.text
        return resp.headers["Location"]

    def max_in_window(self, realm_id: str, seconds: float) -> int:
        """The most calls to the realm admitted within any ``seconds``-long span."""
        times = sorted(self.admitted.get(realm_id, []))
        best, start = 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def api_calls(self, realm_id: str | None = None) -> int:
        """Accounting API calls answered (throttled ones included), for one realm or all."""
        if realm_id is not None:
            return self.realm_calls[realm_id]
        return sum(self.realm_calls.values())

    # WSGI.

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            self.busy += 1
        try:
            reply = self._handle(environ)
        finally:
            with self._lock:
                self.busy -= 1
        headers = [("Content-Type", reply.content_type), ("intuit_tid", _tid())]
        headers += list((reply.headers or {}).items())
        if reply.body is None:
            data = b""
        elif isinstance(reply.body, str):
            data = reply.body.encode()
        else:
            data = json.dumps(reply.body).encode()
        if reply.lost:
            # Promise more than is sent: the server closes the connection mid-answer and the
            # client sees a broken read, as when a connection drops after Intuit applied it.
            headers.append(("Content-Length", str(len(data) + 64)))
            data = data[: len(data) // 2]
        start_response(f"{reply.status} {_REASONS.get(reply.status, 'Error')}", headers)
        return [data]

    def _handle(self, environ: dict[str, Any]) -> Reply:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        if path == "/connect/oauth2" and method == "GET":
            return self._counted("authorize", lambda: self._consent(query))
        if path == "/connect/oauth2/approve" and method == "POST":
            form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            return self._counted("authorize", lambda: self._decide(form))
        if path == "/oauth2/v1/tokens/bearer" and method == "POST":
            form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
            if self.latency:
                time.sleep(self.latency)
            return self._counted("token", lambda: self._token(form, headers))
        if path == "/v2/oauth2/tokens/revoke" and method == "POST":
            return self._counted("revoke", lambda: self._revoke(raw, headers))
        match = _API.match(path)
        if match:
            return self._api(method, match["realm"], match["rest"], query, raw, headers)
        return Reply(404, fault_body("404", "Not found", path, "ValidationFault"))

    def _counted(self, endpoint: str, handler: Callable[[], Reply]) -> Reply:
        with self._lock:
            self.calls[endpoint] += 1
            queued = self._faults.get(endpoint)
            fault = queued.popleft() if queued else None
        if fault is not None:
            return fault_reply(fault)
        return handler()

    # OAuth.

    def _consent(self, params: dict[str, str]) -> Reply:
        problem = self.oauth.check_authorize(params)
        if problem:
            return Reply(400, f"<h1>Error</h1><p>{html.escape(problem)}</p>", None, "text/html")
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        page = (
            "<h1>Connect to QuickBooks</h1><form method=post action=/connect/oauth2/approve>"
            f"{hidden}<input name=realm_id><button name=decision value=approve>Connect</button>"
            "</form>"
        )
        return Reply(200, page, None, "text/html")

    def _decide(self, form: dict[str, str]) -> Reply:
        if self.oauth.check_authorize(form):
            return Reply(400, "<h1>Error</h1>", None, "text/html")
        redirect = form["redirect_uri"]
        glue = "&" if "?" in redirect else "?"
        if form.get("decision") != "approve":
            args = {"error": "access_denied", "state": form.get("state", "")}
            return Reply(302, "", {"Location": redirect + glue + urlencode(args)}, "text/html")
        realm = form["realm_id"]
        if realm not in self.companies:
            self.add_company(realm)
        code = self.oauth.issue_code(form["client_id"], redirect, realm)
        args = {"code": code, "state": form.get("state", ""), "realmId": realm}
        return Reply(302, "", {"Location": redirect + glue + urlencode(args)}, "text/html")

    def _basic(self, headers: dict[str, str]) -> tuple[str, str]:
        auth = headers.get("authorization", "")
        if not auth.startswith("Basic "):
            raise OAuthRefusal(401, "invalid_client")
        try:
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        except ValueError:
            raise OAuthRefusal(401, "invalid_client") from None
        return client_id, secret

    def _token(self, form: dict[str, str], headers: dict[str, str]) -> Reply:
        try:
            app = self.oauth.authenticate(*self._basic(headers))
            grant_type = form.get("grant_type")
            if grant_type == "authorization_code":
                grant, refresh, access = self.oauth.exchange(
                    app, form.get("code", ""), form.get("redirect_uri", "")
                )
            elif grant_type == "refresh_token":
                grant, refresh, access = self.oauth.refresh(app, form.get("refresh_token", ""))
            else:
                raise OAuthRefusal(400, "unsupported_grant_type")
        except OAuthRefusal as exc:
            return Reply(exc.status, {"error": exc.error})
        now = self.clock()
        body: dict[str, Any] = {
            "token_type": "bearer",
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ACCESS_LIFETIME,
            "x_refresh_token_expires_in": int(
                min(grant.refresh[refresh][0] or now, grant.hard_expires_at) - now
            ),
        }
        if headers.get("x-include-refresh-token-hard-expires-in", "").lower() == "true":
            body["x_refresh_token_hard_expires_in"] = int(grant.hard_expires_at - now)
        return Reply(200, body)

    def _revoke(self, raw: bytes, headers: dict[str, str]) -> Reply:
        try:
            app = self.oauth.authenticate(*self._basic(headers))
            try:
                token = json.loads(raw or b"{}").get("token", "")
            except (ValueError, AttributeError):
                token = ""
            self.oauth.revoke(app, token)
        except OAuthRefusal as exc:
            return Reply(exc.status, {"error": exc.error})
        return Reply(200, None)

    # Accounting API.

    def _api(
        self,
        method: str,
        realm: str,
        rest: str,
        query: dict[str, str],
        raw: bytes,
        headers: dict[str, str],
    ) -> Reply:
        parts = rest.split("/")
        endpoint = _endpoint(method, parts, query, raw)
        with self._lock:
            self.calls[endpoint] += 1
            self.realm_calls[realm] += 1
            self.minor_versions[query.get("minorversion", "")] += 1
            queued = self._faults.get(endpoint)
            fault = queued.popleft() if queued else None
        if fault is not None:
            return fault_reply(fault)
        auth = headers.get("authorization", "")
        token_realm = self.oauth.realm_of_access(auth[7:]) if auth.startswith("Bearer ") else None
        if token_realm is None:
            body = fault_body(
                "3200",
                "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                "Token expired or invalid",
                "AUTHENTICATION",
                "fault",
            )
            challenge = 'Bearer realm="Intuit", error="invalid_token"'
            return Reply(401, body, {"WWW-Authenticate": challenge})
        company = self.companies.get(realm)
        if token_realm != realm or company is None:
            return Reply(
                403,
                fault_body(
                    "3100", "message=ApplicationAuthorizationFailed", realm, "AUTHORIZATION"
                ),
            )
        if not self._admit(realm):
            with self._lock:
                self.calls["throttled"] += 1
            return fault_reply(Fault(429, "3001"))
        try:
            if self.latency:
                time.sleep(self.latency)
            return self._serve(endpoint, company, parts, query, raw)
        finally:
            with self._lock:
                self._in_flight[realm] -= 1

    def _admit(self, realm: str) -> bool:
        """Count the call against the realm's limits; False (429) when over one of them."""
        now = self.clock()
        with self._lock:
            recent = self._recent.setdefault(realm, deque())
            while recent and recent[0] <= now - 60:
                recent.popleft()
            last_second = sum(1 for t in recent if t > now - 1)
            if (
                last_second >= self.per_second
                or len(recent) >= self.per_minute
                or self._in_flight[realm] >= self.max_concurrent
            ):
                self.throttled_at.setdefault(realm, []).append(now)
                return False
            recent.append(now)
            self.admitted.setdefault(realm, []).append(now)
            self._in_flight[realm] += 1
            self.max_in_flight[realm] = max(self.max_in_flight[realm], self._in_flight[realm])
            return True

    def _serve(
        self,
        endpoint: str,
        company: QboCompany,
        parts: list[str],
        query: dict[str, str],
        raw: bytes,
    ) -> Reply:
        if endpoint == "query":
            statement = query.get("query") or raw.decode()
            try:
                parsed = fake_qbo_query.parse(statement)
            except fake_qbo_query.QueryError as exc:
                return Reply(400, fault_body(exc.code, str(exc), statement, "ValidationFault"))
            answer = fake_qbo_query.run(parsed, company.all(parsed.entity))
            return Reply(200, {"QueryResponse": answer, "time": self._time(company)})
        if endpoint == "cdc":
            return self._cdc(company, query)
        entity = _URL_ENTITY.get(parts[0])
        if entity is None:
            return Reply(400, fault_body("4001", "Unsupported entity", parts[0], "ValidationFault"))
        if endpoint == "read":
            found = company.get(entity, parts[1])
            if found is None:
                return not_found(entity, parts[1])
            return Reply(200, {entity: found, "time": self._time(company)})
        request_id = query.get("requestid", "")
        if len(request_id) > 50:
            return Reply(400, fault_body("2020", "requestid too long", "", "ValidationFault"))
        key = (company.realm_id, request_id)
        with company.lock:
            if request_id and key in self._replies:
                with self._lock:
                    self.calls["replayed"] += 1
                return self._maybe_lost(endpoint, self._replies[key])
            reply = write(endpoint, entity, company, raw, self._time(company))
            if request_id:
                self._replies[key] = reply
        return self._maybe_lost(endpoint, reply)

    def _maybe_lost(self, endpoint: str, reply: Reply) -> Reply:
        with self._lock:
            if self._lost[endpoint] <= 0:
                return reply
            self._lost[endpoint] -= 1
            self.calls["lost"] += 1
        return Reply(reply.status, reply.body, reply.headers, reply.content_type, lost=True)

    def _time(self, company: QboCompany) -> str:
        return qbo_time(self.now_datetime(), company.offset)

    def _cdc(self, company: QboCompany, query: dict[str, str]) -> Reply:
        names = [n.strip() for n in query.get("entities", "").split(",") if n.strip()]
        entities = [_URL_ENTITY.get(n.lower()) for n in names]
        if not entities or None in entities:
            return Reply(
                400, fault_body("4001", "Invalid entities", ",".join(names), "ValidationFault")
            )
        try:
            since = parse_time(query.get("changedSince", ""))
        except ValueError:
            return Reply(400, fault_body("2020", "changedSince is required", "", "ValidationFault"))
        if since < self.now_datetime() - timedelta(days=CDC_LOOKBACK_DAYS):
            # Intuit's code for this is not in the sources; the 30-day rule is.
            return Reply(
                400,
                fault_body(
                    "4000", "changedSince is beyond the 30-day look-back", "", "ValidationFault"
                ),
            )
        budget = CDC_MAX_OBJECTS
        responses: list[dict[str, Any]] = []
        for entity in entities:
            assert entity is not None
            changed = company.changed_since(entity, since)[: max(budget, 0)]
            budget -= len(changed)
            if changed:
                responses.append({entity: changed, "startPosition": 1, "maxResults": len(changed)})
            else:
                responses.append({})
        body = {"CDCResponse": [{"QueryResponse": responses}], "time": self._time(company)}
        return Reply(200, body)


def _endpoint(method: str, parts: list[str], query: dict[str, str], raw: bytes) -> str:
    if parts[0] == "query":
        return "query"
    if parts[0] == "cdc":
        return "cdc"
    if method == "GET":
        return "read"
    operation = query.get("operation", "")
    if operation == "delete":
        return "delete"
    if operation == "void" or query.get("include") == "void":
        return "void"
    # Creates and updates share the URL: a body with an Id is an update.
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return "create"
    return "update" if isinstance(body, dict) and body.get("Id") else "create"


def _tid() -> str:
    return f"1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]}"


_REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
_REASONS |= {404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}
_REASONS |= {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
