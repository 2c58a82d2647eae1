"""``qbrelay pause|resume --tenant NAME``: stop and restart a tenant's syncing, losing nothing.

While paused, the Web Connector's ``authenticate`` is answered "none" (nothing to do: it shows
"No data exchange required" and tries again at its next scheduled run) and the QuickBooks
Online sync skips the tenant. Records already queued still reach ZOHO; the watermarks stay,
so the first session after ``resume`` reads every change made meanwhile.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ...ops.actions import ActionError, pause, resume
from ..targets import add_target_args, explain_aws_errors, open_tenants


@explain_aws_errors
def cmd_pause(args: argparse.Namespace) -> int:
    try:
        result = pause(open_tenants(args), args.tenant, args.reason or "", time.time())
    except ActionError as exc:
        raise SystemExit(f"error: {exc}") from exc
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(
        f"Tenant {result['tenant']!r} paused: its Web Connector is told there is nothing to do. "
        "Records already queued still reach ZOHO; nothing is lost."
    )
    print(f"Resume with: qbrelay resume --tenant {result['tenant']}")
    return 0


@explain_aws_errors
def cmd_resume(args: argparse.Namespace) -> int:
    try:
        result = resume(open_tenants(args), args.tenant)
    except ActionError as exc:
        raise SystemExit(f"error: {exc}") from exc
    if args.json:
        print(json.dumps(result, sort_keys=True))
        return 0
    print(
        f"Tenant {result['tenant']!r} resumed: its next Web Connector run reads every change "
        "made while it was paused."
    )
    return 0


def register(sub: Any) -> None:
    """Add ``pause`` and ``resume``."""
    p = sub.add_parser("pause", help="stop a tenant's syncing (nothing queued is lost)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--reason", help="shown in qbrelay status (e.g. 'year-end close')")
    p.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add_target_args(p)
    p.set_defaults(func=cmd_pause)
    r = sub.add_parser("resume", help="restart a paused tenant's syncing")
    r.add_argument("--tenant", required=True)
    r.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add_target_args(r)
    r.set_defaults(func=cmd_resume)
