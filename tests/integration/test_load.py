"""Load: 20 tenants' Web Connector sessions at once against a real ``qbrelay serve`` on loopback.

Every tenant has its own simulated company (its own seed, so its own names), and every company
numbers its customers alike, so equal ListIDs from 20 companies meet in the one SQLite store:
a record of one tenant queued or mapped under another would show. The served process runs with
``--no-forward`` (it has no ZOHO credentials), so the queue holds everything the sessions sent.

Each SOAP operation's round trip is timed through ``FakeWebConnector(on_call=...)``; the p50 and
p95 per operation and the sessions per second are printed (``pytest -s``) and written to
``load.json`` in the test's tmp dir. The bounds asserted are generous on purpose: the figures
are for reading, the asserts only catch a relay that stalls or serialises badly.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from lambdas.local.wiring import build_local
from lambdas.local.wsgi import SOAP_PATH
from lambdas.qbwc.passwords import hash_password, password_weakness
from lambdas.store.ports import Tenant
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector, SessionResult
from tests.relay_process import Served

TENANTS = 20
OPERATIONS = (
    "serverVersion",
    "clientVersion",
    "authenticate",
    "sendRequestXML",
    "receiveResponseXML",
    "closeConnection",
)
HTTP_TIMEOUT = 30.0  # one SOAP call
# Seconds, per operation: generous for a loaded 2-core machine. The heavy variant's pages grow
# to the page policy's 1,000 records, each parsed and queued under 20-way contention.
P95_BOUND = 5.0
P95_BOUND_HEAVY = 20.0


def password_of(name: str) -> str:
    """A strong per-tenant password (12+ characters, lower, upper, digits and others)."""
    return f"Load-{name}-Pw#2024"


class Latencies:
    """Round trips per SOAP operation, recorded from many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_op: dict[str, list[float]] = defaultdict(list)

    def record(self, operation: str, seconds: float) -> None:
        """The ``FakeWebConnector.on_call`` hook."""
        with self._lock:
            self.by_op[operation].append(seconds)

    def summary(self) -> dict[str, dict[str, float]]:
        """Count, p50, p95 and max (milliseconds) of every operation seen."""
        out = {}
        for op, values in sorted(self.by_op.items()):
            ordered = sorted(values)
            out[op] = {
                "count": len(ordered),
                "p50_ms": round(percentile(ordered, 50) * 1000, 1),
                "p95_ms": round(percentile(ordered, 95) * 1000, 1),
                "max_ms": round(ordered[-1] * 1000, 1),
            }
        return out


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of a sorted, non-empty list."""
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def companies(customers: int) -> dict[str, FakeCompany]:
    """One company per tenant: the same size and ListIDs, different seeds (so other names)."""
    return {
        f"t{i:02d}": FakeCompany(customers=customers, seed=100 + i, company_name=f"Company {i:02d}")
        for i in range(TENANTS)
    }


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A fresh data dir with the 20 tenants, served by ``qbrelay serve --no-forward``."""
    data = tmp_path / "data"
    local = build_local(data)
    try:
        for i in range(TENANTS):
            name = f"t{i:02d}"
            password = password_of(name)
            assert password_weakness(password) is None
            local.tenants.create(
                Tenant(name=name, qbwc_user=f"{name}-qbwc", password_hash=hash_password(password))
            )
    finally:
        local.db.close()
    # Every simulated office connects from 127.0.0.1 here: the per-source cap (meant for one
    # office's address) is raised so the 20 tenants' sessions are not refused as one source.
    args = ("--no-forward", "--per-source-limit", str(4 * TENANTS))
    server = Served(data, extra_args=args, log_path=tmp_path / "serve.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_load(
    served: Served, books: dict[str, FakeCompany], deadline_s: float, tmp_path: Path
) -> dict[str, Any]:
    """Run every tenant's session at once; check the outcome; return the figures."""
    url = served.base + SOAP_PATH
    latencies = Latencies()

    def session(name: str) -> SessionResult:
        qbwc = FakeWebConnector(url, timeout=HTTP_TIMEOUT, on_call=latencies.record)
        try:
            return qbwc.run_session(
                f"{name}-qbwc", password_of(name), books[name], max_exchanges=200
            )
        finally:
            qbwc.close()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=TENANTS) as pool:
        futures = {name: pool.submit(session, name) for name in books}
        _, pending = wait(futures.values(), timeout=deadline_s)
        elapsed = time.perf_counter() - started
        if pending:
            served.stop()  # the stragglers' next call fails at once, so the pool can join
            pytest.fail(f"{len(pending)} of {TENANTS} sessions still running after {deadline_s} s")
    results = {name: f.result() for name, f in futures.items()}

    for name, result in results.items():
        assert result.auth_status not in ("nvu", "none", "busy"), (name, result.auth_status)
        assert result.last_error is None, (name, result.last_error)
        assert result.percents and result.percents[-1] == 100, (name, result.percents)
        assert result.close_message is not None, name
    served.stop()

    figures = {
        "tenants": TENANTS,
        "customers": sum(len(c.customer_list) for c in books.values()),
        "wall_s": round(elapsed, 3),
        "sessions_per_s": round(TENANTS / elapsed, 2),
        "exchanges": sum(r.exchanges for r in results.values()),
        "operations": latencies.summary(),
    }
    (tmp_path / "load.json").write_text(json.dumps(figures, indent=2))
    print("\nload:", json.dumps(figures, indent=2))
    return figures


def check_store(data: Path, books: dict[str, FakeCompany]) -> None:
    """Each tenant's queue, mappings and run history hold its own company's records only."""
    local = build_local(data)
    try:
        seen: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in books}
        for _ in range(10_000):  # bounded drain: far more batches than records
            batch = local.queue.receive(10)
            if not batch:
                break
            for m in batch:
                body = json.loads(m.message.body)
                assert body["tenant"] == m.message.tenant
                record = body["record"]
                assert record["list_id"] not in seen[body["tenant"]], (body["tenant"], record)
                seen[body["tenant"]][record["list_id"]] = record
            local.queue.delete([m.receipt for m in batch])
        for name, company in books.items():
            expected = {c.list_id: c.name for c in company.customer_list}
            got = {list_id: r["name"] for list_id, r in seen[name].items()}
            assert got == expected, name
            mapped = local.mappings.list(name, limit=10_000)
            assert {m.source_id for m in mapped} == set(expected), name
            assert all(m.tenant == name for m in mapped), name
            runs = local.runs.recent(name)
            assert [r.status for r in runs] == ["completed"], (name, runs)
            assert runs[0].entities["Customer"].queued == len(expected), name
    finally:
        local.db.close()


def check_books_overlap(books: dict[str, FakeCompany]) -> None:
    """The test means something only if equal ListIDs carry different data across companies."""
    first, second = list(books.values())[:2]
    shared = {c.list_id for c in first.customer_list} & {c.list_id for c in second.customer_list}
    assert shared, "companies should share ListIDs"
    names = {c.list_id: c.name for c in second.customer_list}
    assert any(c.name != names[c.list_id] for c in first.customer_list if c.list_id in shared)


def check_bounds(figures: dict[str, Any], p95_bound: float) -> None:
    """Every operation seen, each with a p95 under ``p95_bound`` seconds."""
    ops = figures["operations"]
    assert set(OPERATIONS) <= set(ops), sorted(ops)
    for op in OPERATIONS:
        assert ops[op]["p95_ms"] < p95_bound * 1000, (op, ops[op])
    assert ops["closeConnection"]["count"] == TENANTS
    assert ops["authenticate"]["count"] == TENANTS


def test_twenty_tenants_at_once(served: Served, tmp_path: Path) -> None:
    """20 sessions of 300 customers each (two exchanges apiece), bounded to 45 s."""
    books = companies(customers=300)
    check_books_overlap(books)
    figures = run_load(served, books, deadline_s=45, tmp_path=tmp_path)
    check_bounds(figures, P95_BOUND)
    check_store(served.data_dir, books)


@pytest.mark.slow
def test_twenty_tenants_at_once_heavy(served: Served, tmp_path: Path) -> None:
    """20 sessions of 2,500 customers each (pages up to 1,000 records), bounded to 300 s."""
    books = companies(customers=2500)
    check_books_overlap(books)
    figures = run_load(served, books, deadline_s=300, tmp_path=tmp_path)
    check_bounds(figures, P95_BOUND_HEAVY)
    check_store(served.data_dir, books)
