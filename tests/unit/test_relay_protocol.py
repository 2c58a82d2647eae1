"""Every branch of the Web Connector protocol, driven directly on the relay core."""

from __future__ import annotations

import json
import logging
import re

import pytest

from lambdas.local.wiring import LocalRelay
from lambdas.qbwc.relay import UNKNOWN_TICKET, QbwcRelay, RelaySettings, summarize
from lambdas.qbwc.support_page import render_tenant
from lambdas.store.ports import StoreError, Tenant
from sim.fake_company import FakeCompany
from tests.conftest import FIXED_PAGES, PASSWORD


def start(local: LocalRelay, tenant: Tenant) -> str:
    ticket, status = local.relay.authenticate(tenant.qbwc_user, PASSWORD)
    assert status == ""
    return ticket


def exchange(relay: QbwcRelay, ticket: str, company: FakeCompany, hcp: bool = False) -> int:
    request = relay.send_request_xml(ticket, company.hcp_response() if hcp else "", "", "US", 13, 0)
    assert request, relay.get_last_error(ticket)
    return relay.receive_response_xml(ticket, company.process(request), "", "")


def test_server_and_client_version(local: LocalRelay, caplog) -> None:
    caplog.set_level(logging.INFO, logger="lambdas.qbwc.relay")
    assert local.relay.server_version()
    # "W:" would make the Web Connector show a continue/cancel dialog and wait for a person,
    # which stalls every scheduled (unattended) run: every version served gets "" instead.
    for served in ("2.1.0.30", "2.2.0.71", "2.2.0.80", "2.3.0.36", "2.3.0.215", "3.0"):
        assert local.relay.client_version(served) == "", served
    for unserved in ("2.0.1.7", "1.0.0", ""):
        answer = local.relay.client_version(unserved)
        assert answer.startswith("E:") and "2.1.0.30" in answer, unserved
    # The Web Connector's version is logged (clientVersion carries no user or ticket).
    versions = [getattr(r, "qbwc_version", None) for r in caplog.records]
    assert "2.2.0.71" in versions and "2.0.1.7" in versions


def test_client_version_minimum_is_a_setting(local: LocalRelay) -> None:
    relay = QbwcRelay(
        local.tenants,
        local.sessions,
        local.engine,
        local.runs,
        RelaySettings(min_qbwc_version="2.2.0.0"),
    )
    assert relay.client_version("2.1.0.30").startswith("E:")
    assert relay.client_version("2.2.0.71") == ""


def _clocked(local: LocalRelay, now: list[float]) -> QbwcRelay:
    return QbwcRelay(local.tenants, local.sessions, local.engine, local.runs, clock=lambda: now[0])


def test_the_web_connector_version_is_recorded_for_the_tenant_authenticating_from_its_address(
    local, tenant
) -> None:
    now = [1000.0]
    relay = _clocked(local, now)
    assert relay.client_version("2.3.0.215", client="203.0.113.7") == ""
    now[0] += 2
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, client="203.0.113.7")[1] == ""
    stored = local.tenants.get(tenant.name)
    assert (stored.qbwc_version, stored.qbwc_seen_at) == ("2.3.0.215", 1002.0)


def test_a_version_from_another_address_is_not_recorded(local, tenant) -> None:
    now = [1000.0]
    relay = _clocked(local, now)
    relay.client_version("2.3.0.215", client="203.0.113.7")
    relay.authenticate(tenant.qbwc_user, PASSWORD, client="198.51.100.9")
    assert local.tenants.get(tenant.name).qbwc_version == ""


def test_an_expired_note_is_not_recorded(local, tenant) -> None:
    now = [1000.0]
    relay = _clocked(local, now)
    relay.client_version("2.3.0.215", client="2001:db8::1")
    now[0] += RelaySettings().client_note_seconds + 1
    relay.authenticate(tenant.qbwc_user, PASSWORD, client="2001:db8::1")
    assert local.tenants.get(tenant.name).qbwc_version == ""


def test_only_a_valid_login_records_the_version_and_it_changes_nothing_else(local, tenant) -> None:
    now = [1000.0]
    relay = _clocked(local, now)
    # Anyone may announce a version for an address (display only): a wrong password records
    # nothing, a refused version is never noted, and the answers are those without a note.
    relay.client_version("9.9.9.9", client="203.0.113.7")
    assert relay.authenticate(tenant.qbwc_user, "wrong", client="203.0.113.7")[1] == "nvu"
    assert local.tenants.get(tenant.name).qbwc_version == ""
    assert relay.client_version("2.0.1.7", client="198.51.100.9").startswith("E:")
    assert local.sessions.client_note("198.51.100.9", now[0]) is None
    tenant.enabled_entities = ()
    local.tenants.update(tenant)
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, client="203.0.113.7")[1] == "none"
    assert local.tenants.get(tenant.name).qbwc_version == "9.9.9.9"


def test_addresses_and_versions_are_bounded(local, tenant) -> None:
    now = [1000.0]
    relay = _clocked(local, now)
    # Not an address (a forged header, a host name): nothing is noted.
    for bad in ("", "not-an-ip", "203.0.113.7, 10.0.0.1", "x" * 500, None):
        assert relay.client_version("2.3.0.215", client=bad) == ""
    rows = local.db.connection().execute("SELECT count(*) FROM client_notes").fetchone()
    assert rows == (0,)
    # One note per address, in canonical form; the version capped and printable only.
    relay.client_version("2.3.0.1", client="2001:DB8:0:0::1")
    relay.client_version("2.3.0.\x1b[31m215" + "9" * 100, client="2001:db8::1")
    relay.authenticate(tenant.qbwc_user, PASSWORD, client="2001:db8::1")
    version = local.tenants.get(tenant.name).qbwc_version
    assert version.startswith("2.3.0.[31m215") and len(version) <= 40 and "\x1b" not in version
    rows = local.db.connection().execute("SELECT address FROM client_notes").fetchall()
    assert rows == [("2001:db8::1",)]


def test_the_support_page_shows_the_recorded_version_escaped(local, tenant) -> None:
    relay = _clocked(local, [1767236400.0])
    assert render_tenant(local.tenants.get(tenant.name)).decode().count("not seen yet") == 1
    relay.client_version("2.3.0.215<script>", client="203.0.113.7")
    relay.authenticate(tenant.qbwc_user, PASSWORD, client="203.0.113.7")
    page = render_tenant(local.tenants.get(tenant.name)).decode()
    assert "2.3.0.215&lt;script&gt; (seen 2026-01-01 03:00 UTC)" in page
    assert "<script>" not in page


def test_expired_notes_are_cleaned_up_locally(local) -> None:
    local.sessions.note_client("203.0.113.7", "2.3.0.215", now=100.0, expires_at=400.0)
    local.sessions.note_client("203.0.113.8", "2.3.0.215", now=500.0, expires_at=800.0)
    rows = local.db.connection().execute("SELECT address FROM client_notes").fetchall()
    assert rows == [("203.0.113.8",)]


def test_a_store_failure_while_noting_the_version_does_not_stop_the_update(
    local, tenant, monkeypatch
) -> None:
    def broken(*args: object) -> None:
        raise StoreError("sessions table is unavailable")

    monkeypatch.setattr(local.sessions, "note_client", broken)
    monkeypatch.setattr(local.sessions, "client_note", broken)
    assert local.relay.client_version("2.3.0.215", client="203.0.113.7") == ""
    assert local.relay.authenticate(tenant.qbwc_user, PASSWORD, client="203.0.113.7")[1] == ""


def test_authenticate_rejects_unknown_user_and_wrong_password(local, tenant) -> None:
    ticket, status = local.relay.authenticate("nobody", PASSWORD)
    assert status == "nvu" and len(ticket) >= 32
    assert local.relay.authenticate(tenant.qbwc_user, "wrong")[1] == "nvu"


def test_tickets_are_random_and_long(local, tenant) -> None:
    tickets = {local.relay.authenticate("nobody", "x")[0] for _ in range(5)}
    assert len(tickets) == 5 and all(len(t) * 4 >= 128 for t in tickets)


def test_authenticate_none_when_no_work(local, tenant) -> None:
    tenant.enabled_entities = ()
    local.tenants.update(tenant)
    assert local.relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == "none"


def test_authenticate_none_within_min_interval(local, tenant) -> None:
    tenant.min_interval_seconds = 3600
    tenant.last_sync_at = local.relay.clock() - 60
    local.tenants.update(tenant)
    assert local.relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == "none"


def test_authenticate_busy_while_a_session_is_live(local, tenant) -> None:
    start(local, tenant)
    assert local.relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == "busy"


def test_authenticate_returns_company_file_and_optional_elements(local, tenant) -> None:
    tenant.company_file = r"C:\Books\acme.qbw"
    local.tenants.update(tenant)
    relay = QbwcRelay(
        local.tenants,
        local.sessions,
        local.engine,
        local.runs,
        RelaySettings(postpone_seconds=30, min_run_every_seconds=900),
    )
    reply = relay.authenticate(tenant.qbwc_user, PASSWORD)
    assert reply[1:] == [r"C:\Books\acme.qbw", "30", "900"]


def test_an_abandoned_session_frees_the_tenant_after_the_busy_lease(local, tenant) -> None:
    now = [1000.0]
    relay = QbwcRelay(
        local.tenants,
        local.sessions,
        local.engine,
        local.runs,
        RelaySettings(session_ttl_seconds=1800, busy_lease_seconds=600),
        clock=lambda: now[0],
    )
    company = FakeCompany(customers=120)
    ticket, _ = relay.authenticate(tenant.qbwc_user, PASSWORD)
    request = relay.send_request_xml(ticket, company.hcp_response(), "", "US", 13, 0)
    now[0] += 100
    assert relay.receive_response_xml(ticket, company.process(request), "", "") > 0
    # The Web Connector vanishes. Its next scheduled run, 5 minutes on, finds the tenant busy;
    # 10 minutes after the last call, the tenant is free again.
    now[0] += 300
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == "busy"
    now[0] += 301
    ticket2, status = relay.authenticate(tenant.qbwc_user, PASSWORD)
    assert status == ""
    # The superseded session still answers its own (late) calls, without taking the lock back.
    assert relay.send_request_xml(ticket, "", "", "US", 13, 0)
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == "busy"
    assert relay.close_connection(ticket2)


def test_expired_session_frees_the_tenant(local, tenant) -> None:
    now = [1000.0]
    relay = QbwcRelay(
        local.tenants,
        local.sessions,
        local.engine,
        local.runs,
        RelaySettings(session_ttl_seconds=60),
        clock=lambda: now[0],
    )
    ticket, status = relay.authenticate(tenant.qbwc_user, PASSWORD)
    assert status == ""
    now[0] += 61
    assert relay.send_request_xml(ticket, "", "", "US", 13, 0) == ""
    assert relay.get_last_error(ticket) == UNKNOWN_TICKET
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == ""


def test_full_session_with_iterators(local, tenant) -> None:
    company = FakeCompany(customers=120)
    ticket = start(local, tenant)
    percents = [exchange(local.relay, ticket, company, hcp=True)]
    while percents[-1] < 100:
        percents.append(exchange(local.relay, ticket, company))
        assert len(percents) < 10
    assert percents == [41, 83, 100]  # 50 + 50 + 20 with page size 50
    assert local.queue.depth() == 120
    assert local.relay.close_connection(ticket) == "Synced 120 customers"
    assert local.tenants.get("acme").last_sync_at is not None
    bodies = [json.loads(b) for b in local.queue.peek(200)]
    assert {b["record"]["list_id"] for b in bodies} == {c.list_id for c in company.customer_list}
    assert all(b["tenant"] == "acme" for b in bodies)


def test_first_request_uses_the_highest_common_version(local, tenant) -> None:
    ticket = start(local, tenant)
    company = FakeCompany(customers=1, supported_versions=("1.0", "8.0", "10.0"))
    request = local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 10, 0)
    assert '<?qbxml version="10.0"?>' in request


def test_no_common_version_is_an_actionable_error(local, tenant) -> None:
    ticket = start(local, tenant)
    company = FakeCompany(customers=1, supported_versions=("1.0", "2.0"))
    assert local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 2, 0) == ""
    assert "needs 5.0 or newer" in local.relay.get_last_error(ticket)


def test_no_match_is_an_empty_success(local, tenant) -> None:
    ticket = start(local, tenant)
    assert exchange(local.relay, ticket, FakeCompany(customers=0), hcp=True) == 100
    # A stray call after the plan finished gets no request and a plain message, never "NoOp".
    assert local.relay.send_request_xml(ticket, "", "", "US", 13, 0) == ""
    assert "complete" in local.relay.get_last_error(ticket)
    assert local.relay.close_connection(ticket) == "No changes"


def test_stale_iterator_restarts_the_entity(local, tenant) -> None:
    company = FakeCompany(customers=120)
    ticket = start(local, tenant)
    assert exchange(local.relay, ticket, company, hcp=True) == 41
    company._iterators.clear()  # QuickBooks forgot the iterator
    assert exchange(local.relay, ticket, company) == 41  # 3391 -> restart, progress unchanged
    request = local.relay.send_request_xml(ticket, "", "", "US", 13, 0)
    assert 'iterator="Start"' in request


def test_quickbooks_failure_is_negative_with_message(local, tenant) -> None:
    ticket = start(local, tenant)
    local.relay.send_request_xml(ticket, FakeCompany(customers=1).hcp_response(), "", "US", 13, 0)
    percent = local.relay.receive_response_xml(
        ticket, "", "0x80040400", "QuickBooks found an error when parsing the provided XML"
    )
    assert percent < 0
    error = local.relay.get_last_error(ticket)
    assert "0x80040400" in error and "parsing" in error
    assert local.relay.close_connection(ticket) == "Nothing synced (1 error)"


def test_unreadable_response_is_negative(local, tenant) -> None:
    ticket = start(local, tenant)
    local.relay.send_request_xml(ticket, FakeCompany(customers=1).hcp_response(), "", "US", 13, 0)
    assert local.relay.receive_response_xml(ticket, "<QBXML><oops", "", "") < 0
    assert "could not read" in local.relay.get_last_error(ticket)


def test_error_status_stops_the_entity_not_the_session(local, tenant) -> None:
    ticket = start(local, tenant)
    request = local.relay.send_request_xml(
        ticket, FakeCompany(customers=1).hcp_response(), "", "US", 13, 0
    )
    request_id = re.search(r'<CustomerQueryRq requestID="([^"]+)"', request).group(1)
    rs = (
        f'<QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="{request_id}" statusCode="3260" '
        'statusSeverity="Error" statusMessage="Insufficient permission level to perform this '
        'action."/></QBXMLMsgsRs></QBXML>'
    )
    assert local.relay.receive_response_xml(ticket, rs, "", "") == 100
    assert "3260" in local.relay.get_last_error(ticket)
    assert local.relay.close_connection(ticket) == "Nothing synced (1 error; failed: customers)"
    assert local.runs.recent(tenant.name)[0].status == "failed"


def test_retryable_status_is_retried(local, tenant) -> None:
    ticket = start(local, tenant)
    company = FakeCompany(customers=3)
    request = local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 13, 0)
    request_id = re.search(r'<CustomerQueryRq requestID="([^"]+)"', request).group(1)
    locked = (
        f'<QBXML><QBXMLMsgsRs><CustomerQueryRs requestID="{request_id}" statusCode="3175" '
        'statusSeverity="Error" statusMessage="locked"/></QBXMLMsgsRs></QBXML>'
    )
    assert local.relay.receive_response_xml(ticket, locked, "", "") == 0
    assert exchange(local.relay, ticket, company) == 100


def test_replayed_response_is_not_processed_twice(local, tenant) -> None:
    company = FakeCompany(customers=120)
    ticket = start(local, tenant)
    request = local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 13, 0)
    response = company.process(request)
    first = local.relay.receive_response_xml(ticket, response, "", "")
    again = local.relay.receive_response_xml(ticket, response, "", "")
    assert first == again == 41
    assert local.queue.depth() == 50


def test_queue_failure_answers_negative_and_advances_nothing(local, tenant, monkeypatch) -> None:
    company = FakeCompany(customers=10)
    ticket = start(local, tenant)
    request = local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 13, 0)

    def broken(messages):
        raise StoreError("disk full")

    monkeypatch.setattr(local.queue, "send", broken)
    assert local.relay.receive_response_xml(ticket, company.process(request), "", "") < 0
    assert "disk full" in local.relay.get_last_error(ticket)
    assert local.relay.close_connection(ticket) == "Nothing synced (1 error)"
    assert local.tenants.get("acme").last_sync_at is None


def test_connection_error_records_and_finishes(local, tenant) -> None:
    ticket = start(local, tenant)
    assert (
        local.relay.connection_error(ticket, "0x80040408", "Could not start QuickBooks.") == "done"
    )
    assert "0x80040408" in local.relay.get_last_error(ticket)
    assert local.relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == ""  # lock released


def test_unknown_ticket_everywhere(local) -> None:
    assert local.relay.send_request_xml("nope", "", "", "US", 13, 0) == ""
    assert local.relay.receive_response_xml("nope", "<QBXML/>", "", "") == -1
    assert local.relay.get_last_error("nope") == UNKNOWN_TICKET
    assert local.relay.connection_error("nope", "", "") == "done"
    assert local.relay.close_connection("nope") == "Session closed."


def test_session_survives_a_restart(tmp_path, tenant, local) -> None:
    from lambdas.local.wiring import build_local

    company = FakeCompany(customers=120)
    ticket = start(local, tenant)
    assert exchange(local.relay, ticket, company, hcp=True) == 41
    reopened = build_local(tmp_path / "data", RelaySettings(), FIXED_PAGES)
    assert exchange(reopened.relay, ticket, company) == 83
    assert exchange(reopened.relay, ticket, company) == 100


def _state(errors: int = 0, **steps: tuple[int, int, str]):
    """A session whose steps (entity=(queued, unchanged, status)) were synced before."""
    from lambdas.qbwc.relay import SessionState
    from lambdas.sync.plan import Plan, Step

    plan = Plan(
        [
            Step(e, status=st, received=q + u, queued=q, unchanged=u, synced_before=True)
            for e, (q, u, st) in steps.items()
        ]
    )
    return SessionState(plan=plan, started_at=0, errors=errors)


D = "done"


@pytest.mark.parametrize(
    ("state", "text"),
    [
        # Nothing changed: the re-read records are not reported as synced.
        (
            _state(
                Item=(0, 1, D),
                Customer=(0, 1, D),
                Estimate=(0, 1, D),
                SalesOrder=(0, 1, D),
                Invoice=(0, 1, D),
                ReceivePayment=(0, 1, D),
                ListDeleted=(0, 0, D),
            ),
            "No changes; 6 records re-read",
        ),
        (_state(Customer=(0, 1, D)), "No changes; 1 record re-read"),
        (_state(Customer=(0, 0, D)), "No changes"),
        # Only changes.
        (_state(Customer=(1, 0, D)), "Synced 1 changed customer"),
        (
            _state(Item=(2, 0, D), Customer=(1_204, 0, D)),
            "Synced 2 changed items, 1,204 changed customers",
        ),
        # Mixed, with deletions.
        (
            _state(Item=(0, 10, D), Customer=(3, 30, D), ListDeleted=(1, 0, D)),
            "Synced 3 changed customers, 1 deletion; 40 re-read unchanged",
        ),
        (
            _state(Invoice=(1, 1, D), ListDeleted=(2, 0, D), TxnDeleted=(1, 0, D)),
            "Synced 1 changed invoice, 3 deletions; 1 re-read unchanged",
        ),
        (_state(TxnDeleted=(1, 0, D)), "Synced 1 deletion"),
        # Errors: counted, and the entities that failed named.
        (
            _state(1, Customer=(0, 5, D), Invoice=(0, 0, "failed")),
            "No changes; 5 records re-read (1 error; failed: invoices)",
        ),
        (
            _state(
                2, Customer=(4, 0, D), Invoice=(0, 0, "failed"), ReceivePayment=(0, 0, "failed")
            ),
            "Synced 4 changed customers (2 errors; failed: invoices, payments)",
        ),
        (_state(1, Customer=(0, 0, "pending")), "Nothing synced (1 error)"),
        (
            _state(
                5,
                Item=(0, 0, "failed"),
                Customer=(0, 0, "failed"),
                Estimate=(0, 0, "failed"),
                Invoice=(0, 0, "failed"),
                ListDeleted=(0, 0, "failed"),
            ),
            "Nothing synced (5 errors; failed: items, customers, estimates and 2 more)",
        ),
    ],
)
def test_summary_says_what_changed(state, text: str) -> None:
    assert summarize(state) == text


def test_summary_of_an_entitys_first_read_and_a_clock_problem() -> None:
    state = _state(Customer=(120, 0, D))
    state.plan.steps[0].synced_before = False
    assert summarize(state) == "Synced 120 customers"
    step = state.plan.steps[0]
    step.future_stamped, step.future_latest = 2, "2031-01-01T09:00:00"
    assert summarize(state).startswith(
        "Synced 120 customers. Workstation clock problem: 2 customers modified as late as "
        "2031-01-01 09:00:00"
    )


def test_run_history_counts_match_the_summary() -> None:
    from lambdas.qbwc.relay import run_record
    from lambdas.store.ports import SessionRecord

    state = _state(Item=(0, 10, D), Customer=(3, 30, D), ListDeleted=(1, 0, D))
    state.warnings = ["Customer 530: a warning"]
    run = run_record(SessionRecord("t", "acme", 0), state, 1.0)
    assert run.summary == "Synced 3 changed customers, 1 deletion; 40 re-read unchanged"
    assert run.status == "completed" and run.warnings == ["Customer 530: a warning"]
    assert run.entities["Customer"].queued == 3 and run.entities["ListDeleted"].queued == 1
    assert sum(c.unchanged for c in run.entities.values()) == 40
