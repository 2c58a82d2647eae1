"""``qbrelay audit``: compare what ZOHO holds with what the mapping store says was delivered.

Exit code 0 only when there is no drift; ``--repair`` asks the next Web Connector session to
read missing and stale records again and applies deletions again. The COQL credits the audit
spent are printed (ZOHO meters them daily).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from ...events import NoEvents
from ...ops.actions import ActionError, audit
from ...zoho.audit import KINDS
from .. import targets
from ..progress import Progress, audit_view
from ..targets import add_target_args, explain_aws_errors
from ..tenant_stores import open_tenant_data
from .common import add_progress_arg, data_dir

LABELS = {
    "missing": "in QuickBooks but missing in ZOHO",
    "stale": "ZOHO holds older content than QuickBooks",
    "deleted_active": "deleted in QuickBooks but still active in ZOHO",
    "unknown": "ZOHO records with QuickBooks ids the relay does not know",
}


def _events(args: argparse.Namespace) -> Any:
    """Where a drift the audit finds is announced: with ``--aws``, the bus QBRELAY_EVENT_BUS
    names (the scheduled audit function announces drift there anyway); locally the data dir's
    outbox, which ``qbrelay serve``'s webhook worker delivers."""
    if args.aws:
        bus = os.environ.get("QBRELAY_EVENT_BUS")
        if not bus:
            return NoEvents()
        from ...events.eventbridge import EventBridgePublisher

        return EventBridgePublisher(targets.aws_client("events", args.region), bus)
    from ...store.sqlite import SqliteDatabase
    from ...store.sqlite.outbox import SqliteOutbox

    return SqliteOutbox(SqliteDatabase.in_dir(data_dir(args.data_dir)))


def run_audit(args: argparse.Namespace) -> dict[str, Any]:
    """Audit ``args.tenant`` on the store the flags name; its summary is kept for status."""
    progress = Progress.for_command(args.no_progress, json_output=args.json)
    try:
        with progress.task(f"Audit of {args.tenant}", unit="modules") as task:
            data = open_tenant_data(args)
            return audit(
                data,
                args.tenant,
                time.time,
                repair=args.repair,
                progress=audit_view(task),
                events=_events(args),
            )
    except ActionError as exc:
        raise SystemExit(f"error: {exc}") from exc


@explain_aws_errors
def cmd_audit(args: argparse.Namespace) -> int:
    report = run_audit(args)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        print(
            f"Audit of tenant {args.tenant!r}: {report['zoho_records']:,} ZOHO record(s) against "
            f"{report['mappings']:,} mapping(s); {report['coql_calls']} COQL call(s), "
            f"{report['credits']} API credit(s)."
        )
        for kind in KINDS:
            print(f"  {LABELS[kind]}: {report['audit_' + kind]:,}")
            for ex in report["examples"].get(kind, [])[:5]:
                print(f"    {ex['entity']} {ex['source_id']}")
        if report["in_flight"]:
            print(f"  on their way (not judged yet): {report['in_flight']:,}")
        if report["repaired"]:
            done = ", ".join(f"{k} {v}" for k, v in sorted(report["repaired"].items()))
            print(f"Repair: {done} (re-reads happen in the next Web Connector session).")
        elif report["drift"]:
            print("Run again with --repair to re-queue what is missing or stale.")
        else:
            print("No drift: ZOHO holds what QuickBooks has.")
    return 0 if report["drift"] == 0 else 1


def register(sub: Any) -> None:
    """Add ``audit``."""
    p = sub.add_parser("audit", help="compare ZOHO with what was delivered (exit 1 on drift)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--repair", action="store_true", help="re-queue what is missing or stale")
    p.add_argument("--json", action="store_true")
    add_progress_arg(p)
    add_target_args(p)
    p.set_defaults(func=cmd_audit)
