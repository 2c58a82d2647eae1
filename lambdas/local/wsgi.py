"""The local process's HTTP surface as a WSGI application.

``POST /qbwc`` SOAP, ``GET /qbwc?wsdl`` the WSDL, ``GET /health`` a small JSON body,
``GET /support`` and ``GET /support/<file-id>`` the AppSupport pages (see support_page).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
from collections.abc import Callable, Iterable
from typing import Any

from ..qbwc.soap_service import SoapEndpoint, SoapReply
from ..qbwc.support_page import SUPPORT_PATH, support_reply
from ..store.ports import SyncStateStore, TenantStore

SOAP_PATH = "/qbwc"
HEALTH_PATH = "/health"

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
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}


def _request_url(environ: dict[str, Any]) -> str:
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or (
        f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    )
    return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}{SOAP_PATH}"


class RelayWsgiApp:
    """WSGI callable around a SoapEndpoint. ``public_url`` fixes the WSDL's service address;
    ``tenants`` backs the per-tenant support pages (without it only ``/support`` is served);
    ``state`` adds each tenant's entities its company file cannot provide."""

    def __init__(
        self,
        endpoint: SoapEndpoint,
        public_url: str | None = None,
        tenants: TenantStore | None = None,
        state: SyncStateStore | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.public_url = public_url
        self.tenants = tenants
        self.state = state

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path.rstrip("/") == SOAP_PATH:
            if method == "POST":
                return self._reply(start_response, self._soap(environ))
            if method in ("GET", "HEAD"):
                if environ.get("QUERY_STRING", "").lower().startswith("wsdl"):
                    url = self.public_url or _request_url(environ)
                    return self._send(
                        start_response, 200, "text/xml; charset=utf-8", self.endpoint.wsdl(url)
                    )
                return self._send(
                    start_response,
                    200,
                    "text/plain; charset=utf-8",
                    b"QuickBooks Web Connector endpoint. POST SOAP 1.1 here; "
                    b"GET ?wsdl for the WSDL.\n",
                )
            return self._send(
                start_response,
                405,
                "text/plain; charset=utf-8",
                b"Use POST for SOAP or GET ?wsdl.\n",
                [("Allow", "GET, POST")],
            )
        if path == SUPPORT_PATH or path.startswith(SUPPORT_PATH + "/"):
            if method not in ("GET", "HEAD"):
                return self._send(
                    start_response,
                    405,
                    "text/plain; charset=utf-8",
                    b"Use GET.\n",
                    [("Allow", "GET")],
                )
            page = support_reply(path, self.tenants, self.state)
            return self._send(
                start_response, page.status, page.content_type, page.body, list(page.headers)
            )
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            body = json.dumps({"status": "ok", "service": "qbxml-relay"}).encode()
            return self._send(start_response, 200, "application/json", body)
        return self._send(start_response, 404, "text/plain; charset=utf-8", b"Not found.\n")

    def _soap(self, environ: dict[str, Any]) -> SoapReply:
        limit = self.endpoint.max_body_bytes
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return self.endpoint.refuse("Content-Length is not a number.")
        if length > limit:
            return self.endpoint.refuse(
                f"The request body is {length:,} bytes; this service accepts at most {limit:,}. "
                "Lower MaxReturned so responses are smaller."
            )
        body = environ["wsgi.input"].read(length) if length else b""
        # The peer as the server reports it: waitress replaces it with the X-Forwarded-For
        # client only for a configured trusted proxy (``serve --trusted-proxy``) and otherwise
        # drops that header, which any client can send.
        reply = self.endpoint.handle(body, environ.get("REMOTE_ADDR") or None)
        if length >= TRIM_AFTER_BYTES:
            del body
            _trim()
        return reply

    def _reply(self, start_response: StartResponse, reply: SoapReply) -> Iterable[bytes]:
        return self._send(start_response, reply.status, reply.content_type, reply.body)

    @staticmethod
    def _send(
        start_response: StartResponse,
        status: int,
        content_type: str,
        body: bytes,
        extra: list[tuple[str, str]] | None = None,
    ) -> Iterable[bytes]:
        headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        start_response(f"{status} {_REASONS.get(status, '')}".strip(), headers + (extra or []))
        return [body]
