"""Interleavings the fault-injection run (``test_fault_injection``) found breaking its end state,
replayed step by step (K1, the first of them, is in that module): a re-read answered
'unchanged' left in flight. They drive the real hand-off, forwarder core and audit over the
SQLite stores against the fake ZOHO CRM (the harness of ``test_integrity_interleavings``).
"""

from __future__ import annotations

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
