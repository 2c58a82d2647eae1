"""``qbrelay resync --tenant NAME [--entity E ...]``: the next session reads entities whole.

Resetting an entity's watermark makes the next Web Connector session query it without
``FromModifiedDate``. That costs QuickBooks and the relay a full read, but not ZOHO: change
detection (the mappings' applied hashes) still holds back every record ZOHO already has.
Page sizes and size estimates are kept, so the full read starts with well-sized pages.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ...model.entities import plural
from ...ops.actions import ActionError, resync
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
    try:
        result = resync(open_tenant_data(args), args.tenant, requested, time.time())
    except ActionError as exc:
        raise _fail(str(exc)) from exc
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    read, idle = result["read_next_session"], result["not_enabled"]
    print(f"Tenant {result['tenant']!r}: watermarks reset for {', '.join(result['reset'])}.")
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
    parser = sub.add_parser(
        "resync", help="make the next session re-read a tenant's entities whole"
    )
    parser.add_argument("--tenant", required=True, help="the tenant's name")
    parser.add_argument(
        "--entity",
        action="append",
        help="an entity to re-read (repeatable or comma-separated; default: every enabled one)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add_target_args(parser)
    parser.set_defaults(func=cmd_resync)
