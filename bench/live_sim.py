"""A live tenant in virtual time: the fake Web Connector on the live schedule against the relay
(served on 127.0.0.1), the fake QuickBooks company, and the fake ZOHO CRM on loopback with the
real ZOHO client, change capture and forwarder.

The virtual clock is real time plus the waits it skipped: the Web Connector's interval between
runs and its 5-second NoOp pauses cost no real time, and everything that runs (the relay, the
company, the fakes, the forwarder, the capture) adds its real processing time. Every clock of the
rig reads it: the relay's, the sync engine's and hand-off's, the write-back's, the capture's, the
forwarder's, the ZOHO token provider's, the fake ZOHO's (``Modified_Time``) and the company's
(``TimeModified``, set before each request it answers and each edit).

The schedule, as the Web Connector runs it (assumed: ``RunEveryNSeconds`` counts from the end of
a run, as QBWC's scheduler waits for a run to finish before it counts again): a run, the
interval, the next run. Inside a run, after a ``NoOp`` the Web Connector waits 5 seconds. The
forwarder runs right after each hand-off (live mode's batching window, ``WINDOW``, is added to
its landing time: on AWS the queue trigger gathers that long before it invokes the forwarder).
The capture runs where the relay runs it (before each session's plan and in a held session's
closing round); the scheduled capture (every ``writeback_capture_minutes``, default 5) is left
out, so ZOHO-to-QuickBooks figures are what the live schedule alone gives.

Every store call (the SQLite stores' public methods, outermost calls only) and record-queue call
is counted (``bench/live_counts.py``), for the cost of live mode (``bench/live_cost.py``).
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from lambdas.local.forwarder import build_local_forwarder, drain
from lambdas.local.server import RelayServer
from lambdas.local.wiring import LocalRelay, build_local
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from lambdas.model.entities import DEFAULT_ENTITIES
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.store.files import FileTokenCache
from lambdas.store.ports import DEFAULT_LIVE_SWEEP_SECONDS, Tenant
from lambdas.sync.engine import SyncSettings
from lambdas.zoho.auth import TokenProvider, ZohoCredentials
from lambdas.zoho.client import ZohoClient
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector, SessionResult
from sim.fake_zoho import FakeZoho, FakeZohoServer

from .live_counts import Counts, counted_stores

TENANT, USER = "live", "live-qbwc"
PASSWORD = "bench-live-password-7c1e"  # a local fake's password, not a secret
CLIENT_ID, SECRET, REFRESH = "1000.LIVEBENCH", "bench-secret-value", "1000.bench-refresh-value"
INTERVAL = 60  # the tenant's live interval (RunEveryNSeconds)
SWEEP = DEFAULT_LIVE_SWEEP_SECONDS  # the tenant's sweep interval (sync/gate.py)
NOOP_SECONDS = 5  # the Web Connector's pause after a NoOp
WINDOW = 1.0  # the forwarder's batching window in live mode (at most 1 s)
QB, ZOHO = "qb_to_zoho", "zoho_to_qb"


class VirtualClock:
    """Real time since the start plus the waits skipped; only moves forward."""

    def __init__(self, start: float) -> None:
        self._base = start
        self._real = time.perf_counter()

    def __call__(self) -> float:
        return self._base + time.perf_counter() - self._real

    def set(self, when: float) -> None:
        """Jump to ``when`` (no earlier than now)."""
        self._base += max(0.0, when - self())


@dataclass(slots=True)
class Change:
    """One edit: which side, which record, the value it set, when, and when it landed."""

    side: str
    at: float
    key: str = ""  # the QuickBooks ListID of the customer
    value: str = ""
    made: float | None = None
    landed: float | None = None

    @property
    def latency(self) -> float | None:
        return None if self.landed is None or self.made is None else self.landed - self.made


class LiveRig:
    """The relay, the company, the fake ZOHO and the forwarder on one virtual clock."""

    def __init__(self, tmp: Path, customers: int, seed: int, live: bool = True) -> None:
        self.clock = VirtualClock(float(int(time.time())))
        self.counts = Counts()
        self.changes: list[Change] = []
        self.fake = FakeZoho(daily_credits=100_000_000, clock=self.clock)
        self.fake.add_client(CLIENT_ID, SECRET, REFRESH, user="relay")
        self.zoho = FakeZohoServer(self.fake).start()
        self.http = requests.Session()
        tokens = FileTokenCache.in_dir(tmp / "tokens")
        credentials = ZohoCredentials(CLIENT_ID, SECRET, REFRESH, accounts_url=self.zoho.url)

        def clients(tenant: str) -> ZohoClient:
            provider = TokenProvider(tenant, credentials, tokens, self.http, clock=self.clock)
            return ZohoClient(provider, self.http)

        data = tmp / "data"
        self.local: LocalRelay = build_local(
            data, RelaySettings(), SyncSettings(), zoho_clients=clients
        )
        self._clock_everything()
        self.forwarder = build_local_forwarder(self.local.db, data, clients, clock=self.clock)
        start = datetime.fromtimestamp(self.clock(), UTC)
        self.company = FakeCompany(
            customers=customers,
            items=5,
            estimates=3,
            sales_orders=3,
            invoices=10,
            payments=3,
            seed=seed,
            clock_start=start,
        )
        self.local.tenants.create(
            Tenant(
                name=TENANT,
                qbwc_user=USER,
                password_hash=hash_password(PASSWORD),
                enabled_entities=DEFAULT_ENTITIES,
                live=live,
                live_interval_seconds=INTERVAL,
                writeback=True,
                writeback_since=self.clock() - 1,
            )
        )
        self.exchanges: list[tuple[str, str]] = []
        process = self.company.process

        def answered(request: str) -> str:
            self._company_now()
            answer = process(request)
            self.exchanges.append((request, answer))
            self.counts.qbxml_sent += len(request.encode())
            self.counts.qbxml_received += len(answer.encode())
            self._landed_in_quickbooks()
            return answer

        self.company.process = answered  # type: ignore[method-assign]
        self.server = RelayServer(RelayWsgiApp(self.local.endpoint), "127.0.0.1", 0, threads=2)
        self.server.start_in_thread()
        self.qbwc = FakeWebConnector(
            self.server.url + SOAP_PATH,
            owner_id=self.local.tenants.deployment_owner_id(),
            on_call=self._after_call,
        )
        self.accounts: dict[str, str] = {}  # ListID -> ZOHO Accounts id

    def _clock_everything(self) -> None:
        local = self.local
        local.relay.clock = self.clock
        local.engine.clock = self.clock
        local.engine.hand_off.clock = self.clock
        local.capture.clock = self.clock
        writer = local.relay.writeback
        assert writer is not None
        writer.clock = self.clock
        writer.outcomes.clock = self.clock

    def _company_now(self) -> None:
        self.company.clock.set(datetime.fromtimestamp(self.clock(), UTC))

    # --- the schedule ------------------------------------------------------------------------

    def wait(self, seconds: float) -> None:
        """Skip ``seconds`` of virtual time, making the changes that fall within at their time."""
        until = self.clock() + seconds
        for change in self.changes:
            if change.made is None and change.at <= until:
                self.clock.set(change.at)
                self._make(change)
        self.clock.set(until)

    def session(self) -> SessionResult:
        """One Web Connector run on the live schedule (NoOp pauses of 5 virtual seconds)."""
        self.exchanges.clear()
        result = self.qbwc.run_session(
            USER,
            PASSWORD,
            self.company,
            max_noops=1000,
            noop_pause=0,
            on_noop=lambda _n: self.wait(NOOP_SECONDS),
        )
        if result.auth_status not in ("none", "nvu", "busy"):
            self.counts.sessions += 1
            self.counts.exchanges += result.exchanges
        self._forward()
        return result

    def _after_call(self, operation: str, seconds: float) -> None:
        self.counts.soap[operation] += 1
        self.counts.soap_seconds += seconds
        if operation == "receiveResponseXML":
            self._forward()

    def _forward(self) -> None:
        """The forwarder, right after a hand-off: whatever the queue holds goes to ZOHO."""
        before = self.fake.calls
        result = drain(self.local.queue, self.forwarder, batch_size=100, max_batches=20)
        self.counts.zoho_calls += self.fake.calls - before
        if result.messages:
            self.counts.forwarder_runs += 1
            self._landed_in_zoho()

    # --- the changes -------------------------------------------------------------------------

    def link_accounts(self) -> None:
        """Each synced customer's ZOHO account (after the first sync)."""
        for record in self.fake.all("Accounts"):
            if record.get("QB_ListID"):
                self.accounts[str(record["QB_ListID"])] = str(record["id"])

    def plan_changes(self, per_side: int, start: float, span: float, seed: int) -> None:
        """``per_side`` changes on each side at random moments in [start, start + span)."""
        rng = random.Random(seed)
        self._rng = random.Random(seed + 1)
        moments = [
            (start + rng.random() * span, side) for side in (QB, ZOHO) for _ in range(per_side)
        ]
        self.changes = [Change(side, at) for at, side in sorted(moments)]
        ids = sorted(self.accounts)
        half = len(ids) // 2
        self._pools = {QB: ids[:half], ZOHO: ids[half:]}

    def _make(self, change: Change) -> None:
        # A record with a change not yet landed is not changed again (its landing would be
        # hidden by the newer value); the pools are large enough for the rate.
        busy = {c.key for c in self.changes if c.made is not None and c.landed is None}
        change.key = self._rng.choice([k for k in self._pools[change.side] if k not in busy])
        n = self.changes.index(change)
        change.value = f"555-{n:04d}"
        if change.side == QB:
            self._company_now()
            self.company.modify("Customer", change.key, phone=change.value)
        else:
            self.fake.edit("Accounts", self.accounts[change.key], {"Phone": change.value})
        change.made = self.clock()

    def _landed_in_zoho(self) -> None:
        now = self.clock() + WINDOW
        for c in self.changes:
            if c.side != QB or c.made is None or c.landed is not None:
                continue
            if self.fake.records["Accounts"][self.accounts[c.key]].get("Phone") == c.value:
                c.landed = now

    def _landed_in_quickbooks(self) -> None:
        now = self.clock()
        for c in self.changes:
            if c.side != ZOHO or c.made is None or c.landed is not None:
                continue
            if self.company.data.customers[c.key].phone == c.value:
                c.landed = now

    def snapshot(self) -> Counts:
        """A copy of the counts so far."""
        self.counts.zoho_total = self.fake.calls
        return self.counts.copy()

    def settle(self) -> None:
        """One ZOHO edit and two runs: the capture's cursor moves past the first sync's second
        (every capture re-reads the records of its cursor's second, and the first sync wrote
        all of them in one)."""
        some = sorted(self.accounts)[0]
        self.fake.edit("Accounts", self.accounts[some], {"Phone": "555-9999"})
        for _ in range(2):
            self.session()
            self.wait(INTERVAL)

    def pending(self) -> int:
        return sum(1 for c in self.changes if c.landed is None)

    def close(self) -> None:
        self.qbwc.close()
        self.server.stop()
        self.zoho.stop()
        self.http.close()


@dataclass(slots=True)
class LiveRun:
    """What a simulation measured."""

    latencies: dict[str, list[float]]
    lost: dict[str, int]  # changes that never landed within the bound
    virtual_seconds: float
    real_seconds: float
    changes: int  # made in the measured stretch, both sides
    counts: Counts  # the measured stretch (changes and all)
    idle_live: Counts  # an idle live session, averaged over a sweep period
    idle_live_cycle: float  # virtual seconds from one idle live run's start to the next
    idle_scheduled: Counts  # one idle session of the same tenant not live (the 15-min schedule)
    idle_exchanges: list[tuple[str, str]]  # the qbXML of the idle sessions of a sweep period


def simulate(per_side: int, customers: int = 60, seed: int = 18, rate: float = 2.0) -> LiveRun:
    """``per_side`` changes each way at ``rate`` a minute a side (see the module docstring)."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rig = LiveRig(Path(tmp), customers, seed)
        try:
            with counted_stores(rig.counts):
                return _run(rig, per_side, seed, rate, started)
        finally:
            rig.close()


def _run(rig: LiveRig, per_side: int, seed: int, rate: float, started: float) -> LiveRun:
    rig.session()  # the first sync, then a settled session
    rig.wait(INTERVAL)
    rig.session()
    rig.link_accounts()
    rig.wait(INTERVAL)
    rig.settle()
    # Idle live runs over one sweep period (sync/gate.py), from a slot's start: its first round
    # sweeps, the others are narrow, up to the run whose closing round would sweep again.
    # Counts are per run, averaged over the period.
    rig.wait(SWEEP - rig.clock() % SWEEP)
    before, t0, runs = rig.snapshot(), rig.clock(), 0
    idle_exchanges: list[tuple[str, str]] = []
    while runs == 0 or rig.clock() + 2 * INTERVAL < t0 + SWEEP:
        rig.session()
        idle_exchanges += rig.exchanges
        rig.wait(INTERVAL)
        runs += 1
    idle_live = rig.snapshot().minus(before).per(runs)
    cycle = (rig.clock() - t0) / runs
    span = per_side / rate * 60
    rig.plan_changes(per_side, rig.clock(), span, seed)
    before, t0 = rig.snapshot(), rig.clock()
    bound = t0 + span + 10 * INTERVAL
    while rig.pending() and rig.clock() < bound:
        rig.session()
        rig.wait(INTERVAL)
    measured = rig.snapshot().minus(before)
    virtual = rig.clock() - t0
    # The same tenant on the ordinary schedule: one idle session, 15 minutes on.
    tenant = rig.local.tenants.get(TENANT)
    assert tenant is not None
    tenant.live = False
    rig.local.tenants.update(tenant)
    rig.wait(15 * 60)
    rig.session()
    rig.wait(15 * 60)
    before = rig.snapshot()
    rig.session()
    scheduled = rig.snapshot().minus(before)
    latencies: dict[str, list[float]] = {QB: [], ZOHO: []}
    lost = {QB: 0, ZOHO: 0}
    for c in rig.changes:
        if c.latency is None:
            lost[c.side] += 1
        else:
            latencies[c.side].append(c.latency)
    return LiveRun(
        latencies,
        lost,
        virtual,
        time.perf_counter() - started,
        len(rig.changes),
        measured,
        idle_live,
        cycle,
        scheduled,
        idle_exchanges,
    )
