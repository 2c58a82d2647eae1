"""Every route of the product, declared once: the Lambda handler, the local server and the CDK
app (infra/api.py) all read this table. A feature adds its module's ``register`` here."""

from __future__ import annotations

from functools import cache

from . import console_routes, health_routes, openapi, qbo_routes, relay_routes, status_routes
from .router import Router

REGISTRARS = (
    relay_routes.register,
    qbo_routes.register,
    health_routes.register,
    status_routes.register,
    openapi.register,
    console_routes.register,
)


@cache
def app_router() -> Router:
    """The product's router (built once per process)."""
    return Router().include(REGISTRARS)
