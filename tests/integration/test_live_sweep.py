"""Live rounds between sweeps (lambdas/sync/gate.py), over real HTTP on loopback: an idle round
of the default entities under 2 KB of qbXML, a changed transaction found by the one
TransactionQuery and read whole, deletions and the watermark margin left to the sweep, and a
gate QuickBooks refuses letting the ordinary probes run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.local.wiring import build_local
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.store.ports import DEFAULT_LIVE_SWEEP_SECONDS, Tenant
from lambdas.sync.engine import SyncSettings
from lambdas.sync.plan import DEFAULT_ENTITIES
from sim.fake_company import FakeCompany
from tests.conftest import PASSWORD
from tests.integration.test_live_mode import INTERVAL, USER, LiveRig

SWEEP = DEFAULT_LIVE_SWEEP_SECONDS
DELETIONS = ("<ListDeletedQueryRq ", "<TxnDeletedQueryRq ")


def live_rig(
    tmp_path, company: FakeCompany, entities: tuple[str, ...] = DEFAULT_ENTITIES
) -> LiveRig:
    """A live tenant of ``entities``; every clock of the relay is the rig's, which starts 10 s
    into a sweep slot."""
    local = build_local(tmp_path / "data", RelaySettings(), SyncSettings())
    local.tenants.create(
        Tenant(
            name="acme",
            qbwc_user=USER,
            password_hash=hash_password(PASSWORD),
            enabled_entities=entities,
            live=True,
            live_interval_seconds=INTERVAL,
        )
    )
    r = LiveRig(local, company)
    r.local.engine.clock = r.local.engine.hand_off.clock = lambda: r.now
    r.now = (r.now // SWEEP + 1) * SWEEP + 10
    return r


@pytest.fixture
def rig(tmp_path) -> Iterator[LiveRig]:
    """A live tenant of the default entities (see live_rig)."""
    company = FakeCompany(
        customers=12, items=4, estimates=3, sales_orders=3, invoices=8, payments=3, seed=4
    )
    r = live_rig(tmp_path, company)
    try:
        yield r
    finally:
        r.close()


def asked(r: LiveRig, tag: str) -> list[tuple[str, str]]:
    return [(q, a) for q, a in r.exchanges if f"<{tag} " in q]


def narrow_round(r: LiveRig) -> Any:
    """One idle session the next interval on, within the slot of the first."""
    r.now += INTERVAL
    result = r.session(max_noops=0)
    assert r.now % SWEEP < SWEEP - 2 * INTERVAL, "the test left the sweep slot"
    return result


def test_between_sweeps_an_idle_round_of_the_default_entities_is_under_2_kb(rig) -> None:
    r = rig
    r.session(max_noops=0)  # the first sync
    narrow_round(r)
    result = narrow_round(r)
    assert result.close_message.startswith("No changes")
    (round_,) = r.exchanges
    request, answer = round_
    # The lists' probes, one TransactionQuery for the four transaction types, no deletions.
    assert request.count("QueryRq ") == 3 and "<TransactionQueryRq " in request
    assert not any(tag in request for tag in DELETIONS)
    assert "<InvoiceQueryRq " not in request and "<EstimateQueryRq " not in request
    assert answer.count('statusCode="1"') == 3  # nothing newer than any watermark
    size = len(request.encode()) + len(answer.encode())
    print(f"idle narrow round: {size} bytes")
    assert size < 2048
    # The first round of the next slot sweeps: margins, every probe, the deletion queries.
    r.now = (r.now // SWEEP + 1) * SWEEP + 5
    r.session(max_noops=0)
    (sweep_q, _), *rest = r.exchanges
    assert not rest and all(tag in sweep_q for tag in DELETIONS)
    assert "<TransactionQueryRq " not in sweep_q and "<EstimateQueryRq " in sweep_q
    # Then narrow again.
    narrow_round(r)
    assert "<TransactionQueryRq " in r.exchanges[0][0]


def test_a_changed_invoice_is_found_by_the_gate_read_whole_and_moves_its_watermark(rig) -> None:
    r = rig
    r.session(max_noops=0)
    narrow_round(r)
    invoice = next(iter(r.company.data.txns["Invoice"].values()))
    r.company.clock.advance(minutes=1)
    r.company.modify("Invoice", invoice.txn_id, memo="gate saw me")
    before = r.local.state.get_all("acme")
    narrow_round(r)
    (gate_q, gate_a), *later = r.exchanges
    assert "<TransactionQueryRq " in gate_q and f"<TxnID>{invoice.txn_id}</TxnID>" in gate_a
    by_id = [q for q, _ in later if f"<TxnID>{invoice.txn_id}</TxnID>" in q]
    assert by_id and "<InvoiceQueryRq " in by_id[0] and "IncludeRetElement" not in by_id[0]
    assert any("gate saw me" in m for m in r.local.queue.peek(1000))
    after = r.local.state.get_all("acme")
    stamp = r.company.workstation.format(r.company.record("Invoice", invoice.txn_id).time_modified)
    assert after["Invoice"].watermark == stamp[:19] != before["Invoice"].watermark
    assert after["Estimate"].watermark == before["Estimate"].watermark
    # The next gate asks the new watermark's second once more (a change saved in that second
    # after it was read); the one after starts a second later and finds nothing.
    narrow_round(r)
    gate_q = r.exchanges[0][0]
    assert f"<FromModifiedDate>{stamp[:19]}</FromModifiedDate></Transaction" in gate_q
    narrow_round(r)
    (gate_q, gate_a), *later = r.exchanges
    assert not later and 'statusCode="1"' in gate_a
    start = re.search(r"<FromModifiedDate>([^<]+)</FromModifiedDate></Transaction", gate_q)
    assert start and start.group(1) > stamp[:19]


def test_a_deletion_waits_for_the_sweep(rig) -> None:
    r = rig
    list_id = r.company.add("Customer", name="Short-lived Ltd")
    r.session(max_noops=0)
    r.company.clock.advance(minutes=1)
    r.company.delete("Customer", list_id)
    narrow_round(r)
    assert not [m for m in r.local.queue.peek(1000) if list_id in m and "ListDeleted" in m]
    r.now = (r.now // SWEEP + 1) * SWEEP + 5
    r.session(max_noops=0)
    assert any(list_id in m and "ListDeleted" in m for m in r.local.queue.peek(1000))


def test_a_gate_quickbooks_refuses_lets_the_probes_run(rig) -> None:
    r = rig
    r.session(max_noops=0)
    refuse_gates(r)
    invoice = next(iter(r.company.data.txns["Invoice"].values()))
    r.company.clock.advance(minutes=1)
    r.company.modify("Invoice", invoice.txn_id, memo="probed anyway")
    result = narrow_round(r)
    probes = [q for q, _ in r.exchanges if "<InvoiceQueryRq " in q and "IncludeRetElement" in q]
    assert probes and "<EstimateQueryRq " in probes[0]
    assert any("probed anyway" in m for m in r.local.queue.peek(1000))
    run = r.local.runs.recent("acme", 1)[0]
    assert run.errors == 0 and run.last_error == "" and "failed" not in result.close_message
    # A held session's closing round asks the refused gate's types with their own probes, not
    # with the gate again.
    r.now += INTERVAL
    r.session()
    gates = [q for q, _ in r.exchanges if "<TransactionQueryRq " in q]
    probes = [q for q, _ in r.exchanges if "<InvoiceQueryRq " in q and "IncludeRetElement" in q]
    assert len(gates) == 1 and len(probes) == 2


def test_a_held_sessions_closing_round_is_narrow_or_the_sweep_by_its_own_time(rig) -> None:
    r = rig
    r.session(max_noops=0)
    r.now += INTERVAL
    r.session()  # held with NoOps, then the closing round, all within the slot
    rounds = [q for q, _ in r.exchanges if "IncludeRetElement" in q]
    assert len(rounds) == 2 and all("<TransactionQueryRq " in q for q in rounds)
    assert not any(tag in q for q in rounds for tag in DELETIONS)
    # A hold that ends in the next slot closes with the sweep: deletions and every probe.
    r.now = (r.now // SWEEP + 1) * SWEEP - INTERVAL // 2
    r.session()
    # (Without a forwarder here, the sweep also re-reads by id what never landed: not probes.)
    rounds = [q for q, _ in r.exchanges if "IncludeRetElement" in q]
    opening, closing = rounds
    assert "<TransactionQueryRq " in opening and not any(tag in opening for tag in DELETIONS)
    assert all(tag in closing for tag in DELETIONS) and "<InvoiceQueryRq " in closing
    assert "<TransactionQueryRq " not in closing


def refuse_gates(r: LiveRig) -> None:
    """QuickBooks refuses every TransactionQuery from now on (a permission it lacks)."""
    process = r.company.process
    refused = (
        r'<TransactionQueryRs requestID="\1" statusCode="3260" statusSeverity="Error" '
        'statusMessage="Insufficient permission level to perform this action."/>'
    )

    def no_gate(request: str) -> str:
        return re.sub(
            r'<TransactionQueryRs requestID="([^"]+)".*?(?:</TransactionQueryRs>|/>)',
            refused,
            process(request),
            flags=re.S,
        )

    r.company.process = no_gate  # type: ignore[method-assign]


def test_a_refused_gates_closing_round_probes_a_type_first_read_in_the_session(tmp_path) -> None:
    # No estimates yet: the Estimate step is a (small) full read each round, outside the gate.
    company = FakeCompany(customers=6, items=3, estimates=0, invoices=4, payments=2, seed=4)
    r = live_rig(tmp_path, company)
    try:
        r.session(max_noops=0)
        narrow_round(r)
        refuse_gates(r)
        r.company.clock.advance(minutes=1)
        customer = next(iter(r.company.data.customers))
        estimate = r.company.add("Estimate", customer_id=customer)
        r.now += INTERVAL

        def edit_during_the_hold(n: int) -> None:
            if n == 1:
                r.company.clock.advance(minutes=1)
                r.company.modify("Estimate", estimate, memo="edited during the hold")

        r.session(on_noop=edit_during_the_hold)
        # The opening round read the new estimate whole; the closing round probes it: its type
        # now has a watermark, so it is held behind the gate QuickBooks refused this session.
        closing = [q for q, _ in r.exchanges if "<EstimateQueryRq " in q]
        assert closing and "<TransactionQueryRq " not in closing[-1]
        assert any("edited during the hold" in m for m in r.local.queue.peek(1000))
    finally:
        r.close()


def test_a_narrow_round_ending_in_the_next_slot_does_not_stand_for_its_sweep(tmp_path) -> None:
    # Without deletion queries every entity finishes in every round: a narrow round planned at
    # the end of one slot and answered in the next must still leave that slot its sweep.
    company = FakeCompany(customers=6, items=3, estimates=3, invoices=4, seed=4)
    r = live_rig(tmp_path, company, ("Customer", "Estimate", "Invoice"))
    try:
        r.session(max_noops=0)
        narrow_round(r)
        process = r.company.process

        def slow(request: str) -> str:
            r.now += 3  # QuickBooks takes a few seconds to answer
            return process(request)

        r.company.process = slow  # type: ignore[method-assign]
        r.now = (r.now // SWEEP + 1) * SWEEP - 2
        r.session(max_noops=0)
        assert "<TransactionQueryRq " in r.exchanges[0][0]  # narrow, answered in the next slot
        r.now += INTERVAL
        r.session(max_noops=0)
        assert "<TransactionQueryRq " not in r.exchanges[0][0], "the slot had no sweep"
    finally:
        r.close()
