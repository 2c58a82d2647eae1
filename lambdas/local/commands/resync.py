"""``qbrelay resync --tenant NAME [--entity E ...]``: the next session reads entities whole.

Resetting an entity's watermark makes the next Web Connector session query it without
``FromModifiedDate``. That costs QuickBooks and the relay a full read, but not ZOHO: change
detection (the mappings' applied hashes) still holds back every record ZOHO already has.
Page sizes and size estimates are kept, so the full read starts with well-sized pages.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from ...model.entities import plural
from ..targets import add_target_args, explain_aws_errors
from ..tenant_stores import open_tenant_data
from .tenant import parse_entities


def _fail(message: str) -> SystemExit:
    return SystemExit(f"error: {message}")


def _entities(values: list[str] | None, enabled: tuple[str, ...]) -> tuple[str, ...]:
    if not values:
        return enabled
    # Each value may itself be a comma-separated list; unknown names are an error.
    return tuple(dict.fromkeys(e for v in values for e in parse_entities(v)))


@explain_aws_errors
def cmd_resync(args: argparse.Namespace) -> int:
    """Reset the watermarks of the tenant's entities (default: every enabled one)."""
    requested = _entities(args.entity, ())  # checked before any store is opened
    data = open_tenant_data(args)
    tenant = data.tenants.get(args.tenant)
    if tenant is None:
        raise _fail(f"no tenant named {args.tenant!r} (see qbrelay tenant list)")
    entities = requested or tenant.enabled_entities
    if not entities:
        raise _fail(f"tenant {tenant.name!r} has no entity enabled; nothing to re-read")
    until = data.sessions.lock_until(tenant.name, time.time())
    if until is not None:
        # The running session would write back the watermarks it started from.
        stamp = time.strftime("%H:%M:%S UTC", time.gmtime(until))
        raise _fail(
            f"tenant {tenant.name!r} has a Web Connector session running (until {stamp}); "
            "run resync once it has ended"
        )
    data.state.reset(tenant.name, entities)
    read = [e for e in entities if e in tenant.enabled_entities]
    idle = [e for e in entities if e not in tenant.enabled_entities]
    print(f"Tenant {tenant.name!r}: watermarks reset for {', '.join(entities)}.")
    print(
        f"The next Web Connector session re-reads {len(read)} "
        f"{'entity' if len(read) == 1 else 'entities'} whole; unchanged records are not sent "
        "to ZOHO again."
    )
    if idle:
        names = ", ".join(plural(e) for e in idle)
        print(f"Not enabled, so read whole once enabled (qbrelay tenant set): {names}.")
    return 0


def register(sub: Any) -> None:
    """Add ``resync``."""
    resync = sub.add_parser(
        "resync", help="make the next session re-read a tenant's entities whole"
    )
    resync.add_argument("--tenant", required=True, help="the tenant's name")
    resync.add_argument(
        "--entity",
        action="append",
        help="an entity to re-read (repeatable or comma-separated; default: every enabled one)",
    )
    add_target_args(resync)
    resync.set_defaults(func=cmd_resync)
