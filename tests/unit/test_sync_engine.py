"""The sync engine over the relay core: watermarks, change detection, paging and run history."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from lambdas.local.wiring import LocalRelay, build_local
from lambdas.qbwc.relay import QbwcRelay, RelaySettings
from lambdas.qbwc.support_page import render_tenant
from lambdas.store.ports import EntitySyncState, StoreError, Tenant
from lambdas.sync.watermarks import ceiling
from sim.fake_company import FakeCompany
from tests.conftest import FIXED_PAGES, PASSWORD


@dataclass
class Run:
    exchanges: int
    percents: list[int]
    summary: str
    requests: list[str]


def sync(
    local: LocalRelay, tenant: Tenant, company: FakeCompany, stop_after: int | None = None
) -> Run:
    """One Web Connector session driven on the relay core; ``stop_after`` abandons it."""
    ticket, status = local.relay.authenticate(tenant.qbwc_user, PASSWORD)
    assert status == ""
    percents: list[int] = []
    requests: list[str] = []
    while not percents or 0 <= percents[-1] < 100:
        if stop_after is not None and len(requests) == stop_after:
            break
        hcp = company.hcp_response() if not requests else ""
        request = local.relay.send_request_xml(ticket, hcp, "", "US", 13, 0)
        assert request, local.relay.get_last_error(ticket)
        requests.append(request)
        percents.append(local.relay.receive_response_xml(ticket, company.process(request), "", ""))
    summary = local.relay.close_connection(ticket)
    return Run(len(requests), percents, summary, requests)


def queued_ids(local: LocalRelay) -> list[str]:
    out = []
    while batch := local.queue.receive(10):
        out += [json.loads(m.message.body)["record"]["list_id"] for m in batch]
        local.queue.delete([m.receipt for m in batch])
    return out


def touch(company: FakeCompany, index: int, when: datetime, **changes: str) -> str:
    """Modify a simulated customer as QuickBooks would: new content, time and EditSequence."""
    customer = company.customer_list[index]
    for name, value in changes.items():
        setattr(customer, name, value)
    customer.time_modified = when
    customer.edit_sequence = str(int(when.timestamp()))
    return customer.list_id


def test_first_run_is_full_and_sets_the_watermark_from_quickbooks_time(local, tenant) -> None:
    company = FakeCompany(customers=120)
    run = sync(local, tenant, company)
    assert run.exchanges == 3 and run.percents[-1] == 100
    assert "<FromModifiedDate>" not in run.requests[0]
    assert len(queued_ids(local)) == 120
    state = local.state.get_all(tenant.name)["Customer"]
    newest = max(c.time_modified for c in company.customer_list)
    assert state.watermark == newest.replace(tzinfo=None).isoformat()
    assert state.last_success_at is not None


def test_unchanged_data_queues_nothing_and_a_change_is_resent(local, tenant) -> None:
    company = FakeCompany(customers=120)
    sync(local, tenant, company)
    queued_ids(local)
    again = sync(local, tenant, company)
    # Incremental: starts the safety margin before the watermark; nothing new reaches the queue.
    state = local.state.get_all(tenant.name)["Customer"]
    start = datetime.fromisoformat(state.watermark) - timedelta(hours=2)
    assert f"<FromModifiedDate>{start.isoformat()}</FromModifiedDate>" in again.requests[0]
    assert queued_ids(local) == []
    refetched = local.runs.recent(tenant.name)[0].entities["Customer"].received
    assert refetched >= 1
    noun = "record" if refetched == 1 else "records"
    assert again.summary == f"No changes; {refetched} {noun} re-read"
    later = datetime.fromisoformat(state.watermark).replace(
        tzinfo=company.customer_list[0].time_modified.tzinfo
    )
    changed = touch(company, 5, later + timedelta(minutes=3), name="Renamed & Co")
    third = sync(local, tenant, company)
    assert queued_ids(local) == [changed]
    assert third.exchanges == 1
    # Saved in QuickBooks without a content change: newer time, same content, not re-sent.
    touch(company, 7, later + timedelta(minutes=4))
    sync(local, tenant, company)
    assert queued_ids(local) == []


def test_watermark_moves_only_when_the_iterator_finished(local, tenant) -> None:
    company = FakeCompany(customers=120)
    sync(local, tenant, company, stop_after=1)
    assert "Customer" not in local.state.get_all(tenant.name) or (
        local.state.get_all(tenant.name)["Customer"].watermark is None
    )
    again = sync(local, tenant, company)
    assert "<FromModifiedDate>" not in again.requests[0]
    # The abandoned page was already handed off and is not queued twice.
    assert len(queued_ids(local)) == 120


def test_a_failed_hand_off_advances_nothing(local, tenant, monkeypatch) -> None:
    company = FakeCompany(customers=120)
    ticket, _ = local.relay.authenticate(tenant.qbwc_user, PASSWORD)
    request = local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 13, 0)

    def refuse(messages):
        raise StoreError("queue unavailable")

    monkeypatch.setattr(local.queue, "send", refuse)
    assert local.relay.receive_response_xml(ticket, company.process(request), "", "") == -1
    assert "Nothing was lost" in local.relay.get_last_error(ticket)
    local.relay.close_connection(ticket)
    assert local.mappings.list(tenant.name) == []
    assert local.state.get_all(tenant.name) == {}
    monkeypatch.undo()
    run = sync(local, tenant, company)
    assert run.percents[-1] == 100 and len(queued_ids(local)) == 120


def test_daylight_saving_repeated_hour_is_not_missed(local, tenant) -> None:
    company = FakeCompany(customers=3)
    edt, est = timezone(timedelta(hours=-4)), timezone(timedelta(hours=-5))
    for i in range(3):
        touch(company, i, datetime(2026, 10, 30, 12, i, tzinfo=edt))
    # 01:50 EDT, then clocks go back: 01:10 EST is later in real time but earlier on the wall.
    touch(company, 0, datetime(2026, 11, 1, 1, 50, tzinfo=edt))
    sync(local, tenant, company)
    queued_ids(local)
    assert local.state.get_all(tenant.name)["Customer"].watermark == "2026-11-01T01:50:00"
    changed = touch(company, 1, datetime(2026, 11, 1, 1, 10, tzinfo=est), name="After the change")
    sync(local, tenant, company)
    assert queued_ids(local) == [changed]


def test_each_session_leaves_a_run_history_row(local, tenant) -> None:
    company = FakeCompany(customers=60)
    first = sync(local, tenant, company)
    second = sync(local, tenant, company)
    runs = local.runs.recent(tenant.name)
    assert [r.summary for r in runs] == [second.summary, first.summary]
    assert runs[1].status == "completed" and runs[1].exchanges == 2
    assert runs[1].entities["Customer"].received == 60
    assert runs[1].entities["Customer"].queued == 60
    assert runs[0].entities["Customer"].queued == 0
    assert runs[0].entities["Customer"].unchanged == runs[0].entities["Customer"].received
    assert local.tenants.get(tenant.name).last_sync_at is not None


def drain_into(local: LocalRelay, consumer: dict[str, dict]) -> int:
    """A consumer applying queue messages idempotently, newest EditSequence wins; returns count."""
    applied = 0
    while batch := local.queue.receive(10):
        for m in batch:
            record = json.loads(m.message.body)["record"]
            held = consumer.get(record["list_id"])
            if held is None or int(held["edit_sequence"]) <= int(record["edit_sequence"]):
                consumer[record["list_id"]] = record
            applied += 1
        local.queue.delete([m.receipt for m in batch])
    return applied


def test_relay_stopped_between_hand_off_and_checkpoint(
    tmp_path, local, tenant, monkeypatch
) -> None:
    company = FakeCompany(customers=120)
    ticket, _ = local.relay.authenticate(tenant.qbwc_user, PASSWORD)

    def one(hcp: str = "") -> int:
        request = local.relay.send_request_xml(ticket, hcp, "", "US", 13, 0)
        return local.relay.receive_response_xml(ticket, company.process(request), "", "")

    assert one(company.hcp_response()) > 0
    real_save = local.sessions.save

    def killed(record):
        if record.state.get("pending") == {}:  # the save that would record the second answer
            raise SystemExit("relay process stopped")
        real_save(record)

    monkeypatch.setattr(local.sessions, "save", killed)
    with pytest.raises(SystemExit):
        one()
    monkeypatch.undo()
    consumer: dict[str, dict] = {}
    assert drain_into(local, consumer) == 100  # two pages were handed off before the stop
    # The restarted relay: the dead session's lease runs out, then the next update runs.
    restarted = build_local(tmp_path / "data", RelaySettings(), FIXED_PAGES)
    later = QbwcRelay(
        restarted.tenants,
        restarted.sessions,
        restarted.engine,
        restarted.runs,
        clock=lambda: time.time() + RelaySettings().session_ttl_seconds + 1,
    )
    restarted.relay = later
    run = sync(restarted, tenant, company)
    assert run.percents[-1] == 100
    assert drain_into(restarted, consumer) == 20  # only what never reached the queue
    assert {i: r["name"] for i, r in consumer.items()} == {
        c.list_id: c.name for c in company.customer_list
    }


def test_a_record_stamped_in_the_future_is_synced_but_does_not_move_the_watermark(
    local, tenant, caplog
) -> None:
    company = FakeCompany(customers=5)
    sync(local, tenant, company)
    queued_ids(local)
    before = local.state.get_all(tenant.name)["Customer"].watermark
    normal_time = company.clock.now()
    # A workstation whose clock says 2031 saves a customer.
    ahead = company.customer_list[1].list_id
    company.clock.set(datetime(2031, 1, 1, 9, 0))
    company.modify("Customer", ahead, name="Saved in 2031")
    company.clock.set(normal_time)
    with caplog.at_level(logging.WARNING, logger="lambdas"):
        second = sync(local, tenant, company)
    assert queued_ids(local) == [ahead]  # still synced
    watermark = local.state.get_all(tenant.name)["Customer"].watermark
    assert datetime.fromisoformat(watermark) <= datetime.fromisoformat(ceiling(time.time()))
    assert watermark == before
    problem = "Workstation clock problem: 1 customer modified as late as 2031-01-01 09:00:00"
    assert second.summary.startswith("Synced 1 changed customer")
    assert problem in second.summary
    run = local.runs.recent(tenant.name)[0]
    assert run.summary == second.summary and run.warnings[0].startswith(problem)
    assert any("stamped in the future" in r.getMessage() for r in caplog.records)
    assert any(problem in r.getMessage() for r in caplog.records)
    assert problem in render_tenant(local.tenants.get(tenant.name)).decode()
    # A normal change after the wrong one reaches the queue in the next session.
    company.clock.advance(minutes=10)
    changed = company.customer_list[3].list_id
    company.modify("Customer", changed, name="Changed later")
    third = sync(local, tenant, company)
    assert queued_ids(local) == [changed]
    assert problem in third.summary  # the 2031 record is read again until its date is right


def test_a_future_watermark_stored_before_the_ceiling_is_not_trusted(local, tenant) -> None:
    local.state.put(
        EntitySyncState(tenant.name, "Customer", watermark="2031-01-01T09:00:00", last_success_at=1)
    )
    step = local.engine.plan(tenant).steps[0]
    assert step.modified_from is None and step.watermark is None
    company = FakeCompany(customers=5)
    sync(local, tenant, company)
    newest = max(c.time_modified for c in company.customer_list)
    assert local.state.get_all(tenant.name)["Customer"].watermark == (
        newest.replace(tzinfo=None).isoformat()
    )


@pytest.mark.parametrize("hours", [0, 2, 9])
def test_the_tenants_watermark_margin_sets_from_modified_date(local, tenant, hours) -> None:
    local.state.put(
        EntitySyncState(tenant.name, "Customer", watermark="2025-06-30T17:00:00", last_success_at=1)
    )
    tenant.watermark_margin_seconds = hours * 3600
    local.tenants.update(tenant)
    stored = local.tenants.get(tenant.name)
    assert stored.watermark_margin_seconds == hours * 3600
    start = datetime(2025, 6, 30, 17, 0) - timedelta(hours=hours)
    assert local.engine.plan(stored).steps[0].modified_from == start.isoformat()
    ticket, _ = local.relay.authenticate(tenant.qbwc_user, PASSWORD)
    request = local.relay.send_request_xml(
        ticket, FakeCompany(customers=1).hcp_response(), "", "US", 13, 0
    )
    assert f"<FromModifiedDate>{start.isoformat()}</FromModifiedDate>" in request


def test_a_tenant_stored_before_the_margin_setting_gets_the_default() -> None:
    item = Tenant(name="a", qbwc_user="u", password_hash="h").to_item()
    del item["watermark_margin_seconds"]
    assert Tenant.from_item(item).watermark_margin_seconds == 7200
    item["watermark_margin_seconds"] = 0
    assert Tenant.from_item(item).watermark_margin_seconds == 0


def queued_bodies(local: LocalRelay) -> list[dict]:
    out = []
    while batch := local.queue.receive(10):
        out += [json.loads(m.message.body) for m in batch]
        local.queue.delete([m.receipt for m in batch])
    return out


def test_a_version_past_the_relays_clock_is_sent_as_the_read_time(local, tenant) -> None:
    company = FakeCompany(customers=3)
    sync(local, tenant, company)
    assert all(int(b["version"]) < time.time() for b in queued_bodies(local))
    ahead = company.customer_list[1].list_id
    company.clock.set(datetime(2031, 1, 1, 9, 0))
    company.modify("Customer", ahead, name="Saved in 2031")
    before = int(time.time())
    sync(local, tenant, company)
    (body,) = queued_bodies(local)
    # The record keeps QuickBooks' EditSequence; the envelope claims only the read time.
    assert int(body["record"]["edit_sequence"]) > time.time() + 4 * 365 * 86400  # 2031
    assert before <= int(body["version"]) <= time.time()
    run = local.runs.recent(tenant.name)[0]
    assert any(w.startswith("implausible version: 1 record(s)") for w in run.warnings), run


def test_a_hand_off_window_the_store_refuses_does_not_fail_the_session(
    local, tenant, monkeypatch
) -> None:
    def refused(*_: object) -> None:
        raise StoreError("the state table is unavailable")

    monkeypatch.setattr(type(local.state), "handoff_window", refused)
    monkeypatch.setattr(type(local.state), "count_handoffs", refused)
    run = sync(local, tenant, FakeCompany(customers=30))
    assert run.percents[-1] == 100
    assert len(queued_ids(local)) == 30  # not held: under the session cap
    assert local.runs.recent(tenant.name)[0].status == "completed"
