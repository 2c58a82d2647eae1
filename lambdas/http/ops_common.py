"""What the operator routes share: the ports they name, the API-key guard, JSON errors.

The health, status-API and console routes (``health_routes``, ``status_routes``,
``console_routes``) run on the ``ops`` function on AWS and in ``qbrelay serve`` locally. Each
wiring provides these Services entries (see lambdas/handlers/ops_api.py and
lambdas/local/ops_wiring.py):

- ``api_keys``: ApiKeyStore; ``tenant_data``: TenantData (lambdas/ops/tenant_purge.py)
- ``qbo_connections``: QboConnectionStore (optional: no QuickBooks Online)
- ``dead_letters``, ``record_queue``: the parked records and the queue a re-drive sends to
- ``events``: EventPublisher for an audit's drift (optional); ``zoho_session``: the HTTP session
  an audit uses (optional: tests bind one to a fake ZOHO)
- ``console_key``: bytes, the server secret that signs console sessions and CSRF tokens
- ``clock``: a ``() -> float`` (optional; default time.time)

Errors are answered in the one error shape (lambdas/model/errors.py) as
``{"error": {code, message, user_message, retryable, docs}}``, except a missing or wrong key,
which gets ops.api_keys' fixed 401 body and nothing else.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from ..model.errors import error_info
from ..ops.actions import ActionError
from ..ops.api_keys import HEADER, require_api_key, verify
from ..ops.status import UnknownTenant
from ..store.ports import StoreError
from .messages import BodyError, Request, Response
from .services import Services

log = logging.getLogger(__name__)

OPS_FUNCTION = "ops"
API_PREFIX = "/api/v1"
# JSON bodies of the actions are small objects; anything larger is refused before it is read.
MAX_JSON_BODY = 8 * 1024
# Operator answers hold tenant data: never cached, never sniffed as another type.
NO_STORE = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff")]


class BadRequest(ValueError):
    """A parameter or body the route does not accept; the message names it."""


class _KeyPorts:
    """What ops.api_keys.require_api_key reads: ``services.api_keys``."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def api_keys(self) -> Any:
        return self._services.get("api_keys")


def clock(services: Services) -> Callable[[], float]:
    """The wiring's clock, or time.time."""
    return services.optional("clock") or time.time


def api_key_guard(request: Request, services: Services) -> Response | None:
    """The router guard of every status-API route: 401 with a fixed body unless ``X-API-Key``
    is a valid, unrevoked key. A store error propagates (the router answers 500): fail closed."""
    refused = require_api_key(request, _KeyPorts(services), clock(services))
    if refused is None:
        return None
    status, body = refused
    return Response.json(body, status, [*NO_STORE, ("WWW-Authenticate", HEADER)])


def has_valid_key(request: Request, services: Services) -> bool:
    """True if the request carries a valid key (health routes answer more then)."""
    if not request.header(HEADER):
        return False
    return verify(services.get("api_keys"), request.header(HEADER), clock(services)()) is not None


def error(status: int, code: str, message: str) -> Response:
    """An error answer in the one shape."""
    return Response.json({"error": error_info(code, message).to_json()}, status, list(NO_STORE))


def ok(data: Any, status: int = 200) -> Response:
    """A JSON answer that is never cached."""
    return Response.json(data, status, list(NO_STORE))


def json_body(request: Request) -> dict[str, Any]:
    """The body as a JSON object (an empty body is ``{}``); BadRequest otherwise."""
    if request.content_length > MAX_JSON_BODY:
        raise _TooLarge()
    if not request.body.strip():
        return {}
    try:
        data = request.json()
    except BodyError as exc:
        raise BadRequest(str(exc)) from exc
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


class _TooLarge(Exception):
    pass


def json_errors(handler: Callable[[Request, Services], Response]) -> Callable[..., Response]:
    """Answer a route's refusals and failures in the one error shape, with a 4xx/5xx status."""

    @functools.wraps(handler)
    def wrapped(request: Request, services: Services) -> Response:
        try:
            return handler(request, services)
        except _TooLarge:
            return error(
                413, "API_BAD_REQUEST", f"The body may hold at most {MAX_JSON_BODY} bytes."
            )
        except (BadRequest, BodyError) as exc:
            return error(400, "API_BAD_REQUEST", str(exc))
        except UnknownTenant as exc:
            return error(404, "API_NOT_FOUND", str(exc))
        except ActionError as exc:
            if str(exc).startswith("no tenant named"):
                return error(404, "API_NOT_FOUND", str(exc))
            return error(409, "API_ACTION_REFUSED", str(exc))
        except StoreError:
            log.exception("%s %s: store unavailable", request.method, request.path)
            return error(503, "RELAY_ERROR", "The relay's store could not be reached; try again.")
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            return error(500, "RELAY_ERROR", "Internal error; it has been logged.")

    return wrapped


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """A bounded integer query parameter; BadRequest if it is no integer or out of range."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value
