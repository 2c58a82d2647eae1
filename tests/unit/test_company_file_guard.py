"""The company-file guard: a session on another tenant's books is refused before any sync."""

from __future__ import annotations

import time

from lambdas.local.wiring import LocalRelay
from lambdas.store.ports import Tenant
from qbxml import DataExtDefAdd, build_message_set
from sim.fake_company import FakeCompany
from tests.conftest import PASSWORD


def first_request(local: LocalRelay, tenant: Tenant, company: FakeCompany) -> tuple[str, str]:
    ticket, status = local.relay.authenticate(tenant.qbwc_user, PASSWORD)
    assert status == ""
    return ticket, local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 13, 0)


def test_the_tenants_own_file_syncs(local, tenant) -> None:
    owner = local.tenants.deployment_owner_id()
    file_id = local.tenants.ensure_file_id(tenant.name)
    company = FakeCompany(customers=5, owner_id=owner, file_id=file_id.lower())
    ticket, request = first_request(local, tenant, company)
    assert "CustomerQueryRq" in request
    assert local.relay.receive_response_xml(ticket, company.process(request), "", "") == 100
    assert local.relay.close_connection(ticket) == "Synced 5 customers"
    assert local.tenants.get(tenant.name).last_summary == "Synced 5 customers"


def test_another_files_id_is_refused_and_nothing_is_queued(local, tenant) -> None:
    owner = local.tenants.deployment_owner_id()
    company = FakeCompany(
        customers=5, owner_id=owner, file_id="{11111111-2222-3333-4444-555555555555}"
    )
    ticket, request = first_request(local, tenant, company)
    assert request == ""
    message = local.relay.get_last_error(ticket)
    assert "{11111111-2222-3333-4444-555555555555}" in message
    assert local.tenants.ensure_file_id(tenant.name) in message
    summary = local.relay.close_connection(ticket)
    assert local.queue.depth() == 0
    run = local.runs.recent(tenant.name)[0]
    assert run.status == "failed" and run.errors == 1
    assert local.tenants.get(tenant.name).last_sync_at is None
    assert local.tenants.get(tenant.name).last_summary == summary


def test_a_file_id_under_another_owner_is_not_ours_to_judge(local, tenant) -> None:
    company = FakeCompany(
        customers=5,
        owner_id="{99999999-8888-7777-6666-555555555555}",
        file_id="{11111111-2222-3333-4444-555555555555}",
    )
    _, request = first_request(local, tenant, company)
    assert "CustomerQueryRq" in request


def test_the_first_session_stamps_the_file_id_and_the_guard_holds_after(local, tenant) -> None:
    owner = local.tenants.deployment_owner_id()
    company = FakeCompany(customers=5, owner_id=owner)
    assert company.file_id is None  # never opened by this application's Web Connector yet
    ticket, request = first_request(local, tenant, company)
    assert "<DataExtDefAddRq" in request and "<DataExtAddRq" in request
    assert 'onError="continueOnError"' in request
    percent = local.relay.receive_response_xml(ticket, company.process(request), "", "")
    while 0 <= percent < 100:
        request = local.relay.send_request_xml(ticket, "", "", "US", 13, 0)
        assert "DataExt" not in request
        percent = local.relay.receive_response_xml(ticket, company.process(request), "", "")
    local.relay.close_connection(ticket)
    assert company.file_id == local.tenants.ensure_file_id(tenant.name)
    # The same tenant again: recognised, nothing written.
    ticket, request = first_request(local, tenant, company)
    assert request and "DataExt" not in request
    local.relay.close_connection(ticket)
    # Another tenant's Web Connector pointed at these books is refused.
    other = Tenant(name="other", qbwc_user="other-qbwc", password_hash=tenant.password_hash)
    local.tenants.create(other)
    ticket, request = first_request(local, other, company)
    assert request == "" and "belongs to another .qwc" in local.relay.get_last_error(ticket)


def test_an_existing_definition_is_reused(local, tenant) -> None:
    owner = local.tenants.deployment_owner_id()
    company = FakeCompany(customers=5, owner_id=owner)
    # An earlier install defined the extension but never stored a value.
    define = build_message_set([DataExtDefAdd(request_id="1", owner_id=owner, name="FileID")])
    assert 'statusCode="0"' in company.process(define)
    ticket, request = first_request(local, tenant, company)
    answer = company.process(request)
    assert 'statusCode="3100"' in answer  # the definition exists already
    assert local.relay.receive_response_xml(ticket, answer, "", "") >= 0
    warnings = local.sessions.get(ticket, time.time()).state["warnings"]
    assert not [w for w in warnings if "identity" in w]
    assert company.file_id == local.tenants.ensure_file_id(tenant.name)
