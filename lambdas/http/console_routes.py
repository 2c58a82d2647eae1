"""``/console``: the operator's page over the status core, with sign-in and form actions.

``GET /console`` shows the sign-in form, or with a valid session the status page.
``POST /console/login`` takes the API key once and sets the session cookie
(lambdas/http/console_session.py). ``POST /console/{redrive,pause,resume,logout}`` need the
session and its CSRF token (403 without), then redirect back to the page (303), which says
what was done. Every answer carries console_page.HEADERS (strict CSP, no framing, no-store).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from ..ops import actions, status
from ..ops.api_keys import verify
from ..ops.failures import redrive
from ..ops.qbo_status import connections_by_tenant
from . import console_page as page
from . import console_session as cs
from .messages import HTML, Request, Response
from .ops_common import OPS_FUNCTION, clock
from .router import Router
from .services import Services

CONSOLE_PATH = "/console"
# Sign-in and action forms are a few fields.
MAX_FORM_BODY = 4 * 1024
PARKED_SHOWN = 100


def _html(body: str, status_code: int = 200, extra: list[tuple[str, str]] | None = None):
    return Response.html(body, status_code, [*page.HEADERS, *(extra or [])])


def _redirect(request: Request, extra: list[tuple[str, str]] | None = None, **query: object):
    location = f"{request.base_path}{CONSOLE_PATH}"
    if query:
        location += "?" + urlencode({k: str(v) for k, v in query.items()})
    return Response(303, b"", HTML, [*page.HEADERS, ("Location", location), *(extra or [])])


def _refused(message: str) -> Response:
    return Response.text(message + "\n", 403, list(page.HEADERS))


def _cookie_path(request: Request) -> str:
    return f"{request.base_path}{CONSOLE_PATH}"


def _login(request: Request, services: Services, message: str = "", code: int = 200):
    """The sign-in form, bound to a fresh pre-session cookie."""
    nonce = cs.new_login_nonce()
    token = cs.login_token(services.get("console_key"), nonce)
    cookie = cs.cookie_header(cs.LOGIN_COOKIE, nonce, _cookie_path(request), cs.LOGIN_SECONDS)
    action = f"{request.base_path}{CONSOLE_PATH}/login"
    return _html(page.login_page(action, token, message), code, [cookie])


def _session(request: Request, services: Services) -> cs.Session | None:
    return cs.read_session(
        services.get("console_key"),
        services.get("api_keys"),
        request.cookie(cs.SESSION_COOKIE),
        clock(services)(),
    )


def _notice(request: Request) -> str:
    template = page.NOTICES.get(request.query.get("notice") or "")
    if template is None:
        return ""
    count = request.query.get("n") or "0"
    return template.format(n=int(count) if count.isdigit() and len(count) < 9 else 0)


def console(request: Request, services: Services) -> Response:
    """The status page, or the sign-in form."""
    session = _session(request, services)
    if session is None:
        return _login(request, services, _notice(request))
    data = services.get("tenant_data")
    now = clock(services)()
    overview = status.overview(data, now)
    parked = status.parked_failures(data, limit=PARKED_SHOWN)["parked"]
    connections = connections_by_tenant(services.optional("qbo_connections"), now)
    html = page.status_page(
        overview,
        parked,
        connections,
        session.csrf(services.get("console_key")),
        request.base_path,
        session.key.name,
        _notice(request),
    )
    return _html(html)


def login(request: Request, services: Services) -> Response:
    """Check the sign-in form's token and the key; set the session cookie."""
    form = request.form()
    secret = services.get("console_key")
    if not cs.login_ok(secret, request.cookie(cs.LOGIN_COOKIE), form.get("csrf")):
        return _refused("The sign-in form expired or did not come from this console; reload it.")
    now = clock(services)()
    key = verify(services.get("api_keys"), form.get("key", "").strip(), now)
    if key is None:
        return _login(request, services, "That key is not valid.", 401)
    session = cs.new_session(secret, key, now)
    path = _cookie_path(request)
    return _redirect(
        request,
        [
            cs.cookie_header(cs.SESSION_COOKIE, session.cookie, path, cs.SESSION_SECONDS),
            cs.cookie_header(cs.LOGIN_COOKIE, "", path, 0),
        ],
    )


Action = Callable[[Request, Services, dict[str, str]], Response]


def _action(act: Action) -> Callable[[Request, Services], Response]:
    """A console POST: refused (403) without a session and its CSRF token."""

    def handler(request: Request, services: Services) -> Response:
        session = _session(request, services)
        form = request.form()
        if session is None:
            return _refused("Sign in first: open the console again.")
        if not cs.csrf_ok(services.get("console_key"), session, form.get("csrf")):
            return _refused("The form's CSRF token is missing or wrong; reload the console.")
        return act(request, services, form)

    return handler


def _tenant(services: Services, form: dict[str, str]) -> str:
    return status.get_tenant(services.get("tenant_data"), form.get("tenant", "")).name


def _redrive(request: Request, services: Services, form: dict[str, str]) -> Response:
    name = _tenant(services, form)
    result = redrive(
        services.get("dead_letters"),
        services.get("record_queue"),
        name,
        None,
        confirm=form.get("confirm") == "1",
    )
    if result.awaiting_confirmation and not result.redriven:
        return _redirect(request, notice="held", n=result.awaiting_confirmation)
    return _redirect(request, notice="redriven", n=result.redriven)


def _pause(request: Request, services: Services, form: dict[str, str]) -> Response:
    data = services.get("tenant_data")
    actions.pause(data.tenants, _tenant(services, form), "paused in the console", clock(services)())
    return _redirect(request, notice="paused")


def _resume(request: Request, services: Services, form: dict[str, str]) -> Response:
    actions.resume(services.get("tenant_data").tenants, _tenant(services, form))
    return _redirect(request, notice="resumed")


def _qbo_connect(request: Request, services: Services, form: dict[str, str]) -> Response:
    """A one-time connect link for the tenant, then its page (which sends the person on to
    Intuit's consent with a button): the same link ``qbrelay qbo connect`` prints."""
    from ..qbo.links import create_link, link_url

    name = _tenant(services, form)
    if not services.provides("qbo_states"):
        return _redirect(request, notice="qbo-off")
    token = create_link(name, services.get("qbo_states"), clock(services))
    location = link_url(request.base_path, name, token)
    return Response(303, b"", HTML, [*page.HEADERS, ("Location", location)])


def _logout(request: Request, services: Services, form: dict[str, str]) -> Response:
    clear = cs.cookie_header(cs.SESSION_COOKIE, "", _cookie_path(request), 0)
    return _redirect(request, [clear], notice="signed-out")


def _guarded(act: Action) -> Callable[[Request, Services], Response]:
    """Unknown tenants and refused actions come back to the page as a 4xx text."""
    inner = _action(act)

    def handler(request: Request, services: Services) -> Response:
        try:
            return inner(request, services)
        except (status.UnknownTenant, actions.ActionError) as exc:
            return Response.text(f"{exc}\n", 404, list(page.HEADERS))

    return handler


def register(router: Router) -> None:
    """Add ``/console`` and its form actions."""
    router.add("GET", CONSOLE_PATH, console, function=OPS_FUNCTION, summary="operator console")
    router.add(
        "POST",
        f"{CONSOLE_PATH}/login",
        login,
        max_body=MAX_FORM_BODY,
        function=OPS_FUNCTION,
        summary="console sign-in (API key, once)",
    )
    for name, act in (
        ("redrive", _redrive),
        ("pause", _pause),
        ("resume", _resume),
        ("qbo-connect", _qbo_connect),
        ("logout", _logout),
    ):
        router.add(
            "POST",
            f"{CONSOLE_PATH}/{name}",
            _guarded(act),
            max_body=MAX_FORM_BODY,
            function=OPS_FUNCTION,
            summary=f"console action: {name} (session + CSRF token)",
        )
