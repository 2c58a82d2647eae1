"""Routes declared once: path templates, methods, an optional guard, the function serving them.

``Router.dispatch`` matches a ``Request`` to a route, applies the route's body limit and guard,
and calls its handler. Unknown paths answer 404, known paths with another method 405 (with
``Allow``), bodies over the limit 413 before they are read, and an exception inside a handler a
bare 500 (logged, nothing revealed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .messages import BodyError, Request, Response
from .services import Services

log = logging.getLogger(__name__)

Handler = Callable[[Request, Services], Response]
# A guard answers instead of the handler (a 401, say), or returns None to let the request on.
Guard = Callable[[Request, Services], Response | None]
# Bodies of routes that do not set their own limit: forms, JSON actions, webhooks.
DEFAULT_MAX_BODY = 256 * 1024
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True)
class Route:
    """One path template and the methods it answers.

    ``max_body``: bytes a request may carry (None: the handler checks the size itself, as the
    SOAP route does to answer with a SOAP Fault). ``function``: which deployed function serves
    it (infra/api.py maps the name to a Lambda). ``summary`` describes it for the route table;
    ``doc`` is free-form metadata for documents generated from the table (lambdas/http/openapi.py
    reads OpenAPI operation fields from it; routes without it are left out of that document).
    """

    path: str
    methods: tuple[str, ...]
    handler: Handler
    guard: Guard | None = None
    max_body: int | None = DEFAULT_MAX_BODY
    function: str = "relay"
    summary: str = ""
    doc: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def segments(self) -> tuple[str, ...]:
        return _segments(self.path)

    def match(self, path: str) -> dict[str, str] | None:
        """Path parameters if ``path`` fits this template, else None."""
        wanted, have = self.segments, _segments(path)
        if len(wanted) != len(have):
            return None
        params: dict[str, str] = {}
        for want, part in zip(wanted, have, strict=True):
            if want.startswith("{") and want.endswith("}"):
                if not part:
                    return None
                params[want[1:-1]] = part
            elif want != part:
                return None
        return params


def _segments(path: str) -> tuple[str, ...]:
    trimmed = path.strip("/")
    return tuple(trimmed.split("/")) if trimmed else ()


def _shape(path: str) -> tuple[str, ...]:
    """The template with parameter names erased: ``/a/{x}`` and ``/a/{y}`` are one route."""
    return tuple("{}" if s.startswith("{") else s for s in _segments(path))


class Router:
    """A route table; a literal segment wins over a parameter, as in API Gateway."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    @property
    def routes(self) -> tuple[Route, ...]:
        return tuple(self._routes)

    def add(
        self,
        methods: str | Sequence[str],
        path: str,
        handler: Handler,
        *,
        guard: Guard | None = None,
        max_body: int | None = DEFAULT_MAX_BODY,
        function: str = "relay",
        summary: str = "",
        doc: Mapping[str, Any] | None = None,
    ) -> Route:
        """Declare ``handler`` for ``methods`` on ``path`` (``/support/{file_id}`` style)."""
        names = (methods,) if isinstance(methods, str) else tuple(methods)
        wanted = tuple(m.upper() for m in names)
        unknown = set(wanted) - METHODS
        if unknown or not wanted:
            raise ValueError(f"{path}: unknown HTTP methods {sorted(unknown) or wanted}")
        if not path.startswith("/"):
            raise ValueError(f"route paths start with '/': {path!r}")
        for route in self._routes:
            if _shape(route.path) == _shape(path) and set(route.methods) & set(wanted):
                raise ValueError(f"{path}: {sorted(set(route.methods) & set(wanted))} twice")
        route = Route(path, wanted, handler, guard, max_body, function, summary, dict(doc or {}))
        self._routes.append(route)
        return route

    def include(self, registrars: Iterable[Callable[[Router], None]]) -> Router:
        """Let each module's ``register(router)`` add its routes; returns self."""
        for register in registrars:
            register(self)
        return self

    def dispatch(self, request: Request, services: Services) -> Response:
        """The answer to ``request``. Never raises."""
        allowed: list[str] = []
        matches = [(r, p) for r in self._routes if (p := r.match(request.path)) is not None]
        for route, params in sorted(matches, key=lambda m: len(m[1])):
            method = "GET" if request.method == "HEAD" else request.method
            if method not in route.methods:
                allowed.extend(route.methods)
                continue
            request.params = params
            return self._call(route, request, services)
        if allowed:
            allow = ", ".join(sorted(set(allowed)))
            return Response.text(f"Use {allow}.\n", 405, [("Allow", allow)])
        return Response.text("Not found.\n", 404)

    @staticmethod
    def _call(route: Route, request: Request, services: Services) -> Response:
        if route.max_body is not None and request.content_length > route.max_body:
            return Response.text(
                f"The request body is {request.content_length:,} bytes; this route accepts at "
                f"most {route.max_body:,}.\n",
                413,
            )
        try:
            if route.guard is not None:
                refused = route.guard(request, services)
                if refused is not None:
                    return refused
            return route.handler(request, services)
        except BodyError as exc:
            return Response.text(f"{exc}\n", 400)
        except Exception:
            log.exception("%s %s failed", request.method, route.path)
            return Response.text("Internal error; it has been logged.\n", 500)
