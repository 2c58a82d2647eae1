"""The simulated Web Connector over HTTP: the HCP asks for the application's OwnerID, and the
QuickBooks session (with its iterators) ends with the update, however the update ends."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from lambdas.local.server import RelayServer
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from tests.conftest import PASSWORD
from tests.sim_requests import FILE_ID, OWNER_ID, el, message_set, responses, rq


@pytest.fixture
def qbwc(local, tenant) -> Iterator[FakeWebConnector]:
    server = RelayServer(RelayWsgiApp(local.endpoint), "127.0.0.1", 0, threads=2).start_in_thread()
    connector = FakeWebConnector(server.url + SOAP_PATH, owner_id=OWNER_ID)
    try:
        yield connector
    finally:
        connector.close()
        server.stop()


class Recorder:
    """Wraps a company: remembers the owners the HCP was asked for and every answer given."""

    def __init__(self, company: FakeCompany) -> None:
        self.company = company
        self.owners: list[str | None] = []
        self.answers: list[str] = []
        hcp, process = company.hcp_response, company.process

        def hcp_response(owner_id: str | None = None) -> str:
            self.owners.append(owner_id)
            return hcp(owner_id)

        def recorded(request: str) -> str:
            self.answers.append(process(request))
            return self.answers[-1]

        company.hcp_response = hcp_response  # type: ignore[method-assign]
        company.process = recorded  # type: ignore[method-assign]


def test_abandoned_update_ends_the_quickbooks_session(qbwc) -> None:
    company = FakeCompany(customers=300, file_id=FILE_ID, owner_id=OWNER_ID)
    recorder = Recorder(company)
    result = qbwc.run_session("acme-qbwc", PASSWORD, company, abandon_after=1)
    assert result.abandoned and recorder.owners == [OWNER_ID]
    # The first message set also stamps the relay's FileID; the customer query is the last.
    response = responses(recorder.answers[-1])[-1]
    assert response.tag == "CustomerQueryRs"
    iterator_id = response.get("iteratorID")
    assert iterator_id and int(response.get("iteratorRemainingCount")) > 0
    request = message_set(
        rq("CustomerQueryRq", el("MaxReturned", 50), iterator="Continue", iteratorID=iterator_id)
    )
    (stale,) = responses(company.process(request))
    assert stale.get("statusCode") == "3391"


def test_a_full_update_reaches_every_customer(qbwc) -> None:
    company = FakeCompany(customers=120, seed=4)
    recorder = Recorder(company)
    result = qbwc.run_session("acme-qbwc", PASSWORD, company)
    assert result.last_error is None and result.percents[-1] == 100
    sent = {
        m for answer in recorder.answers for m in re.findall(r"<ListID>([^<]+)</ListID>", answer)
    }
    assert set(company.data.customers) <= sent


def test_the_tenant_records_the_version_the_web_connector_sends(local, tenant) -> None:
    server = RelayServer(RelayWsgiApp(local.endpoint), "127.0.0.1", 0, threads=2).start_in_thread()
    connector = FakeWebConnector(server.url + SOAP_PATH, version="2.2.0.80", owner_id=OWNER_ID)
    # A header any client can send: not trusted without --trusted-proxy.
    connector.http.headers["X-Forwarded-For"] = "203.0.113.9"
    try:
        result = connector.run_session("acme-qbwc", PASSWORD, FakeCompany(customers=20))
    finally:
        connector.close()
        server.stop()
    assert result.client_version_reply == "" and result.percents[-1] == 100
    stored = local.tenants.get("acme")
    assert stored.qbwc_version == connector.version and stored.qbwc_seen_at
    now = local.relay.clock()
    assert local.sessions.client_note("127.0.0.1", now) == "2.2.0.80"
    assert local.sessions.client_note("203.0.113.9", now) is None


def test_behind_a_trusted_proxy_the_last_forwarded_address_counts(local, tenant) -> None:
    app = RelayWsgiApp(local.endpoint)
    server = RelayServer(app, "127.0.0.1", 0, threads=2, trusted_proxy="127.0.0.1")
    server.start_in_thread()
    connector = FakeWebConnector(server.url + SOAP_PATH, version="2.3.0.215")
    # The client wrote the first entry; the proxy appended the address it saw.
    connector.http.headers["X-Forwarded-For"] = "192.0.2.1, 203.0.113.9"
    try:
        assert connector.call("clientVersion", [("strVersion", connector.version)]) == ""
    finally:
        connector.close()
        server.stop()
    now = local.relay.clock()
    assert local.sessions.client_note("203.0.113.9", now) == "2.3.0.215"
    assert local.sessions.client_note("192.0.2.1", now) is None
    assert local.sessions.client_note("127.0.0.1", now) is None
