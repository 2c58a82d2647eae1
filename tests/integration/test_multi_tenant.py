"""Three tenants syncing at once over HTTP on loopback, on one store: nothing crosses over."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from lambdas.local.server import RelayServer
from lambdas.local.wiring import LocalRelay
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from lambdas.qbwc.passwords import hash_password
from lambdas.store.ports import Tenant
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector, SessionResult

TENANTS = {"north": 150, "south": 90, "west": 120}


@pytest.fixture
def server(local: LocalRelay) -> Iterator[str]:
    for name in TENANTS:
        local.tenants.create(
            Tenant(name=name, qbwc_user=f"{name}-qbwc", password_hash=hash_password(f"pw-{name}"))
        )
    served = RelayServer(RelayWsgiApp(local.endpoint), "127.0.0.1", 0).start_in_thread()
    yield served.url + SOAP_PATH
    served.stop()


def session(url: str, name: str, company: FakeCompany) -> SessionResult:
    qbwc = FakeWebConnector(url)
    try:
        return qbwc.run_session(f"{name}-qbwc", f"pw-{name}", company)
    finally:
        qbwc.close()


def test_concurrent_tenants_stay_apart(local: LocalRelay, server: str) -> None:
    # Every company numbers its customers alike, so equal ListIDs meet in the shared store.
    companies = {
        name: FakeCompany(customers=n, seed=i + 10) for i, (name, n) in enumerate(TENANTS.items())
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(session, server, name, companies[name]) for name in TENANTS}
        results = {name: f.result(timeout=120) for name, f in futures.items()}
    for name, result in results.items():
        assert result.last_error is None and result.percents[-1] == 100, name
    seen: dict[str, dict[str, str]] = {name: {} for name in TENANTS}
    while batch := local.queue.receive(10):
        for m in batch:
            body = json.loads(m.message.body)
            assert body["tenant"] == m.message.tenant
            seen[body["tenant"]][body["record"]["list_id"]] = body["record"]["name"]
        local.queue.delete([m.receipt for m in batch])
    for name, company in companies.items():
        expected = {c.list_id: c.name for c in company.customer_list}
        assert seen[name] == expected, name
        mapped = local.mappings.list(name, limit=1000)
        assert {m.source_id for m in mapped} == set(expected)
        assert all(m.tenant == name for m in mapped)
        assert local.runs.recent(name)[0].entities["Customer"].queued == TENANTS[name]


def test_one_live_session_per_tenant(local: LocalRelay, server: str) -> None:
    first = FakeWebConnector(server)
    second = FakeWebConnector(server)
    try:
        _, status = first.call(
            "authenticate", [("strUserName", "north-qbwc"), ("strPassword", "pw-north")]
        )
        assert status == ""
        busy = second.call(
            "authenticate", [("strUserName", "north-qbwc"), ("strPassword", "pw-north")]
        )
        assert busy[1] == "busy"
        other = second.call(
            "authenticate", [("strUserName", "south-qbwc"), ("strPassword", "pw-south")]
        )
        assert other[1] == ""
    finally:
        first.close()
        second.close()
