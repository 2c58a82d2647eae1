"""SOAP overhead: one ``receiveResponseXML`` carrying a large qbXML page through the whole
in-process request path, against parsing that qbXML alone.

The path is the local relay's: the SOAP endpoint (spyne parses the envelope), the relay (session
and run history on SQLite), the sync engine (records, content hashes, mappings) and the hand-off
to the record queue. Each round syncs a fresh data directory whose only entity is Customer, its
page size set so that the simulated company answers the first query with one page of about the
configured size; the Web Connector's calls go straight to ``SoapEndpoint.handle`` (no HTTP).
The round's largest ``receiveResponseXML`` is timed (wall clock), then
``qbxml.parse_response`` of the same qbXML text; the ratio is of the best of each.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import qbxml
from lambdas.local.wiring import build_local
from lambdas.qbwc.passwords import hash_password
from lambdas.store.ports import EntitySyncState, Tenant
from lambdas.sync.engine import SyncSettings
from lambdas.sync.paging import PagePolicy
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector

from .suite import Result, Sizes

TARGET = 1.5
TENANT, USER, PASSWORD = "bench", "bench-qbwc", "Bench-Password#2026"
_TNS = b"http://developer.intuit.com/"


@dataclass
class _Answer:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class InProcessTransport:
    """What FakeWebConnector posts with, calling the endpoint directly; times the largest
    receiveResponseXML and keeps its qbXML text."""

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint
        self.largest = (0, 0.0, "")  # (body bytes, seconds, qbXML text)
        self.response_text = ""

    def post(self, url: str, data: bytes, headers: dict[str, str], timeout: float) -> _Answer:
        started = time.perf_counter()
        reply = self.endpoint.handle(data, "127.0.0.1")
        seconds = time.perf_counter() - started
        if b"<receiveResponseXML " in data and len(data) > self.largest[0]:
            self.largest = (len(data), seconds, self.response_text)
        return _Answer(reply.status, reply.body)

    def close(self) -> None:
        """Nothing held open."""


class _Company(FakeCompany):
    """The simulated company, remembering its last answer (the qbXML the SOAP body carries)."""

    transport: InProcessTransport

    def process(self, request: str) -> str:
        answer = super().process(request)
        self.transport.response_text = answer
        return answer


def one_round(customers: int, data_dir: Path) -> tuple[float, str]:
    """Seconds of the largest receiveResponseXML of a first sync, and its qbXML text."""
    paging = PagePolicy(maximum=max(customers, 1000), target_bytes=10**9)
    local = build_local(data_dir, sync=SyncSettings(paging=paging))
    local.tenants.create(
        Tenant(
            name=TENANT,
            qbwc_user=USER,
            password_hash=hash_password(PASSWORD),
            enabled_entities=("Customer",),
            created_at=time.time(),
        )
    )
    local.state.put(EntitySyncState(TENANT, "Customer", page_size=customers))
    company = _Company(customers=customers)
    company.owner_id = local.tenants.deployment_owner_id()
    company.file_id = local.tenants.ensure_file_id(TENANT)
    transport = InProcessTransport(local.endpoint)
    company.transport = transport
    qbwc = FakeWebConnector("in-process", owner_id=company.owner_id)
    qbwc.http = transport  # type: ignore[assignment]
    session = qbwc.run_session(USER, PASSWORD, company)
    if session.last_error is not None:
        raise RuntimeError(f"the benchmark session failed: {session.last_error}")
    _, seconds, text = transport.largest
    queued = local.queue.depth()
    if queued < customers:
        raise RuntimeError(f"only {queued} of {customers} customers were queued")
    local.db.close()
    return seconds, text


def customers_for(megabytes: float) -> int:
    """How many simulated customers make a page of about ``megabytes`` of qbXML."""
    sample = FakeCompany(customers=200)
    request = qbxml.build_message_set(
        [qbxml.sync_query("Customer", request_id="1", max_returned=200)]
    )
    per_record = len(sample.process(request).encode()) / 200
    return max(10, int(megabytes * 1e6 / per_record))


def run(sizes: Sizes) -> list[Result]:
    """The SOAP overhead row."""
    customers = customers_for(sizes.soap_megabytes)
    soap_best = parse_best = float("inf")
    size = 0
    for _ in range(sizes.soap_rounds):
        with tempfile.TemporaryDirectory() as tmp:
            seconds, text = one_round(customers, Path(tmp))
        size = len(text.encode())
        started = time.perf_counter()
        qbxml.parse_response(text)
        parse_best = min(parse_best, time.perf_counter() - started)
        soap_best = min(soap_best, seconds)
    ratio = soap_best / parse_best
    return [
        Result(
            "soap.overhead",
            ratio,
            f"{ratio:.2f}x",
            f"{soap_best * 1000:.0f} ms vs {parse_best * 1000:.0f} ms for {customers:,} "
            f"customers ({size / 1e6:.1f} MB qbXML)",
            ratio <= TARGET,
            {"soap_seconds": soap_best, "parse_seconds": parse_best, "bytes": size},
        )
    ]
