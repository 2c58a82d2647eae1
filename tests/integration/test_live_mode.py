"""Live mode over real HTTP: the fake Web Connector on a live schedule against the relay on
loopback. "none" when nothing is due (one small read, no session row), the NoOp hold that writes
a write-back operation arriving mid-session and then ends by its bound, change probes that cost
a few hundred bytes on an idle company, and business hours."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.local.server import RelayServer
from lambdas.local.wiring import build_local
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from lambdas.qbwc.live import NOOP, wait_seconds
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.store.ports import Tenant
from lambdas.sync.engine import SyncSettings
from lambdas.sync.paging import PagePolicy
from lambdas.writeback.model import ACCOUNTS, ADD, CUSTOMER, OpStatus, WriteOp, op_id
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from tests.conftest import PASSWORD

USER = "acme-qbwc"
INTERVAL = 60
_seq = itertools.count(int(time.time() * 1e6))


class Counting:
    """A port wrapper that counts the calls made on it, by method name."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return value(*args, **kwargs)

        return counted


class LiveRig:
    """The relay on loopback with a virtual clock; every qbXML exchange's sizes recorded."""

    def __init__(self, local, company: FakeCompany) -> None:
        self.local = local
        self.company = company
        self.now = time.time()
        self.exchanges: list[tuple[str, str]] = []
        process = company.process

        def recorded(request: str) -> str:
            answer = process(request)
            self.exchanges.append((request, answer))
            return answer

        company.process = recorded  # type: ignore[method-assign]
        local.relay.clock = lambda: self.now
        self.server = RelayServer(RelayWsgiApp(local.endpoint), "127.0.0.1", 0, threads=2)
        self.server.start_in_thread()
        self.qbwc = FakeWebConnector(
            self.server.url + SOAP_PATH, owner_id=local.tenants.deployment_owner_id()
        )

    def session(self, on_noop=None, max_noops: int = 200):
        """One update; each NoOp pause moves the clock 5 s, as QBWC's pause would."""
        self.exchanges.clear()

        def pause(n: int) -> None:
            self.now += 5
            if on_noop is not None:
                on_noop(n)

        return self.qbwc.run_session(
            USER, PASSWORD, self.company, max_noops=max_noops, noop_pause=0, on_noop=pause
        )

    def close(self) -> None:
        self.qbwc.close()
        self.server.stop()


def make_tenant(local, **settings: Any) -> Tenant:
    t = Tenant(
        name="acme",
        qbwc_user=USER,
        password_hash=hash_password(PASSWORD),
        enabled_entities=("Customer", "Invoice"),
        live_interval_seconds=INTERVAL,
        **{"live": True, **settings},
    )
    local.tenants.create(t)
    return t


@pytest.fixture
def rig(tmp_path) -> Iterator[LiveRig]:
    made: list[LiveRig] = []

    def build(
        company: FakeCompany | None = None, sync: SyncSettings | None = None, **settings: Any
    ) -> LiveRig:
        # The adaptive page sizes (not the tests' fixed ones), so business hours' cap shows.
        local = build_local(tmp_path / "data", RelaySettings(), sync or SyncSettings())
        make_tenant(local, **settings)
        made.append(
            LiveRig(local, company or FakeCompany(customers=12, items=3, invoices=8, seed=4))
        )
        return made[-1]

    yield build  # type: ignore[misc]
    for r in made:
        r.close()


def account(zoho_id: str, name: str) -> WriteOp:
    return WriteOp(
        tenant="acme",
        op_id=op_id(ACCOUNTS, zoho_id, "2024-05-01T10:00:00+00:00"),
        seq=next(_seq),
        kind=CUSTOMER,
        action=ADD,
        edition="qbd",
        zoho_module=ACCOUNTS,
        zoho_id=zoho_id,
        zoho_version="2024-05-01T10:00:00+00:00",
        fields={"name": name},
    )


def test_a_finished_live_session_holds_with_noop_until_its_bound(rig) -> None:
    r = rig()
    started = r.now
    result = r.session()
    # The hold: 99 for the finished plan, NoOps for the interval, then the closing round's 100.
    assert result.percents[-1] == 100 and 99 in result.percents
    assert result.noops == wait_seconds(INTERVAL) // 5
    assert r.now - started == pytest.approx(wait_seconds(INTERVAL), abs=5)
    assert result.last_error is None
    assert "customers" in result.close_message
    run = r.local.runs.recent("acme", 1)[0]
    assert run.status == "completed" and run.last_error == ""


def test_authenticate_answers_none_with_one_small_read_until_a_probe_is_due(rig) -> None:
    r = rig(writeback=True)
    r.session()
    sessions, writes = Counting(r.local.relay.sessions), Counting(r.local.relay.writeback.store)
    r.local.relay.sessions, r.local.relay.writeback.store = sessions, writes
    capture = r.local.relay.writeback.capture
    captured: list[str] = []
    r.local.relay.writeback.capture = lambda t: captured.append(t.name)
    try:
        r.now += INTERVAL / 2
        early = r.session()
        assert early.auth_status == "none"
        # One small read: is a write-back operation open? No session row, no ZOHO capture.
        assert writes.calls == ["open_ops"]
        assert "create" not in sessions.calls and "save" not in sessions.calls
        assert captured == []
        # An operation arrives: the next run opens a session for it, before the interval.
        r.local.writeback.enqueue(account("z-1", "Northwind Traders"))
        r.now += 1
        assert r.session(max_noops=0).auth_status == ""
        # The interval passed: a probe is due.
        r.now += INTERVAL
        assert r.session(max_noops=0).auth_status == ""
    finally:
        r.local.relay.writeback.capture = capture


def test_a_write_back_operation_arriving_mid_hold_is_written_in_the_same_session(rig) -> None:
    r = rig(writeback=True)
    r.session()
    r.now += INTERVAL
    op = account("z-7", "Fabrikam Mid-Session")

    def arrive(n: int) -> None:
        if n == 3:
            r.local.writeback.enqueue(op)

    result = r.session(on_noop=arrive)
    assert result.percents[-1] == 100
    added = [q for q, _ in r.exchanges if "<CustomerAddRq " in q]
    assert len(added) == 1
    assert [c for c in r.company.data.customers.values() if c.name == "Fabrikam Mid-Session"]
    assert r.local.writeback.get("acme", op.op_id).status == OpStatus.APPLIED
    # Written after the third NoOp, and the hold went on after it to its bound.
    assert result.noops > 3


def test_a_tenant_that_is_not_live_never_gets_noop(rig) -> None:
    r = rig(live=False)
    result = r.session()
    assert result.noops == 0 and 99 not in result.percents and result.percents[-1] == 100
    # Asked for more after its plan finished, it says so, never "NoOp" (QBWC would ask again
    # for ever).
    ticket = r.local.relay.authenticate(USER, PASSWORD)[0]
    r.local.relay.send_request_xml(ticket, r.company.hcp_response(r.qbwc.owner_id), "", "US", 13, 0)
    assert r.local.relay.get_last_error(ticket) != NOOP


def test_an_idle_company_costs_a_few_hundred_bytes_per_probe(rig) -> None:
    r = rig()
    r.session()
    r.now += INTERVAL
    result = r.session()
    assert result.close_message.startswith("No changes")
    probes = [(q, a) for q, a in r.exchanges if "IncludeRetElement" in q]
    assert probes and len(probes) == len(r.exchanges)
    for request, answer in probes:
        assert "<ListID>" in answer or "<TxnID>" in answer or 'statusCode="1"' in answer
        assert "<Name>" not in answer and "<InvoiceLineRet>" not in answer
        # The measured cost of one idle cycle, both ways (printed for the report).
        sent, got = len(request.encode()), len(answer.encode())
        print(f"idle probe: {sent} bytes sent, {got} bytes received")
        assert sent + got < 2048


def test_a_change_is_probed_then_read_whole_by_id(rig) -> None:
    r = rig()
    r.session()
    customer = next(iter(r.company.data.customers.values()))
    r.company.clock.advance(minutes=1)
    r.company.modify("Customer", customer.list_id, phone="555-0000")
    r.now += INTERVAL
    r.session()
    by_id = [q for q, _ in r.exchanges if f"<ListID>{customer.list_id}</ListID>" in q]
    assert by_id and "IncludeRetElement" not in by_id[0]
    bodies = [m for m in r.local.queue.peek(1000) if customer.list_id in m]
    assert any("555-0000" in b for b in bodies)


def _at(hour: int) -> float:
    """A Wednesday in January at ``hour``:00 in America/Chicago (UTC-6), as epoch seconds."""
    return (datetime(2026, 1, 14, 6, 0, tzinfo=UTC) + timedelta(hours=hour)).timestamp()


def test_business_hours_defer_a_full_read_and_cap_pages(rig) -> None:
    r = rig(business_hours="Mon-Fri 08:00-18:00", time_zone="America/Chicago")
    r.local.engine.clock = lambda: r.now
    r.now = _at(10)
    first = r.session()
    # Nothing read whole within the hours: the first sync waits, so the answer is "none".
    assert first.auth_status == "none" and not r.exchanges
    r.now = _at(19)
    after = r.session()
    assert after.percents[-1] == 100
    assert not any("<MaxReturned>50</MaxReturned>" in q for q, _ in r.exchanges)
    # Back within the hours, incremental reads go on with small pages.
    r.now = _at(19) + 14 * 3600  # 09:00 the next day
    within = r.session(max_noops=0)
    assert within.auth_status == ""
    asked = [q for q, _ in r.exchanges if "<MaxReturned>" in q]
    assert asked and all("<MaxReturned>50</MaxReturned>" in q for q in asked)


def _lose(queue: Any, source_id: str) -> None:
    """Take a record's messages off the queue with no forwarder outcome (as SQS moves a message
    to the dead-letter queue after maxReceiveCount when every delivery crashed)."""
    lost = [m.receipt for m in queue.receive(1000) if source_id in m.message.body]
    assert lost
    queue.delete(lost)


@pytest.mark.parametrize("live", [False, True])
def test_a_hand_off_that_never_landed_is_sent_again_by_a_probe_as_by_a_full_read(
    rig, live: bool
) -> None:
    # The hand-off promise (sync/handoff.py): content consumed but never applied is sent again
    # once it is no longer in flight, when its record is read again within the margin. A probe
    # sees the same EditSequence as the one handed off; that alone must not make it unchanged.
    r = rig(live=live)
    r.local.engine.clock = r.local.engine.hand_off.clock = lambda: r.now
    r.session()
    customer = next(iter(r.company.data.customers.values()))
    r.company.clock.advance(minutes=1)
    r.company.modify("Customer", customer.list_id, phone="555-0101")
    r.now += INTERVAL
    r.session()
    _lose(r.local.queue, customer.list_id)
    r.now += r.local.engine.settings.in_flight_seconds + INTERVAL
    r.session()
    bodies = [m for m in r.local.queue.peek(1000) if customer.list_id in m]
    assert any("555-0101" in b for b in bodies)


def test_a_session_ended_from_outside_during_the_hold_ends_at_once(rig) -> None:
    # rotate-password (a stolen password) or tenant remove closes the tenant's sessions: the
    # Web Connector must be told so at its next call, not "NoOp" again until the ticket expires.
    r = rig()

    def rotate(n: int) -> None:
        if n == 2:
            r.local.relay.sessions.end_sessions("acme", r.now)

    result = r.session(on_noop=rotate)
    assert result.noops == 2
    assert result.last_error is not None and "has ended" in result.last_error


def test_the_hold_keeps_the_error_a_session_recorded(rig) -> None:
    # getLastError answers "NoOp" during the hold; the session's own error (an entity QuickBooks
    # refused) must still reach the run history and the session.completed event.
    r = rig()
    process = r.company.process
    refused = (
        r'<InvoiceQueryRs requestID="\1" statusCode="3260" statusSeverity="Error" '
        'statusMessage="Insufficient permission level to perform this action."/>'
    )

    def no_invoices(request: str) -> str:
        answer = process(request)
        return re.sub(
            r'<InvoiceQueryRs requestID="([^"]+)".*?(?:</InvoiceQueryRs>|/>)',
            refused,
            answer,
            flags=re.S,
        )

    r.company.process = no_invoices  # type: ignore[method-assign]
    result = r.session()
    assert result.noops and result.percents[-1] == 100
    run = r.local.runs.recent("acme", 1)[0]
    assert run.status == "partial" and run.errors == 1
    assert "3260" in run.last_error


def test_business_hours_do_not_hold_back_the_first_record_of_an_empty_entity(rig) -> None:
    # An entity read to the end with no record has no watermark, so its next read is a full
    # one: within business hours that must not wait for the evening (its full read is empty,
    # and the first invoice of the day would otherwise be hours late in live mode).
    company = FakeCompany(customers=12, items=3, invoices=0, seed=4)
    r = rig(company, business_hours="Mon-Fri 08:00-18:00", time_zone="America/Chicago")
    r.local.engine.clock = lambda: r.now
    r.now = _at(19)
    r.session()
    r.now = _at(19) + 14 * 3600  # 09:00 the next day
    r.company.clock.advance(hours=14)
    invoice = r.company.add("Invoice")
    r.session(max_noops=0)
    assert "waits until after business hours" not in r.local.runs.recent("acme", 1)[0].summary
    assert any(invoice in body for body in r.local.queue.peek(1000))


def test_the_reads_by_id_of_many_changes_keep_each_exchange_near_the_byte_target(rig) -> None:
    # A mass edit in QuickBooks: the probe names every invoice; reading them by id must not put
    # them all into one message set (QuickBooks held for the whole of it, a response past the
    # API's request limit), but keep each exchange near the page policy's target.
    target = 150_000
    company = FakeCompany(customers=10, items=4, invoices=240, seed=6)
    r = rig(company, SyncSettings(paging=PagePolicy(target_bytes=target)))
    r.session(max_noops=0)
    r.company.clock.advance(minutes=1)
    for txn_id in list(r.company.data.txns["Invoice"]):
        r.company.modify("Invoice", txn_id, memo="repriced")
    r.now += INTERVAL
    r.session(max_noops=0)
    answers = [len(a.encode()) for q, a in r.exchanges if "<TxnID>" in q]
    assert sum(answers) > 3 * target  # the invoices read by id
    assert max(answers) <= 1.5 * target
    queued = [b for b in r.local.queue.peek(10_000) if "repriced" in b]
    assert len(queued) == 240


def test_a_change_probed_in_a_session_abandoned_before_its_read_lands_next_session(rig) -> None:
    # The probe moves the watermark past the change; the read by id it asked for is stored
    # first, so the Web Connector dying between the two loses nothing.
    r = rig()
    r.session()
    customer = next(iter(r.company.data.customers.values()))
    r.company.clock.advance(minutes=1)
    r.company.modify("Customer", customer.list_id, phone="555-0202")
    r.now += INTERVAL
    r.exchanges.clear()
    abandoned = r.qbwc.run_session(USER, PASSWORD, r.company, abandon_after=1)
    assert abandoned.abandoned and not any("555-0202" in m for m in r.local.queue.peek(1000))
    r.now += r.local.relay.settings.busy_lease_seconds + INTERVAL
    r.session(max_noops=0)
    assert any("555-0202" in m for m in r.local.queue.peek(1000))
