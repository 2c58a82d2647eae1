"""``qbrelay tenant set`` options of live mode and business hours (lambdas/qbwc/live.py,
lambdas/sync/hours.py), checked before anything is stored."""

from __future__ import annotations

import argparse
from typing import Any

from ...qbwc.live import MAX_INTERVAL_SECONDS, MIN_INTERVAL_SECONDS
from ...store.ports import Tenant
from ...sync.gate import MAX_SWEEP_SECONDS, MIN_SWEEP_SECONDS
from ...sync.hours import BusinessHours, HoursError


def add_live_args(parser: Any) -> None:
    """Add --live, --live-interval, --live-sweep and --business-hours."""
    parser.add_argument(
        "--live",
        choices=("on", "off"),
        help="near-real-time: the .qwc runs every --live-interval seconds (re-issue it)",
    )
    parser.add_argument(
        "--live-interval",
        type=int,
        metavar="SECONDS",
        help=f"live mode's Web Connector interval ({MIN_INTERVAL_SECONDS}-"
        f"{MAX_INTERVAL_SECONDS}; default 60)",
    )
    parser.add_argument(
        "--live-sweep",
        type=int,
        metavar="SECONDS",
        help=f"how often live probes sweep: the watermark margin and deletions ({MIN_SWEEP_SECONDS}"
        f"-{MAX_SWEEP_SECONDS}; default 900); between sweeps only newer changes are asked for",
    )
    parser.add_argument(
        "--business-hours",
        help="when people work in the file, in the tenant's time zone, e.g. 'Mon-Fri "
        "08:00-18:00': smaller pages and no full reads then ('' = none)",
    )


def live_changes(args: argparse.Namespace) -> bool:
    """True when any live-mode option was given."""
    values = (args.live, args.live_interval, args.live_sweep, args.business_hours)
    return any(v is not None for v in values)


def check_live_args(args: argparse.Namespace) -> None:
    """SystemExit with the reason for a value the relay would not accept."""
    interval = args.live_interval
    if interval is not None and not MIN_INTERVAL_SECONDS <= interval <= MAX_INTERVAL_SECONDS:
        raise SystemExit(
            f"error: --live-interval must be between {MIN_INTERVAL_SECONDS} and "
            f"{MAX_INTERVAL_SECONDS} seconds, not {interval}"
        )
    sweep = args.live_sweep
    if sweep is not None and not MIN_SWEEP_SECONDS <= sweep <= MAX_SWEEP_SECONDS:
        raise SystemExit(
            f"error: --live-sweep must be between {MIN_SWEEP_SECONDS} and {MAX_SWEEP_SECONDS} "
            f"seconds, not {sweep}"
        )
    if args.business_hours:
        try:
            BusinessHours.parse(args.business_hours)
        except HoursError as exc:
            raise SystemExit(f"error: {exc}") from None


def apply_live_args(args: argparse.Namespace, tenant: Tenant) -> None:
    """Set the checked live-mode options on ``tenant``."""
    if args.live is not None:
        tenant.live = args.live == "on"
    if args.live_interval is not None:
        tenant.live_interval_seconds = args.live_interval
    if args.live_sweep is not None:
        tenant.live_sweep_seconds = args.live_sweep
    if args.business_hours is not None:
        tenant.business_hours = args.business_hours.strip()


def live_summary(t: Tenant) -> str:
    """The live-mode part of a tenant's one-line description."""
    live = (
        f"live={t.live_interval_seconds}s sweep={t.live_sweep_seconds}s" if t.live else "live=off"
    )
    return f"{live} business_hours={t.business_hours or '-'}"
