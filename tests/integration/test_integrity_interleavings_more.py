"""More interleavings and inputs a second review found breaking "nothing lost, nothing
duplicated" (each test is named after the defect it once showed): a crashed write hidden by an
undone change in the same batch, a suspect acknowledged when an outcome write failed, an audit
repair of a record deleted in ZOHO, relay clocks disagreeing on read order, a parked contact
the audit did not see, a re-drive blind to letters behind other tenants'. Each test drives the
real hand-off, forwarder core and audit over the SQLite stores against the fake ZOHO CRM (the
harness of ``test_integrity_interleavings``), and asserts the promise: ZOHO ends on
QuickBooks' current content, or something (a pending re-read, a retry, the audit) says it does
not.
"""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from lambdas.store.ports import DeadLetter, QueueMessage
from lambdas.store.sqlite import SqliteDeadLetterQueue, SqliteMappingStore, SqliteSyncStateStore
from lambdas.sync.handoff import HandOff
from lambdas.zoho.audit import Auditor
from lambdas.zoho.client import RecordResult
from lambdas.zoho.forwarder import Status
from lambdas.zoho.mapping import build_config
from tests.integration.test_integrity_interleavings import (
    SID,
    TENANT,
    Crash,
    Harness,
    ListQueue,
    Mappings,
    _racing_client,
    v,
)
from tests.integration.zoho_helpers import ZohoEnv, customer, invoice, item


@pytest.fixture
def h(zoho: ZohoEnv) -> Harness:
    """The harness of test_integrity_interleavings (relay hand-off and forwarder on SQLite)."""
    now = [1_780_000_000.0]
    mappings = SqliteMappingStore(zoho.db)
    queue = ListQueue()
    hand_off = HandOff("qbd", mappings, queue, None, lambda: now[0], 900.0)
    return Harness(zoho, now, mappings, SqliteSyncStateStore(zoho.db), queue, hand_off)


def _batch(h: Harness, items: list[tuple[QueueMessage, int]], fwd: Any = None):
    """One forwarder batch of (message, deliveries so far)."""
    h.now[0] += 1
    fwd = fwd or h.forwarder()
    batch = [(str(i), m.body) for i, (m, _) in enumerate(items)]
    return fwd.forward(batch, {str(i): n for i, (_, n) in enumerate(items)})


def _crash_after_zoho_write(h: Harness, messages: list[QueueMessage]) -> None:
    """A forwarder claims and writes ``messages`` to ZOHO, then dies before its outcomes."""
    crashing = Mappings(h.mappings)
    crashing.fail_outcome_call, crashing.failure = 1, Crash
    with pytest.raises(Crash):
        h.forward(messages, fwd=h.forwarder(mappings=crashing))


# --- R1: a redelivered loser superseded *in its batch* is not a suspect ------------------------


def test_r1_redelivery_superseded_in_batch_by_an_unchanged_revert_hides_a_crashed_write(
    h: Harness,
) -> None:
    """V1 (phone A) is in ZOHO. Forwarder X claims V2 (phone B), writes ZOHO and dies before
    its outcome. The user undoes the change (V3 = A); the relay sends V3 (V2 is outstanding).
    SQS redelivers V2 (deliveries=2) in the same batch as V3. ``current()`` marks V2 'superseded
    in the batch' without ``suspect()``; V3 is 'unchanged' (applied_hash == A). ZOHO keeps B,
    the row says A applied and A handed off: no conflict, no re-read, no drift."""
    h.forward(h.read(v(1, "555-0001")))
    v2 = h.read(v(2, "555-0002"))
    _crash_after_zoho_write(h, v2)
    assert h.phone_in_zoho() == "555-0002"
    v3 = h.read(v(3, "555-0001"))
    assert len(v3) == 1  # sent: something newer than ZOHO's content is outstanding
    report = _batch(h, [(v2[0], 2), (v3[0], 1)])
    statuses = [report.outcomes[k].status for k in ("0", "1")]
    pending = h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])
    audit = h.audit()
    assert h.phone_in_zoho() == "555-0001" or SID in pending or audit.drift > 0, (
        f"ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0001; outcomes {statuses}, "
        f"re-reads {pending}, audit {audit.to_json()}"
    )


# --- R2: a suspect's conflict is dropped when another message's outcome write fails -----------


def test_r2_suspect_is_acknowledged_without_conflict_when_the_batch_outcome_write_fails(
    h: Harness,
) -> None:
    """F2's interleaving (forwarder A's V2 write lands after B's V3, A dies), then SQS
    redelivers V2 in a batch with another customer's new record. The other record's outcome
    write fails (a throttled UpdateItem): ``finish()`` returns before ``_conflicts``, so the
    redelivered V2 keeps its STALE outcome and is deleted from the queue with no conflict mark
    and no re-read. ZOHO keeps V2, the row says V3 applied; the audit sees no drift."""
    h.forward(h.read(v(1, "555-0001")))
    v2 = h.read(v(2, "555-0002"))
    h.now[0] += 1
    v3 = h.read(v(3, "555-0003"))
    crashing = Mappings(h.mappings)
    crashing.fail_outcome_call, crashing.failure = 1, Crash
    fwd_a = h.forwarder(mappings=crashing, clients=_racing_client(h, lambda: h.forward(v3)))
    with pytest.raises(Crash):
        h.forward(v2, fwd=fwd_a)
    assert h.phone_in_zoho() == "555-0002"
    other = h.read(customer(2))
    flaky = Mappings(h.mappings)
    flaky.fail_outcome_call = 1  # the batch's outcomes (customer 2's SYNCED)
    report = _batch(h, [(v2[0], 2), (other[0], 1)], fwd=h.forwarder(mappings=flaky))
    status = report.outcomes["0"].status
    assert report.outcomes["1"].status == Status.RETRY  # customer 2 comes again, and lands
    _batch(h, [(other[0], 2)])
    pending = h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])
    audit = h.audit()
    assert (
        h.phone_in_zoho() == "555-0003"
        or status == Status.RETRY
        or SID in pending
        or audit.drift > 0
    ), (
        f"ZOHO holds {h.phone_in_zoho()!r}, QuickBooks 555-0003; redelivered V2 {status}, "
        f"re-reads {pending}, audit {audit.to_json()}"
    )


# --- R3: audit --repair of a 'missing' record never brings it back ----------------------------


def test_r3_repair_of_a_record_deleted_in_zoho_is_skipped_by_the_relay(h: Harness) -> None:
    """A ZOHO user deletes a synced Account. The audit reports it 'missing' and --repair asks
    the next session to re-read it. The relay does read it again (forced), but ``_skip`` returns
    True before looking at ``forced``: applied_hash equals the content and the row is synced.
    Nothing is sent, the re-read request is cleared, and every later audit reports the same
    record missing (and every --repair re-reads it for nothing)."""
    h.forward(h.read(v(1, "555-0001")))
    (account,) = h.zoho.fake.by_field("Accounts", "QB_ListID", SID)
    with h.zoho.fake._lock:
        del h.zoho.fake.records["Accounts"][account["id"]]
    h.now[0] += 3600
    auditor = Auditor(h.mappings, h.refetch, lambda: h.now[0])
    first = auditor.audit(TENANT, build_config(), h.zoho.client(TENANT), repair=True)
    assert first.counts["missing"] >= 1
    assert SID in h.refetch.pending_refetch(TENANT, "qbd").get("Customer", [])
    # The next session's re-read step (the engine clears the request and passes it as forced).
    h.refetch.clear_refetch(TENANT, "qbd", "Customer", [SID])
    h.now[0] += 10
    h.hand_off(TENANT, [[v(1, "555-0001")]], frozenset({("Customer", SID)}))
    sent = h.queue.take()
    if sent:
        h.forward(sent)
    again = h.audit()
    accounts = h.zoho.fake.by_field("Accounts", "QB_ListID", SID)
    assert accounts, (
        f"repair sent {len(sent)} message(s); the Account is still missing; audit {again.to_json()}"
    )


# --- R4: a refused Contact is neither drift nor re-sent ----------------------------------------


def test_r4_parked_contact_is_invisible_to_the_audit(h: Harness) -> None:
    """A customer with a person: the Account is written, ZOHO refuses the Contact. The message
    is parked on the Contacts row. The audit judges Contacts rows only by ``handed_hash``, which
    the relay never writes on them, and a parked row without it is not 'expected': no drift,
    exit code 0, DriftRecords 0, while ZOHO has no Contact (a refused Account counts as
    missing)."""

    def refusing_contacts(tenant: str):
        client = h.zoho.client(tenant)
        real = client.upsert

        def upsert(module, records, *args, **kw):
            if module == "Contacts":
                return [RecordResult(False, "MANDATORY_NOT_FOUND", "required field")] * len(records)
            return real(module, records, *args, **kw)

        client.upsert = upsert  # type: ignore[method-assign]
        return client

    report = h.forward(h.read(v(1, "555-0001")), fwd=h.forwarder(clients=refusing_contacts))
    assert report.outcomes["0"].status == Status.PARKED
    contacts = h.zoho.fake.by_field("Contacts", "QB_ListID", SID)
    audit = h.audit()
    assert contacts or audit.drift > 0, f"no Contact in ZOHO; audit {audit.to_json()}"


# --- R5: two relay invocations with skewed clocks: the later read loses silently -------------


def test_r5_later_read_with_an_earlier_read_at_loses_and_nothing_rereads(h: Harness) -> None:
    """An invoice's balance changes without a new EditSequence (a payment voided). Relay
    invocation X (clock 2 s fast) reads it paid; the user voids the payment; invocation Y
    (clock right) reads it again by id a second later, owed, but with read_at 1 s *earlier*
    than X's. The forwarder applies X, then Y's claim loses ('an earlier read'): STALE, deleted,
    no re-read (first delivery). ZOHO says Paid while QuickBooks says owed, and stays so until
    a daily audit finds it and someone runs --repair (the deployment default does not)."""
    h.forward(h.read(customer(1), item(1)))
    real = [h.now[0] + 10]
    fast = HandOff("qbd", h.mappings, h.queue, None, lambda: real[0] + 2.0, 900.0)
    right = HandOff("qbd", h.mappings, h.queue, None, lambda: real[0], 900.0)
    txn = invoice(1, 1, [1], balance_remaining="0.00")
    fast(TENANT, [[txn]])
    paid = h.queue.take()
    real[0] += 1.0  # the payment is voided; the re-read of the invoice a second later
    right(TENANT, [[{**txn, "balance_remaining": "10.00"}]])
    owed = h.queue.take()
    assert len(paid) == len(owed) == 1
    h.now[0] = real[0] + 5
    h.forward(paid)
    second = h.forward(owed)
    (zi,) = h.zoho.fake.by_field("Invoices", "QB_TxnID", txn["txn_id"])
    pending = h.refetch.pending_refetch(TENANT, "qbd").get("Invoice", [])
    assert zi.get("Status") != "Paid" or txn["txn_id"] in pending, (
        f"ZOHO says {zi.get('Status')!r}, QuickBooks owes 10.00; the later read was "
        f"{second.outcomes['0']}; no re-read requested ({pending})"
    )


# --- R6: `failures redrive --tenant` filters after holding only --limit letters -------------


def test_r6_redrive_for_one_tenant_never_reaches_letters_behind_other_tenants(
    zoho: ZohoEnv, monkeypatch, capsys
) -> None:
    """``cmd_redrive`` holds ``--limit`` (default 100) letters of *any* tenant, then filters by
    --tenant/--entity. With 150 letters of another tenant ahead of acme's, acme's letter is
    never held: "Re-drove 0", and every re-run holds the same letters again (SQLite returns them
    in order; SQS samples, so a large DLQ makes it a lottery). The record stays parked."""
    from lambdas.local.commands import failures
    from lambdas.model.envelope import Envelope
    from lambdas.store.sqlite import SqliteRecordQueue, SqliteTenantStore

    dlq = SqliteDeadLetterQueue(zoho.db)
    letters = [
        DeadLetter(
            "globex",
            Envelope.of("globex", "qbd", customer(100 + n), 1.0).to_json(),
            "refused",
            1.0,
        )
        for n in range(150)
    ]
    mine = Envelope.of(TENANT, "qbd", customer(1), 1.0).to_json()
    dlq.send([*letters, DeadLetter(TENANT, mine, "refused", 1.0)])
    queue = SqliteRecordQueue(zoho.db)
    target = failures.FailureTarget(
        SqliteTenantStore(zoho.db), SqliteMappingStore(zoho.db), dlq, queue
    )
    monkeypatch.setattr(failures, "failure_target", lambda args: target)
    args = argparse.Namespace(
        tenant=TENANT, entity=None, limit=100, aws=False, env=None, confirm=False, json=False
    )
    for _ in range(3):  # "run it again for more"
        failures.cmd_redrive(args)
    moved = [r.message.body for r in queue.receive(10)]
    assert mine in moved, f"acme's letter was never re-driven: {capsys.readouterr().out}"
