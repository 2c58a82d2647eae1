"""What live mode costs per tenant per day, against the same tenant on a 15-minute schedule.

From the live simulation's counts (``bench/live_sim.py``): an idle live cycle (one run and the
interval after it), an idle session of the same tenant not live, and the measured stretch of
changes (its cost above the idle sessions it held, per change). A day is ``86,400 / cycle``
idle live runs, or 96 sessions at 15 minutes, plus ``cost.CHANGES_PER_DAY`` changes at the
measured cost per change (the live figure for both: the 15-minute schedule gathers changes into
fewer hand-offs, so its change cost is a little lower than shown).

Counted: SOAP requests (API Gateway and relay invocations), store calls (each a DynamoDB request:
a read unit for a get, query or batch get, a write unit for a put or update; items are under
1 KB, and a batch call counts one unit, so a lower bound), record-queue sends and deletes (SQS
batches of 10), forwarder runs (each hand-off one run in live mode: its batching window is a
second), ZOHO calls (the capture's COQL before each session and in each closing round, and the
forwarder's). Assumed, as in ``bench/cost.py``: 0.1 s billed per SOAP request, 1.5 s per
forwarder run, and here 0.3 s per capture call to ZOHO (the relay waits for ZOHO); prices are
``bench/cost.py``'s.
"""

from __future__ import annotations

import math

from infra.settings import Settings

from . import cost
from .live_counts import Counts
from .live_sim import LiveRun
from .suite import Result

DAY = 86_400
SCHEDULED_PER_DAY = DAY // (15 * 60)
CAPTURE_CALL_SECONDS = 0.3  # assumed: one COQL round trip to ZOHO, billed on the relay
READS = frozenset(
    {
        *("latest_for", "cursor", "open_ops", "blocked", "paused", "pending_refetch", "count"),
        *("recent", "client_note", "load", "handoff_window", "deployment_owner_id"),
    }
)


def is_read(method: str) -> bool:
    """Whether a store call (``Class.method``) only reads."""
    name = method.rsplit(".", 1)[1]
    return name in READS or name.startswith(("get", "find", "list"))


class Day:
    """One tenant's day of counts: idle sessions plus the day's changes."""

    def __init__(self, idle: Counts, sessions: float, per_change: dict[str, float]) -> None:
        changes = cost.CHANGES_PER_DAY

        def total(key: str, value: float) -> float:
            return sessions * value + changes * per_change[key]

        reads = sum(n for m, n in idle.stores.items() if is_read(m))
        self.sessions = sessions
        self.requests = total("requests", idle.soap.total())
        self.reads = total("reads", reads)
        self.writes = total("writes", idle.stores.total() - reads)
        self.sqs = total("sqs", sqs_requests(idle))
        self.forwarder_runs = total("forwarder_runs", idle.forwarder_runs)
        self.capture_calls = total("capture_calls", idle.capture_calls)
        self.zoho_calls = self.capture_calls + total("zoho_calls", idle.zoho_calls)
        settings = Settings(env="prod")
        self.gb_seconds = (
            self.requests * cost.RELAY_REQUEST_SECONDS * settings.relay_memory_mb / 1024
            + self.capture_calls * CAPTURE_CALL_SECONDS * settings.relay_memory_mb / 1024
            + self.forwarder_runs
            * cost.FORWARDER_INVOCATION_SECONDS
            * settings.forwarder_memory_mb
            / 1024
        )
        self.api = self.requests * cost.API_GATEWAY_REST_REQUEST
        self.lam = (
            self.gb_seconds * cost.LAMBDA_GB_SECOND_ARM
            + (self.requests + self.forwarder_runs) * cost.LAMBDA_REQUEST
        )
        self.ddb = self.writes * cost.DYNAMODB_WRITE_UNIT + self.reads * cost.DYNAMODB_READ_UNIT
        self.sqs_cost = self.sqs * cost.SQS_REQUEST
        self.total = self.api + self.lam + self.ddb + self.sqs_cost


def sqs_requests(counts: Counts) -> float:
    """SendMessageBatch and DeleteMessageBatch per 10 messages, a receive per forwarder run."""
    q = counts.queue
    send = max(q["send"], math.ceil(q["send.messages"] / 10))
    delete = max(q["delete"], math.ceil(q["delete.messages"] / 10))
    return send + delete + counts.forwarder_runs


def per_change(run: LiveRun) -> dict[str, float]:
    """The measured stretch's cost above the idle live sessions it held, per change."""
    m, idle, n = run.counts, run.idle_live, max(1, run.changes)
    s = m.sessions

    def above(measured: float, baseline: float) -> float:
        return max(0.0, (measured - s * baseline) / n)

    reads = sum(v for k, v in m.stores.items() if is_read(k))
    idle_reads = sum(v for k, v in idle.stores.items() if is_read(k))
    return {
        "requests": above(m.soap.total(), idle.soap.total()),
        "reads": above(reads, idle_reads),
        "writes": above(m.stores.total() - reads, idle.stores.total() - idle_reads),
        "sqs": above(sqs_requests(m), sqs_requests(idle)),
        "forwarder_runs": above(m.forwarder_runs, idle.forwarder_runs),
        "capture_calls": above(m.capture_calls, idle.capture_calls),
        "zoho_calls": above(m.zoho_calls, idle.zoho_calls),
    }


def rows(run: LiveRun) -> list[Result]:
    """The ``live.cost.*`` rows: per tenant-day, live against the 15-minute schedule."""
    change = per_change(run)
    live = Day(run.idle_live, DAY / run.idle_live_cycle, change)
    sched = Day(run.idle_scheduled, SCHEDULED_PER_DAY, change)
    basis = (
        f"{live.sessions:,.0f} live runs/day (one every {run.idle_live_cycle:.0f} s: the run's "
        f"NoOp hold and the interval) vs {SCHEDULED_PER_DAY} sessions, "
        f"{cost.CHANGES_PER_DAY} changes/day"
    )

    def pair(a: float, b: float, unit: str = "") -> str:
        return f"{a:,.0f}{unit} live vs {b:,.0f}{unit} at 15 minutes ({a / b:.1f}x)"

    return [
        Result(
            "live.cost.requests",
            live.api,
            f"${live.api:.4f}",
            f"{pair(live.requests, sched.requests)} SOAP requests/day ({basis}) x API Gateway "
            f"REST $3.50/M; 15 minutes: ${sched.api:.4f}",
            None,
            {"live": live.requests, "scheduled": sched.requests},
        ),
        Result(
            "live.cost.lambda",
            live.lam,
            f"${live.lam:.4f}",
            f"{pair(live.gb_seconds, sched.gb_seconds)} GB-s arm64/day "
            f"({cost.RELAY_REQUEST_SECONDS} s a request, "
            f"{CAPTURE_CALL_SECONDS} s a capture call to ZOHO, "
            f"{cost.FORWARDER_INVOCATION_SECONDS} s a forwarder run, assumed; "
            f"{live.forwarder_runs:,.0f} forwarder runs live vs {sched.forwarder_runs:,.0f}); "
            f"15 minutes: ${sched.lam:.4f}",
            None,
            {"live": live.gb_seconds, "scheduled": sched.gb_seconds},
        ),
        Result(
            "live.cost.dynamodb",
            live.ddb,
            f"${live.ddb:.4f}",
            f"{pair(live.reads + live.writes, sched.reads + sched.writes)} store calls/day "
            f"({live.writes:,.0f} W + {live.reads:,.0f} R live; counted, 1 unit each: a lower "
            f"bound); 15 minutes: ${sched.ddb:.4f}",
            None,
            {"live_reads": live.reads, "live_writes": live.writes, "scheduled": sched.reads},
        ),
        Result(
            "live.cost.sqs",
            live.sqs_cost,
            f"${live.sqs_cost:.5f}",
            f"{pair(live.sqs, sched.sqs)} SQS requests/day (batches of 10, a receive per "
            f"forwarder run); 15 minutes: ${sched.sqs_cost:.5f}",
            None,
            {"live": live.sqs, "scheduled": sched.sqs},
        ),
        Result(
            "live.cost.total",
            live.total,
            f"${live.total:.3f}",
            f"AWS per tenant-day live (${live.total * 30:.2f} a month) vs ${sched.total:.3f} at "
            f"15 minutes; ZOHO API calls/day {pair(live.zoho_calls, sched.zoho_calls)} (the "
            f"capture's COQL: {live.capture_calls:,.0f} live, a credit each)",
            None,
            {"live": live.total, "scheduled": sched.total, "zoho_calls": live.zoho_calls},
        ),
    ]
