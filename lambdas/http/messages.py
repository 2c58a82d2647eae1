"""Transport-neutral HTTP request and response values."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
# Past this many fields a form or query string is refused (parsing them all costs the caller
# nothing and the server a dict entry each).
MAX_FORM_FIELDS = 200


class BodyError(ValueError):
    """The request body cannot be read as asked (bad encoding, bad JSON or form)."""


class Request:
    """One HTTP request as a route sees it.

    ``headers`` has lower-case names. ``query`` holds each parameter's first value, names as
    sent. ``base_url`` is the public root the request came in on (scheme, host and any stage or
    base path; no trailing slash). ``params`` are the route's path parameters. The body is read
    on first use, so a route can refuse a large request before it is read.
    """

    def __init__(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | Callable[[], bytes] = b"",
        content_length: int | None = None,
        source_ip: str | None = None,
        base_url: str = "",
    ) -> None:
        self.method = method.upper()
        self.path = path or "/"
        self.query: Mapping[str, str] = dict(query or {})
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        self._body = body
        if content_length is None and isinstance(body, bytes):
            content_length = len(body)
        self.content_length = content_length or 0
        self.source_ip = source_ip
        self.base_url = base_url.rstrip("/")
        self.params: dict[str, str] = {}

    @property
    def base_path(self) -> str:
        """The path part of ``base_url`` (an API Gateway stage, say; "" at the root): links and
        form actions a page sends back must start with it."""
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def body(self) -> bytes:
        """The raw body (read once; ``BodyError`` if the transport could not decode it)."""
        if callable(self._body):
            self._body = self._body()
        return self._body

    def header(self, name: str, default: str | None = None) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower(), default)

    def cookie(self, name: str) -> str | None:
        """A cookie's value, or None (malformed Cookie headers count as none)."""
        raw = self.header("cookie")
        if not raw:
            return None
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(raw)
        except CookieError:
            return None
        morsel = jar.get(name)
        return morsel.value if morsel is not None else None

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body as a dict of first values."""
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyError("The form is not valid UTF-8.") from exc
        try:
            pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError as exc:  # more fields than any form of this service has
            raise BodyError(f"The form has more than {MAX_FORM_FIELDS} fields.") from exc
        values: dict[str, str] = {}
        for key, value in pairs:
            values.setdefault(key, value)
        return values

    def json(self) -> Any:
        """The body parsed as JSON (``BodyError`` if it is not)."""
        try:
            return json.loads(self.body)
        # RecursionError: nesting deeper than the interpreter's stack (``[[[[…`` of a small body).
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise BodyError("The body is not valid JSON.") from exc


@dataclass(slots=True)
class Response:
    """An HTTP answer: status, body, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: list[tuple[str, str]] | None = None):
        """``data`` as compact JSON."""
        body = json.dumps(data, separators=(",", ":"), sort_keys=False, default=str).encode()
        return cls(status, body, JSON, list(headers or []))

    @classmethod
    def text(cls, text: str, status: int = 200, headers: list[tuple[str, str]] | None = None):
        """Plain UTF-8 text."""
        return cls(status, text.encode("utf-8"), TEXT, list(headers or []))

    @classmethod
    def html(cls, html: str, status: int = 200, headers: list[tuple[str, str]] | None = None):
        """An HTML page (the caller escapes what it interpolates)."""
        return cls(status, html.encode("utf-8"), HTML, list(headers or []))

    def header(self, name: str) -> str | None:
        """The first extra header of that name."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)
