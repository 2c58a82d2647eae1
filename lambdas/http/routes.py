"""Every route of the product, declared once: the Lambda handler, the local server and the CDK
app (infra/api.py) all read this table. A feature adds its module's name to ``REGISTRARS``.

The route modules (and the cores behind their handlers: the status and action cores, QBO
OAuth, the console) are imported when the router is first built, at the first request, not
when a handler module is imported: see the cold-start rows of ``make bench``.
"""

from __future__ import annotations

import importlib
from functools import cache

from .router import Router

# Modules of this package whose ``register(router)`` adds their routes, in this order.
REGISTRARS = (
    "relay_routes",
    "qbo_routes",
    "health_routes",
    "status_routes",
    "openapi",
    "console_routes",
)


@cache
def app_router() -> Router:
    """The product's router (built once per process)."""
    return Router().include(
        importlib.import_module(f".{name}", __package__).register for name in REGISTRARS
    )
