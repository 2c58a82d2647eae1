"""Live mode's latency: change to landing on the other side, both ways, in virtual time.

A live tenant (interval 60 s, write-back on, the default entity set) runs on the live schedule
(``bench/live_sim.py``: the fake Web Connector against the relay on loopback, the fake company,
the fake ZOHO with the real client, capture and forwarder). Changes come at random (seeded)
virtual moments, ``live_changes`` a side at 2 a minute a side: a QuickBooks customer's phone
edited (``FakeCompany.modify``), landed when the ZOHO account carries it; a ZOHO account's phone
edited (``FakeZoho.edit``), landed when the QuickBooks customer carries it. Latency = virtual
landing time - virtual change time. Targets (issue 18): p95 <= 60 s each way; an idle cycle
(what the relay asks QuickBooks each interval, and the answer) under 2 KB of qbXML.
"""

from __future__ import annotations

import math

from .live_cost import rows as cost_rows
from .live_sim import INTERVAL, QB, ZOHO, LiveRun, simulate
from .suite import Result, Sizes

TARGET_SECONDS = 60.0
IDLE_TARGET_BYTES = 2048
# One idle probe round of the default entity set before the deletion queries named only the
# synced entities' types (measured on this rig: 3,147 bytes sent, 2,608 received).
IDLE_BYTES_BEFORE = 5_755


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile ``p`` (0-100) of ``values``."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _latency(run: LiveRun, side: str, key: str, what: str) -> Result:
    values = run.latencies[side]
    lost = run.lost[side]
    if not values:
        return Result(key, float("nan"), "none", f"no {what} change landed ({lost} lost)", False)
    p50, p95, worst = (percentile(values, p) for p in (50, 95, 100))
    return Result(
        key,
        p95,
        f"{p95:.1f} s",
        f"{what}: p50 {p50:.1f} s, p95 {p95:.1f} s, max {worst:.1f} s over {len(values)} changes"
        f"{f' ({lost} never landed)' if lost else ''}; interval {INTERVAL} s, "
        f"{run.virtual_seconds / 60:.0f} virtual minutes in {run.real_seconds:.0f} s",
        p95 <= TARGET_SECONDS and lost == 0,
        {"p50": p50, "p95": p95, "max": worst, "changes": len(values), "lost": lost},
    )


def run(sizes: Sizes) -> list[Result]:
    """The live rows: latency each way, the idle cycle's bytes, and live mode's daily cost."""
    result = simulate(sizes.live_changes)
    rounds = [len(q.encode()) + len(a.encode()) for q, a in result.idle_exchanges]
    cycle = max(rounds)
    sent = sum(len(q.encode()) for q, _ in result.idle_exchanges)
    got = sum(len(a.encode()) for _, a in result.idle_exchanges)
    return [
        _latency(result, QB, "live.qb_to_zoho.p95", "QuickBooks edit to ZOHO"),
        _latency(result, ZOHO, "live.zoho_to_qb.p95", "ZOHO edit to QuickBooks"),
        Result(
            "live.idle_bytes",
            cycle,
            f"{cycle:,} B",
            f"one idle probe round of the default entity set (8 entities), both ways; an idle "
            f"run asks {len(rounds)} (opening and closing round): {sent:,} B sent, {got:,} B "
            f"received; {IDLE_BYTES_BEFORE:,} B before the deletion queries named only the "
            f"synced types",
            cycle < IDLE_TARGET_BYTES,
            {"round": cycle, "rounds": len(rounds), "sent": sent, "received": got},
        ),
        *cost_rows(result),
    ]
