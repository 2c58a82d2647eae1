"""The local process's HTTP surface as a WSGI application over the product's router.

The routes are lambdas/http/routes.py's, the same the Lambda handler serves: ``POST /qbwc``
SOAP, ``GET /qbwc?wsdl``, ``GET /health``, the ``/support`` pages and the rest.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from ..http.messages import MAX_FORM_FIELDS, BodyError, Request, Response
from ..http.relay_routes import HEALTH_PATH, SOAP_PATH
from ..http.router import Router
from ..http.routes import app_router
from ..http.services import Services
from ..qbwc.soap_service import SoapEndpoint
from ..store.ports import SyncStateStore, TenantStore

__all__ = ["HEALTH_PATH", "SOAP_PATH", "RelayWsgiApp"]

StartResponse = Callable[..., Any]
# A body at least this large is followed by malloc_trim: glibc keeps the freed megabytes of a
# burst of big bodies in its per-thread arenas (measured: +34 MiB after six 6 MiB envelopes,
# never given back), and trimming them costs about a millisecond next to such a request.
TRIM_AFTER_BYTES = 1024 * 1024


def _malloc_trim() -> Callable[[], None]:
    """glibc's malloc_trim(0), or a no-op where there is no glibc (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim = ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        trim = None
    if trim is None:
        return lambda: None

    def call() -> None:
        trim(0)

    return call


_trim = _malloc_trim()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _base_url(environ: dict[str, Any]) -> str:
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    )
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}"


def to_request(environ: dict[str, Any]) -> Request:
    """The ``Request`` a WSGI environ describes; the body is read only if a route asks.

    Raises BodyError for a query string of more than MAX_FORM_FIELDS parameters.
    """
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = -1
    headers = {
        key[5:].replace("_", "-"): value
        for key, value in environ.items()
        if key.startswith("HTTP_") and isinstance(value, str)
    }
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = environ["CONTENT_TYPE"]
    stream = environ.get("wsgi.input")

    def body() -> bytes:
        if length <= 0 or stream is None:
            return b""
        return stream.read(length)

    query: dict[str, str] = {}
    try:
        pairs = parse_qsl(
            environ.get("QUERY_STRING", ""), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError as exc:
        raise BodyError(f"The query string has more than {MAX_FORM_FIELDS} parameters.") from exc
    for key, value in pairs:
        query.setdefault(key, value)
    return Request(
        environ.get("REQUEST_METHOD", "GET"),
        environ.get("PATH_INFO", "") or "/",
        query=query,
        headers=headers,
        body=body,
        # A Content-Length that is no number is refused as too large: nothing is read.
        content_length=length if length >= 0 else 1 << 62,
        # The peer as the server reports it: waitress replaces it with the X-Forwarded-For
        # client only for a configured trusted proxy (``serve --trusted-proxy``) and otherwise
        # drops that header, which any client can send.
        source_ip=environ.get("REMOTE_ADDR") or None,
        base_url=_base_url(environ),
    )


class RelayWsgiApp:
    """WSGI callable over the product's router. ``public_url`` fixes the WSDL's service
    address; ``tenants`` backs the per-tenant support pages; ``state`` adds each tenant's
    entities its company file cannot provide; ``services`` supplies the other ports routes use
    (the SOAP endpoint and these three are added to it)."""

    def __init__(
        self,
        endpoint: SoapEndpoint,
        public_url: str | None = None,
        tenants: TenantStore | None = None,
        state: SyncStateStore | None = None,
        *,
        providers: dict[str, Callable[[], Any]] | None = None,
        router: Router | None = None,
    ) -> None:
        self.endpoint = endpoint
        own: dict[str, Callable[[], Any]] = {"soap": lambda: endpoint}
        if public_url:
            own["soap_url"] = lambda: public_url
        if tenants is not None:
            own["tenants"] = lambda: tenants
        if state is not None:
            own["sync_state"] = lambda: state
        self.services = Services(**{**(providers or {}), **own})
        self.router = router or app_router()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            request = to_request(environ)
        except BodyError as exc:
            return self._send(start_response, Response.text(f"{exc}\n", 400))
        response = self.router.dispatch(request, self.services)
        if request.content_length >= TRIM_AFTER_BYTES:
            del request
            _trim()
        return self._send(start_response, response)

    @staticmethod
    def _send(start_response: StartResponse, response: Response) -> Iterable[bytes]:
        headers = [
            ("Content-Type", response.content_type),
            ("Content-Length", str(len(response.body))),
        ]
        status = f"{response.status} {_phrase(response.status)}".strip()
        start_response(status, headers + response.headers)
        return [response.body]
