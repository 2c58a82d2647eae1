"""API Gateway (REST, Lambda proxy, payload 1.0) events to ``Request`` and back."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from .messages import BodyError, Request, Response


def source_ip(event: dict[str, Any]) -> str | None:
    """The caller's address as API Gateway saw it (requestContext.identity.sourceIp).

    Not X-Forwarded-For: API Gateway appends to what the client sent, so its first entries are
    the client's to choose.
    """
    identity = (event.get("requestContext") or {}).get("identity") or {}
    value = identity.get("sourceIp")
    return value if isinstance(value, str) and value else None


def base_url(event: dict[str, Any]) -> str:
    """The public root the request came in on: host plus stage (execute-api) or base path
    (custom domain), taken from requestContext.path minus the route's own path."""
    ctx = event.get("requestContext") or {}
    host = ctx.get("domainName") or (event.get("headers") or {}).get("Host", "localhost")
    path = event.get("path") or "/"
    full = ctx.get("path") or path
    # The route's own path is the tail of the full one; what precedes it is the prefix.
    cut = len(full) - len(path) if path != "/" and full.endswith(path) else len(full)
    prefix = full[:cut] if path == "/" or full.endswith(path) else ""
    return f"https://{host}{prefix.rstrip('/')}"


def to_request(event: dict[str, Any]) -> Request:
    """The ``Request`` an API Gateway proxy event describes."""
    raw = event.get("body") or ""
    encoded = bool(event.get("isBase64Encoded"))

    def body() -> bytes:
        if not encoded:
            return raw.encode("utf-8")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BodyError("The request body is not valid base64.") from exc

    # The decoded size without decoding: a route can refuse it before anything is copied.
    length = len(raw) * 3 // 4 - raw[-2:].count("=") if encoded else len(raw.encode("utf-8"))
    return Request(
        event.get("httpMethod") or "GET",
        event.get("path") or "/",
        query=event.get("queryStringParameters") or {},
        headers=event.get("headers") or {},
        body=body,
        content_length=length,
        source_ip=source_ip(event),
        base_url=base_url(event),
    )


def to_event_reply(response: Response) -> dict[str, Any]:
    """The proxy integration's answer; non-UTF-8 bodies go base64-encoded."""
    headers: dict[str, Any] = {"Content-Type": response.content_type}
    multi: dict[str, list[str]] = {}
    for name, value in response.headers:
        multi.setdefault(name, []).append(value)
    for name, values in multi.items():
        headers[name] = values[-1]
    reply: dict[str, Any] = {"statusCode": response.status, "headers": headers}
    if any(len(values) > 1 for values in multi.values()):
        reply["multiValueHeaders"] = {k: v for k, v in multi.items() if len(v) > 1}
    try:
        reply["body"], reply["isBase64Encoded"] = response.body.decode("utf-8"), False
    except UnicodeDecodeError:
        reply["body"] = base64.b64encode(response.body).decode("ascii")
        reply["isBase64Encoded"] = True
    return reply
