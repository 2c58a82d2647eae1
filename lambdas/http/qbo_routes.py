"""QuickBooks Online routes: connect a company (OAuth), disconnect it, receive its webhooks.

- ``GET /qbo/connect?tenant=NAME``: with the status API key (``X-API-Key``) a 302 to Intuit's
  consent page; with ``&link=TOKEN`` (a one-time link from ``qbrelay qbo connect``) a page with
  one button, whose ``POST /qbo/connect`` uses the link up and redirects: a link previewer that
  fetches the URL does not spend it.
- ``GET /qbo/callback``: Intuit's redirect back; a bad, replayed or expired state is refused
  before any code is exchanged; the tokens go to the secret store.
- ``POST /qbo/disconnect`` (API key; ``tenant`` in the query, a form or a JSON body): revoke at
  Intuit, delete the tokens, mark the connection disconnected.
- ``POST /qbo/webhooks``: ``receive_webhook``'s answer (401 for a bad signature, nothing
  queued); no QuickBooks or ZOHO call inside.

The OAuth routes run on the ``qbo-oauth`` function, the webhook on ``qbo-webhook``: neither
needs what the Web Connector relay may touch, nor the relay what they may. Pages carry a strict
Content-Security-Policy, no-store and no-referrer (the callback URL holds a code).

Services used: ``qbo_config``, ``qbo_states``, ``qbo_connections``, ``qbo_auth``, ``secrets``,
``tenants``, ``api_keys`` (OAuth); ``qbo_config``, ``qbo_seen``, ``qbo_changes`` (webhook);
``metrics`` if provided.
"""

from __future__ import annotations

import html
import logging
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..metrics import Metrics
from ..ops.api_keys import require_api_key
from ..qbo.errors import OAuthStateRefused, QboError
from ..qbo.links import CONNECT_PATH, consume_link
from ..qbo.oauth import authorization_url, complete_connection, disconnect
from ..qbo.runtime import QBO_WEBHOOK_SIGNATURE_FAILURES, QBO_WEBHOOKS
from ..qbo.webhooks import MAX_BODY_BYTES, receive_webhook
from .messages import BodyError, Request, Response
from .router import Router
from .services import Services

log = logging.getLogger(__name__)

CALLBACK_PATH = "/qbo/callback"
DISCONNECT_PATH = "/qbo/disconnect"
WEBHOOK_PATH = "/qbo/webhooks"
OAUTH_FUNCTION = "qbo-oauth"
WEBHOOK_FUNCTION = "qbo-webhook"
# Nothing loads, nothing frames the page; its one form may post only back here.
PAGE_HEADERS = [
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'",
    ),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
    ("X-Frame-Options", "DENY"),
]


def page(title: str, message: str, status: int = 200, form: str = "") -> Response:
    """A small HTML page (``message`` is escaped; ``form`` is trusted markup)."""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;padding:0 1em}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{form}</body></html>"
    )
    return Response.html(body, status, list(PAGE_HEADERS))


def _metrics(services: Services) -> Metrics | None:
    return services.optional("metrics")


def _api_key(request: Request, services: Services) -> Response | None:
    refused = require_api_key(request, SimpleNamespace(api_keys=services.get("api_keys")))
    if refused is None:
        return None
    status, body = refused
    return Response.json(body, status, [("Cache-Control", "no-store")])


def _tenant_exists(services: Services, tenant: str) -> bool:
    return bool(tenant) and services.tenants.get(tenant) is not None


def _redirect_to_consent(services: Services, tenant: str) -> Response:
    url = authorization_url(tenant, services.get("qbo_config"), services.get("qbo_states"))
    return Response(302, b"", "text/plain", [("Location", url), *PAGE_HEADERS])


def connect_get(request: Request, services: Services) -> Response:
    """With a link: the confirmation page. With the API key: the redirect to Intuit."""
    tenant = request.query.get("tenant", "")
    link = request.query.get("link")
    if link is not None:
        # The link is not spent here: only the button's POST uses it.
        form = (
            f'<form method="post" action="{html.escape(request.base_path)}{CONNECT_PATH}">'
            f'<input type="hidden" name="tenant" value="{html.escape(tenant)}">'
            f'<input type="hidden" name="link" value="{html.escape(link)}">'
            "<button>Connect to QuickBooks Online</button></form>"
        )
        return page(
            "Connect QuickBooks Online",
            f"Connect a QuickBooks Online company to {tenant!r}? You sign in at Intuit next.",
            form=form,
        )
    refused = _api_key(request, services)
    if refused is not None:
        return refused
    if not _tenant_exists(services, tenant):
        return Response.json({"error": "not_found", "message": f"no tenant {tenant!r}"}, 404)
    return _redirect_to_consent(services, tenant)


def _cross_site(request: Request) -> bool:
    """True for a browser's POST from another site (Sec-Fetch-Site, else Origin, says so).
    Clients that send neither (the CLI, scripts) are no browser a foreign page can drive."""
    fetch_site = request.header("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site not in ("same-origin", "none")
    origin = request.header("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc != urlsplit(request.base_url).netloc


def connect_post(request: Request, services: Services) -> Response:
    """The link's button: use the link up, then redirect to Intuit. Refused from a foreign
    page, which would skip the confirmation naming the tenant (the link is not spent then)."""
    if _cross_site(request):
        return page("Not from this page", "Open the connect link itself and press its button.", 403)
    form = request.form()
    tenant, link = form.get("tenant", ""), form.get("link", "")
    if not consume_link(link, tenant, services.get("qbo_states"), time.time):
        return page(
            "Link not valid",
            "This connect link is unknown, was used already or has expired. Ask for a new one "
            "(qbrelay qbo connect --tenant NAME).",
            403,
        )
    if not _tenant_exists(services, tenant):
        return page("Link not valid", "The tenant of this link no longer exists.", 404)
    return _redirect_to_consent(services, tenant)


def callback(request: Request, services: Services) -> Response:
    """Intuit's redirect: refuse a bad state, exchange the code, store the tokens."""
    try:
        conn = complete_connection(
            request.query,
            services.get("qbo_states"),
            services.get("secrets"),
            services.get("qbo_connections"),
            services.get("qbo_auth"),
        )
    except OAuthStateRefused as exc:
        return page("Connection refused", exc.message, 400)
    except QboError as exc:
        log.warning("QuickBooks Online callback failed: %s (%s)", exc.code, exc.intuit_tid or "-")
        status = 502 if exc.retryable else 400
        return page("Not connected", exc.message, status)
    return page(
        "QuickBooks Online connected",
        f"Tenant {conn.tenant!r} is connected to QuickBooks Online company {conn.realm_id}. "
        "You can close this page.",
    )


def _tenant_of(request: Request) -> str:
    if request.query.get("tenant"):
        return request.query["tenant"]
    kind = (request.header("content-type") or "").split(";")[0].strip().lower()
    if not request.body:
        return ""
    if kind == "application/json":
        data = request.json()
        if not isinstance(data, dict):
            raise BodyError("The body must be a JSON object with a tenant.")
        return str(data.get("tenant") or "")
    return request.form().get("tenant", "")


def disconnect_post(request: Request, services: Services) -> Response:
    """Revoke the tenant's authorization at Intuit and delete its tokens."""
    tenant = _tenant_of(request)
    if not tenant:
        return Response.json({"error": "bad_request", "message": "tenant is required"}, 400)
    try:
        done = disconnect(
            tenant,
            services.get("secrets"),
            services.get("qbo_connections"),
            services.get("qbo_auth"),
        )
    except QboError as exc:
        return Response.json({"error": exc.code, "message": exc.message}, 502)
    return Response.json({"tenant": tenant, "disconnected": done})


def webhook(request: Request, services: Services) -> Response:
    """One Intuit delivery: verify, de-duplicate, queue; answer within Intuit's 3 seconds."""
    config = services.get("qbo_config")
    result = receive_webhook(
        request.body,
        request.headers,
        config.webhook_verifier_token,
        services.get("qbo_seen"),
        services.get("qbo_changes"),
        time.time,
    )
    metrics = _metrics(services)
    if metrics is not None:
        metrics.count(QBO_WEBHOOKS)
        if result.status == 401:
            metrics.count(QBO_WEBHOOK_SIGNATURE_FAILURES)
    if result.status == 401:
        return Response.json({"error": "unauthorized"}, 401)
    body = {"queued": result.queued, "duplicates": result.duplicates, "skipped": result.skipped}
    if result.status != 200:
        body["error"] = result.reason
    return Response.json(body, result.status)


def connect_url(base_url: str, tenant: str) -> str:
    """The API-key connect URL of ``tenant`` (for messages and the CLI)."""
    return f"{base_url.rstrip('/')}{CONNECT_PATH}?{urlencode({'tenant': tenant})}"


_TENANT_QUERY = {"name": "tenant", "in": "query", "required": True, "schema": {"type": "string"}}
# The API-key routes in the operator's OpenAPI document (/openapi.json).
_CONNECT_DOC: dict[str, Any] = {
    "tags": ["quickbooks-online"],
    "summary": "Connect a tenant's QuickBooks Online company: 302 to Intuit's consent page",
    "parameters": [_TENANT_QUERY],
    "security": [{"ApiKey": []}, {}],
    "responses": {"302": {"description": "to Intuit's authorization URL"}, "401": {"error": True}},
}
_DISCONNECT_DOC: dict[str, Any] = {
    "tags": ["quickbooks-online"],
    "summary": "Disconnect a tenant's QuickBooks Online company (revoke, delete the tokens)",
    "parameters": [{**_TENANT_QUERY, "required": False}],
    "security": [{"ApiKey": []}],
    "responses": {"200": {"description": "disconnected"}, "401": {"error": True}},
}


def register(router: Router) -> None:
    """Add the QuickBooks Online routes."""
    oauth, hook = OAUTH_FUNCTION, WEBHOOK_FUNCTION
    router.add(
        "GET",
        CONNECT_PATH,
        connect_get,
        function=oauth,
        summary="QBO connect (OAuth)",
        doc=_CONNECT_DOC,
    )
    router.add(
        "POST", CONNECT_PATH, connect_post, function=oauth, summary="QBO connect by one-time link"
    )
    router.add("GET", CALLBACK_PATH, callback, function=oauth, summary="QBO OAuth callback")
    router.add(
        "POST",
        DISCONNECT_PATH,
        disconnect_post,
        guard=_api_key,
        function=oauth,
        summary="QBO disconnect (API key)",
        doc=_DISCONNECT_DOC,
    )
    router.add(
        "POST",
        WEBHOOK_PATH,
        webhook,
        max_body=MAX_BODY_BYTES,
        function=hook,
        summary="QBO webhooks (intuit-signature)",
    )
