"""``qbrelay demo``: sync a simulated QuickBooks company end to end."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ..demo import DemoCompany

if TYPE_CHECKING:
    from ..demo_qbo import QboDemoResult
    from ..demo_writeback import WritebackResult
from .common import add_progress_arg, data_dir

# Record counts of the simulated company, one flag each (--sales-orders for sales_orders).
COUNTS = (
    "customers",
    "items",
    "invoices",
    "sales_orders",
    "estimates",
    "sales_receipts",
    "payments",
    "credit_memos",
)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo
    from ..demo_zoho import DemoTargetError
    from ..progress import Progress

    counts = {name: getattr(args, name) for name in COUNTS}
    for name, value in counts.items():
        if value < 0:
            raise SystemExit(f"error: --{name.replace('_', '-')} must be 0 or more")
    company = DemoCompany(seed=args.seed, **counts)
    directory = data_dir(args.data_dir, default="qbrelay-demo")
    try:
        result = run_demo(
            directory,
            company,
            zoho_accounts_url=args.zoho_accounts_url,
            progress=Progress.for_command(args.no_progress, json_output=args.json),
            reject=args.reject,
            # With --qbo the accounts and deals are written to the Online company instead.
            writeback=0 if args.qbo else args.writeback,
        )
        qbo = run_qbo_leg(args, directory) if args.qbo else None
    except (DemoTargetError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    if args.json:
        extra = qbo.to_json() if qbo is not None else {}
        print(json.dumps({**result.to_json(), **extra}, sort_keys=True))
        return 0 if result.session.last_error is None else 1
    s = result.session
    held = ", ".join(f"{n:,} {name.replace('_', ' ')}" for name, n in counts.items() if n)
    print(f"Simulated QuickBooks company: {held or 'no records'} (seed {args.seed})")
    print(
        f"Web Connector session: authenticate -> {s.auth_status or 'company file open'!r}, "
        f"{s.exchanges} qbXML exchanges, progress {s.percents[:3]}...{s.percents[-1:]}"
    )
    print(f"Relay summary: {s.close_message}")
    if s.last_error:
        print(f"Last error: {s.last_error}")
    print(
        f"Records received: {result.records_received:,}; queued for the CRM: "
        f"{result.records_queued:,} (queue now holds {result.queue_depth:,}) in "
        f"{result.seconds:.2f} s"
    )
    if result.zoho is not None:
        z, d = result.zoho, result.zoho.drain
        print(
            f"ZOHO CRM ({z.target}): {z.records:,} QuickBooks records there "
            f"{z.modules or ''}; {d.outcomes['applied']:,} applied, {d.outcomes['unchanged']:,} "
            f"unchanged, {d.outcomes['parked']:,} parked; {d.calls:,} API + "
            f"{d.token_calls} token call(s)"
            + (f"; duplicates: {z.duplicates}" if z.duplicates is not None else "")
        )
        if z.audit is not None:
            a = z.audit
            print(
                f"Audit: {a.counts['missing']} missing, {a.counts['stale']} stale, "
                f"{a.counts['deleted_active']} deleted but active, {a.counts['unknown']} unknown "
                f"in ZOHO ({a.coql_calls} COQL call(s), {a.credits} credit(s))"
            )
        print_parked(args, directory, z.refused, d.outcomes["parked"])
    if result.writeback is not None:
        print_writeback(result.writeback, "the simulated company")
    if qbo is not None:
        print_qbo(qbo)
    print(f"Store: {directory / 'relay.sqlite3'}")
    for record in result.sample:
        source_id = record.get("list_id") or record.get("txn_id")
        label = record.get("full_name") or record.get("ref_number") or ""
        print(f"  e.g. {record.get('entity')} {source_id}: {label!r}")
    return 0 if s.last_error is None else 1


def print_parked(
    args: argparse.Namespace, directory: Any, refused: int | None, parked: int
) -> None:
    """What ``--reject`` did, and how to see and re-drive what was parked."""
    from ..demo_zoho import REJECT_CODE, REJECT_FIELD

    if args.reject:
        print(
            f"--reject {args.reject}: the fake ZOHO refused {refused or 0} estimate(s) with "
            f"{REJECT_CODE} ({REJECT_FIELD} made mandatory in Quotes)"
            + (
                " (this run sent it fewer: a data dir that has synced sends only changes)"
                if (refused or 0) < args.reject
                else ""
            )
        )
    if parked:
        flags = f"--data-dir {directory}"
        print(
            f"Parked: qbrelay failures list {flags}; re-drive them with qbrelay failures "
            f"redrive {flags}, then run qbrelay demo {flags} again to deliver them"
        )


def print_writeback(w: WritebackResult, where: str) -> None:
    """What ``--writeback`` did."""
    print(
        f"Write-back: {w.seeded} new ZOHO account(s) seeded; {w.captured} change(s) captured "
        f"-> {w.added} customer(s) added to {where} ({w.linked} linked by name), "
        f"{w.invoices} invoice(s) for won deals, {w.failed} failed; the next capture found "
        f"{w.echo_ops} change(s) to write (the relay's own writes are not sent back)"
    )


def run_qbo_leg(args: argparse.Namespace, directory: Any) -> QboDemoResult:
    """``--qbo``: the QuickBooks Online flow after the Desktop session (same fake ZOHO)."""
    from ..demo_qbo import run_qbo_demo
    from ..progress import Progress

    if args.zoho_accounts_url:
        raise ValueError("--qbo forwards to the built-in fake ZOHO only")
    return run_qbo_demo(
        directory,
        Progress.for_command(args.no_progress, json_output=args.json),
        writeback=args.writeback,
    )


def print_qbo(q: QboDemoResult) -> None:
    """The QuickBooks Online leg's lines."""
    print(
        f"QuickBooks Online company {q.realm} (fake Intuit): connected through /qbo/connect -> "
        f"consent -> /qbo/callback; first load {q.loaded:,} records"
    )
    print(
        f"Webhooks: {q.webhooks} signed deliveries accepted ({q.refused_webhooks} mis-signed "
        f"refused with 401) -> {q.webhook_records} records; CDC catch-up returned "
        f"{q.cdc_records} objects and queued {q.cdc_queued} (what no webhook announced); "
        f"{q.api_calls} Accounting API calls"
    )
    if q.writeback is not None:
        print_writeback(q.writeback, "the QuickBooks Online company")
    if q.zoho is not None:
        d = q.zoho.drain
        print(
            f"ZOHO CRM ({q.zoho.target}): {q.records:,} QuickBooks Online records there beside "
            f"the Desktop ones; {d.outcomes['applied']:,} applied, "
            f"{d.outcomes['parked']:,} parked"
        )
        if q.zoho.audit is not None:
            a = q.zoho.audit.counts
            print(
                f"Audit: {a['missing']} missing, {a['stale']} stale, {a['unknown']} unknown in ZOHO"
            )


def register(sub: Any) -> None:
    """Add ``demo``."""
    demo = sub.add_parser("demo", help="sync a simulated QuickBooks company end to end")
    defaults = DemoCompany()
    for name in COUNTS:
        demo.add_argument(
            f"--{name.replace('_', '-')}",
            type=int,
            default=getattr(defaults, name),
            help=f"{name.replace('_', ' ')} in the simulated company (default %(default)s)",
        )
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument(
        "--reject",
        type=int,
        default=0,
        metavar="N",
        help="the fake ZOHO refuses the first N estimates it is sent (MANDATORY_NOT_FOUND, as "
        "an organisation whose administrator made the Quotes Due_Date field mandatory), so "
        "they are parked (default 0)",
    )
    demo.add_argument(
        "--writeback",
        type=int,
        default=0,
        metavar="N",
        help="seed N new accounts and N/5 won deals in the fake ZOHO and write them back: "
        "customers and invoices in the simulated company (with --qbo: in the QuickBooks "
        "Online company); a second run writes nothing twice (default 0)",
    )
    demo.add_argument("--data-dir")
    demo.add_argument("--json", action="store_true", help="print one JSON object")
    add_progress_arg(demo)
    demo.add_argument(
        "--zoho-accounts-url",
        help="forward through the real ZOHO client to this ZOHO-compatible accounts server "
        "(credentials from ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET, ZOHO_REFRESH_TOKEN; https, or "
        "http on loopback) instead of the built-in fake ZOHO",
    )
    demo.add_argument(
        "--qbo",
        action="store_true",
        help="then connect a fake QuickBooks Online company (OAuth, webhooks, CDC) and forward "
        "its records to the same fake ZOHO",
    )
    demo.set_defaults(func=cmd_demo)
