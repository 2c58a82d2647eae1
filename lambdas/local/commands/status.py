"""``qbrelay status [--tenant NAME] [--json]``: what every tenant's sync did and what needs doing.

A compact table for people (one line per tenant; with ``--tenant`` the last session's
per-entity counts, its error and what to do, and the parked records too); ``--json`` prints
:func:`lambdas.ops.status.overview` (with ``--tenant``, also ``runs`` and ``parked``), the same
shape the status API answers.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ...ops.status import UnknownTenant, overview, parked_failures, run_history
from ..targets import add_target_args, explain_aws_errors
from ..tenant_stores import open_tenant_data

PARKED_SHOWN = 10


def when(at: float | None) -> str:
    """A time for a terminal: ``YYYY-MM-DD HH:MM`` UTC, or ``never``."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(at)) if at else "never"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _count(value: int | None, complete: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:,}" + ("" if complete else "+")


def _summary_rows(tenants: list[dict[str, Any]]) -> list[str]:
    rows = [["TENANT", "HEALTH", "LAST SEEN", "LAST COMPLETED", "IN FLIGHT", "PARKED", "DRIFT"]]
    for t in tenants:
        c = t["counts"]
        rows.append(
            [
                t["tenant"],
                t["health"],
                when(t["last_seen_at"]),
                when(t["last_completed_at"]),
                _count(c["in_flight"], c["in_flight_complete"]),
                _count(c["parked"], c["parked_complete"]),
                _count(c["drift"]),
            ]
        )
    return _table(rows)


def _details(t: dict[str, Any], parked: list[dict[str, Any]]) -> None:
    if t["paused"]:
        print(f"Paused since {when(t['paused_at'])}: {t['paused_reason'] or 'no reason given'}")
        print(f"  Resume with: qbrelay resume --tenant {t['tenant']}")
    if t["forwarding_paused"]:
        f = t["forwarding_paused"]
        print(f"Forwarding to ZOHO paused until {when(f['until'])}: {f['reason']}")
        if f["error"]:
            print(f"  {f['error']['code']}: {f['error']['user_message']}")
    if t["session_running_until"]:
        print(
            f"A Web Connector session is running (lease until {when(t['session_running_until'])})."
        )
    run = t["last_run"]
    if run is None:
        print("No Web Connector session recorded yet.")
    else:
        print(f"Last session {when(run['started_at'])}, {run['status']}: {run['summary']}")
        rows = [["ENTITY", "RECEIVED", "QUEUED", "UNCHANGED", "FAILED"]]
        for name, c in run["entities"].items():
            rows.append(
                [
                    name,
                    f"{c['received']:,}",
                    f"{c['queued']:,}",
                    f"{c['unchanged']:,}",
                    "yes" if c["errors"] else "",
                ]
            )
        if len(rows) > 1:
            print("\n".join("  " + line for line in _table(rows)))
        if run["error"]:
            e = run["error"]
            print(f"  Error {e['code']}: {e['message']}")
            print(f"  What to do: {e['user_message']} ({e['docs']})")
    wb = t["writeback"]
    if wb["enabled"] or wb["counts"]:
        counts = ", ".join(f"{s} {n:,}" for s, n in wb["counts"].items() if n) or "none"
        print(
            f"Write-back {'on' if wb['enabled'] else 'off'} (policy {wb['policy']}): "
            f"operations {counts}"
        )
        for c in wb["recent_conflicts"]:
            kept = ", ".join(f"{f['field']} kept {f['kept']}" for f in c["fields"])
            print(f"  Conflict {c['zoho_module']}/{c['zoho_id']} ({c['op_id']}): {kept}")
    audit = t["last_audit"]
    if audit is not None:
        print(f"Last audit {when(audit['at'])}: drift {audit['drift']:,}")
    if parked:
        print(f"Parked records ({len(parked)} shown):")
        for m in parked[:PARKED_SHOWN]:
            e = m["error"] or {}
            print(f"  {m['entity']} {m['source_id']}: [{e.get('code', '')}] {e.get('message', '')}")
        print(f"  Fix the cause, then: qbrelay failures redrive --tenant {t['tenant']}")


@explain_aws_errors
def cmd_status(args: argparse.Namespace) -> int:
    data = open_tenant_data(args)
    now = time.time()
    try:
        report = overview(data, now, args.tenant)
        if args.tenant:
            report["runs"] = run_history(data, args.tenant, args.runs)["runs"]
            report["parked"] = parked_failures(data, args.tenant, limit=100)["parked"]
    except UnknownTenant as exc:
        raise SystemExit(f"error: {exc} (see qbrelay tenant list)") from exc
    if args.json:
        print(json.dumps(report, sort_keys=True))
        return 0
    if not report["tenants"]:
        print("No tenants yet: add one with qbrelay tenant add NAME.")
        return 0
    print("\n".join(_summary_rows(report["tenants"])))
    if args.tenant:
        print()
        _details(report["tenants"][0], report["parked"])
    return 0


def register(sub: Any) -> None:
    """Add ``status``."""
    p = sub.add_parser("status", help="every tenant's last sessions, counts, drift and errors")
    p.add_argument("--tenant", help="one tenant, with its last session and parked records")
    p.add_argument("--runs", type=int, default=10, help="runs of --tenant in --json (default 10)")
    p.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add_target_args(p)
    p.set_defaults(func=cmd_status)
