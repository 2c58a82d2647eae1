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
from .live_sim import INTERVAL, QB, SWEEP, ZOHO, LiveRun, simulate
from .suite import Result, Sizes

TARGET_SECONDS = 60.0
IDLE_TARGET_BYTES = 2048
# One idle probe round of the default entity set when every round swept (margin, deletions;
# measured on this rig: 3,042 bytes sent, 2,608 received).
IDLE_BYTES_BEFORE = 5_650


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


def idle_rounds(exchanges: list[tuple[str, str]]) -> list[tuple[int, bool]]:
    """Each probe round's qbXML bytes both ways, and whether it swept (asked for deletions)."""
    return [
        (len(q.encode()) + len(a.encode()), "<TxnDeletedQueryRq " in q)
        for q, a in exchanges
        if "<IncludeRetElement>" in q
    ]


def run(sizes: Sizes) -> list[Result]:
    """The live rows: latency each way, the idle cycle's bytes, and live mode's daily cost."""
    result = simulate(sizes.live_changes)
    rounds = idle_rounds(result.idle_exchanges)
    narrow = [n for n, sweep in rounds if not sweep]
    sweeps = [n for n, sweep in rounds if sweep]
    cycle = max(narrow, default=0)
    mean = sum(n for n, _ in rounds) / max(1, len(rounds))
    return [
        _latency(result, QB, "live.qb_to_zoho.p95", "QuickBooks edit to ZOHO"),
        _latency(result, ZOHO, "live.zoho_to_qb.p95", "ZOHO edit to QuickBooks"),
        Result(
            "live.idle_bytes",
            cycle,
            f"{cycle:,} B",
            f"an idle probe round of the default entity set (8 entities) between sweeps, both "
            f"ways: the lists' probes from just after their watermarks and one TransactionQuery "
            f"for the 4 transaction types (sync/gate.py); {IDLE_BYTES_BEFORE:,} B when every "
            f"round swept",
            bool(narrow) and cycle < IDLE_TARGET_BYTES,
            {"round": cycle, "rounds": len(narrow)},
        ),
        Result(
            "live.idle_bytes.sweep",
            max(sweeps, default=0),
            f"{max(sweeps, default=0):,} B",
            f"the sweep round, once per {SWEEP // 60} minutes (the ordinary schedule): every "
            f"probe from its watermark less the 2-hour margin, and the deletion queries",
            None,
            {"rounds": len(sweeps)},
        ),
        Result(
            "live.idle_bytes.mean",
            mean,
            f"{mean:,.0f} B",
            f"per probe round over one sweep period ({len(rounds)} rounds: {len(sweeps)} sweep, "
            f"{len(narrow)} narrow; two rounds a run, a run every {result.idle_live_cycle:.0f} s)",
            None,
            {"rounds": len(rounds)},
        ),
        *cost_rows(result),
    ]
