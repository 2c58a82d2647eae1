"""Interleavings the fault-injection run (``test_fault_injection``) found breaking its end state,
replayed step by step (K1, the first of them, is in that module): a re-read answered
'unchanged' left in flight, a timed-out write whose work ZOHO did after a later deletion or a
newer version. They drive the real hand-off, forwarder core and audit over the
SQLite stores against the fake ZOHO CRM (the harness of ``test_integrity_interleavings``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from lambdas.store.sqlite import SqliteMappingStore, SqliteSyncStateStore
from lambdas.sync.handoff import HandOff
from lambdas.zoho.audit import Auditor
from lambdas.zoho.forwarder import Status
from lambdas.zoho.mapping import build_config
from tests.integration.test_integrity_interleavings import (
    SID,
    TENANT,
    Harness,
    ListQueue,
    v,
)
from tests.integration.zoho_helpers import ZohoEnv

IN_FLIGHT_SECONDS = 900.0
GONE = {
    "entity": "ListDeleted",
    "list_del_type": "Customer",
    "list_id": SID,
    "full_name": "Customer 1",
    "time_deleted": "2026-03-01T10:00:00-05:00",
}


@pytest.fixture
def h(zoho: ZohoEnv) -> Harness:
    """The harness of test_integrity_interleavings (relay hand-off and forwarder on SQLite)."""
    now = [1_780_000_000.0]
    mappings = SqliteMappingStore(zoho.db)
    queue = ListQueue()
    hand_off = HandOff("qbd", mappings, queue, None, lambda: now[0], IN_FLIGHT_SECONDS)
    return Harness(zoho, now, mappings, SqliteSyncStateStore(zoho.db), queue, hand_off)


class BeforeOutcomes:
    """A MappingStore delegating to SQLite that runs ``hook`` once, before the first outcome
    write (another process acting between a forwarder's ZOHO write and its outcomes)."""

    def __init__(self, inner: SqliteMappingStore, hook: Callable[[], None]) -> None:
        self.inner = inner
        self.hook: Callable[[], None] | None = hook

    def record_outcomes(self, outcomes):
        if self.hook is not None:
            hook, self.hook = self.hook, None
            hook()
        return self.inner.record_outcomes(outcomes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _audit_now(h: Harness):
    """The audit as run right after the pipeline settled (nothing is waiting on the queue)."""
    auditor = Auditor(h.mappings, h.refetch, lambda: h.now[0], IN_FLIGHT_SECONDS)
    return auditor.audit(TENANT, build_config(), h.zoho.client(TENANT))


# --- K2: a re-read answered 'unchanged' stays in flight ---------------------------------------


def test_k2_reread_answered_unchanged_is_not_left_in_flight(h: Harness) -> None:
    """V1 is in ZOHO; V2 is claimed and comes again (ZOHO unavailable). A duplicate of V1 loses
    its claim to V2: a conflict is marked and a re-read requested. V2's redelivery writes ZOHO;
    between its ZOHO write and its outcome write, the relay's re-read reads the row (conflict:
    send) and hands V2's content off again. The re-read's message finds ZOHO on its content
    ('unchanged'). The row must not keep saying 'handed off, no outcome': the audit would count
    it in flight, and leave it unjudged, for the whole in-flight horizon."""
    h.forward(h.read(v(1, "555-0001")))
    v1 = h.read(v(1, "555-0001"))
    assert v1 == []  # unchanged: not sent again
    v2 = h.read(v(2, "555-0002"))
    h.zoho.fake.inject("503", times=20, path="/crm/v8/Accounts")
    assert h.forward(v2).outcomes["0"].status == Status.RETRY  # V2 stays claimed
    h.zoho.fake.clear_faults()
    h.forward(h.read(v(1, "555-0001")))  # nothing: V1 applied
    duplicate = _v1_message(h)
    lost = h.forward(duplicate, deliveries=2)
    assert lost.outcomes["0"].status == Status.STALE
    assert SID in h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])

    reread: list = []

    def relay_rereads() -> None:
        h.now[0] += 5
        h.refetch.clear_refetch(TENANT, "qbd", "Customer", [SID])
        h.hand_off(TENANT, [[v(2, "555-0002")]], frozenset({("Customer", SID)}))
        reread.extend(h.queue.take())

    racing = BeforeOutcomes(h.mappings, relay_rereads)
    assert (
        h.forward(v2, deliveries=2, fwd=h.forwarder(mappings=racing)).outcomes["0"].status
        == Status.APPLIED
    )
    assert len(reread) == 1  # the row said 'conflict' when the relay read it
    assert h.forward(reread).outcomes["0"].status == Status.UNCHANGED
    assert h.phone_in_zoho() == "555-0002"
    row = h.mappings.get(TENANT, "qbd", "Customer", SID)
    assert row is not None
    report = _audit_now(h)
    assert not row.in_flight(row.handed_hash, h.now[0], IN_FLIGHT_SECONDS), row
    assert report.in_flight == 0 and report.drift == 0, report.to_json()


def _v1_message(h: Harness) -> list:
    """A duplicate delivery of V1's message (SQS delivers at least once)."""
    from lambdas.model.envelope import Envelope
    from lambdas.store.ports import QueueMessage

    env = Envelope.of(TENANT, "qbd", v(1, "555-0001"), h.now[0] - 100)
    return [QueueMessage(TENANT, env.to_json(), env.dedup_id)]


# --- K3/K4: a timed-out write's work done by ZOHO after a later write -------------------------


class LateWork:
    """The fake ZOHO's timeout fault held by the test: the request's work waits until
    ``land()`` (its answer is long given up on by then), so the test decides what came first."""

    def __init__(self, zoho: ZohoEnv, monkeypatch: pytest.MonkeyPatch) -> None:
        import sim.fake_zoho as fake_zoho

        self.zoho = zoho
        self.release = threading.Event()
        real = time

        class Clock:
            @staticmethod
            def sleep(_seconds: float) -> None:
                self.release.wait(10)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        monkeypatch.setattr(fake_zoho, "time", Clock())
        zoho.fake.inject("timeout", times=1, path="/crm/v8/Accounts/upsert")

    def land(self) -> None:
        """Let the held request do its work, and wait until it has."""
        self.release.set()
        deadline = time.monotonic() + 10
        while self.zoho.fake.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not self.zoho.fake.busy


def _short_timeouts(h: Harness) -> Any:
    """Forwarder clients that give up reading an answer after 0.2 s (and retry)."""
    return h.forwarder(clients=h.zoho.factory(timeout=(2.0, 0.2)))


def _redeliver(h: Harness, messages: list, report: Any) -> Any:
    """What the queue does next: a message left for later comes again, a done one does not."""
    again = [m for i, m in enumerate(messages) if report.outcomes[str(i)].status == Status.RETRY]
    return h.forward(again, deliveries=2) if again else None


def _accounts(h: Harness) -> list:
    return h.zoho.fake.by_field("Accounts", "QB_ListID", SID)


def test_k3_timed_out_create_done_by_zoho_after_the_deletion_is_deleted_again(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forwarder creates customer 1's Account; the first attempt times out and the client
    retries, which ZOHO answers: the outcome is recorded. QuickBooks deletes the customer and
    the deletion marks the Account inactive. Then ZOHO does the timed-out attempt's work: the
    Account is active again. Nothing may leave it so."""
    late = LateWork(h.zoho, monkeypatch)
    created = h.read(v(1, "555-0001"))
    first = h.forward(created, fwd=_short_timeouts(h))
    assert [a["QB_Active"] for a in _accounts(h)] == [True]
    deletion = h.forward(h.read(GONE))
    assert deletion.outcomes["0"].status == Status.APPLIED
    assert [a["QB_Active"] for a in _accounts(h)] == [False]
    late.land()
    assert [a["QB_Active"] for a in _accounts(h)] == [True]  # the late work undid the deletion
    _redeliver(h, created, first)
    report = h.audit()
    assert [a["QB_Active"] for a in _accounts(h)] == [False], (
        f"deleted customer active in ZOHO; first delivery {first.outcomes['0']}; "
        f"audit {report.to_json()}"
    )


def test_k4_timed_out_write_done_by_zoho_after_a_newer_version_is_written_again(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """V1 is in ZOHO. V2's write times out once and its retry is answered; V3 is written; then
    ZOHO does V2's timed-out attempt: ZOHO holds V2 under a row saying V3 is applied."""
    h.forward(h.read(v(1, "555-0001")))
    late = LateWork(h.zoho, monkeypatch)
    v2 = h.read(v(2, "555-0002"))
    first = h.forward(v2, fwd=_short_timeouts(h))
    assert h.phone_in_zoho() == "555-0002"
    h.forward(h.read(v(3, "555-0003")))
    late.land()
    assert h.phone_in_zoho() == "555-0002"  # the late work overwrote V3
    _redeliver(h, v2, first)
    pending = h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])
    if SID in pending:  # the relay's next session reads it again
        h.refetch.clear_refetch(TENANT, "qbd", "Customer", [SID])
        h.now[0] += 10
        h.hand_off(TENANT, [[v(3, "555-0003")]], frozenset({("Customer", SID)}))
        h.forward(h.queue.take())
    report = h.audit()
    assert h.phone_in_zoho() == "555-0003", (
        f"ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0003; first delivery "
        f"{first.outcomes['0']}; audit {report.to_json()}"
    )
