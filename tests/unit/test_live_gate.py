"""The live round's shape (lambdas/sync/gate.py): when it sweeps, and what a narrow one asks."""

from __future__ import annotations

from lambdas.store.ports import EntitySyncState
from lambdas.sync.gate import GATED, narrow, open_failed_gates, split_answer, sweep_due
from lambdas.sync.plan import Plan, Step

SWEEP = 900
NOW = 100 * SWEEP + 300.0


def probe(entity: str, watermark: str) -> Step:
    return Step(
        entity=entity, watermark=watermark, synced_before=True, modified_from="x", probe=True
    )


def state(entity: str, at: float | None, unsupported: str | None = None) -> EntitySyncState:
    return EntitySyncState("t", entity, last_success_at=at, unsupported=unsupported)


def test_a_round_sweeps_when_any_entity_last_finished_in_an_earlier_slot() -> None:
    steps = [Step("Customer"), Step("TxnDeleted")]
    same = {"Customer": state("Customer", NOW - 10), "TxnDeleted": state("TxnDeleted", NOW - 200)}
    assert not sweep_due(steps, same, NOW, SWEEP)
    older = {**same, "TxnDeleted": state("TxnDeleted", NOW - 301)}  # the previous slot
    assert sweep_due(steps, older, NOW, SWEEP)
    assert sweep_due(steps, {"Customer": same["Customer"]}, NOW, SWEEP)  # never read
    assert sweep_due(steps, {**same, "Customer": state("Customer", None)}, NOW, SWEEP)
    # An entity the company file cannot answer is never read: it does not force sweeps.
    pro = {**same, "SalesOrder": state("SalesOrder", None, "3250")}
    assert not sweep_due([*steps, Step("SalesOrder")], pro, NOW, SWEEP)


def test_a_narrow_round_starts_after_the_watermarks_and_gates_the_transactions() -> None:
    deleted = Step("ListDeleted", synced_before=True)
    first_read = Step("Vendor")
    steps = [
        probe("Customer", "2026-12-01T10:00:00"),
        first_read,
        probe("Estimate", "2025-03-01T11:10:12"),
        probe("Invoice", "2026-11-30T09:00:59"),
        deleted,
    ]
    out = narrow(steps, {})
    assert deleted not in out and first_read in out
    assert out[0].modified_from == "2026-12-01T10:00:01"
    gate = out[2]
    assert gate.entity == "Transaction" and gate.covers == ["Estimate", "Invoice"]
    assert gate.modified_from == "2026-11-30T09:01:00" and gate.status == "pending"
    assert [s.status for s in out[3:]] == [GATED, GATED]
    # One transaction probe costs what a gate would: it is asked itself.
    alone = narrow([probe("Invoice", "2026-11-30T09:00:59")], {})
    assert [s.entity for s in alone] == ["Invoice"] and alone[0].status == "pending"
    # A deletion query never run yet runs (its first read is not the sweep's to do).
    assert narrow([Step("TxnDeleted")], {})[0].entity == "TxnDeleted"


def test_the_round_after_a_watermark_moved_asks_its_second_again() -> None:
    # A change stamped in the second of the latest one but saved just after it was read.
    moved = EntitySyncState("t", "Customer", last_success_at=NOW - 60, changed_at=NOW - 60)
    settled = EntitySyncState("t", "Customer", last_success_at=NOW - 60, changed_at=NOW - 900)
    for stored, start in ((moved, "2026-12-01T10:00:00"), (settled, "2026-12-01T10:00:01")):
        (step,) = narrow([probe("Customer", "2026-12-01T10:00:00")], {"Customer": stored})
        assert step.modified_from == start
    invoices = EntitySyncState("t", "Invoice", last_success_at=NOW, changed_at=NOW)
    gate, *_ = narrow(
        [probe("Estimate", "2025-03-01T11:10:12"), probe("Invoice", "2026-11-30T09:00:59")],
        {"Invoice": invoices},
    )
    assert gate.modified_from == "2026-11-30T09:00:59"


def test_a_gate_that_ended_without_an_answer_lets_its_probes_run() -> None:
    plan = Plan(
        narrow(
            [probe("Estimate", "2025-01-01T00:00:00"), probe("Invoice", "2025-01-02T00:00:00")], {}
        )
    )
    gate = plan.steps[0]
    open_failed_gates(plan)
    assert [s.status for s in plan.steps[1:]] == [GATED, GATED]
    gate.status = "skipped"
    open_failed_gates(plan)
    assert [s.status for s in plan.steps[1:]] == ["pending", "pending"]


def test_the_gates_answer_is_split_by_the_types_it_asked_for() -> None:
    gate = Step("Transaction", covers=["Invoice", "Estimate"])
    records = [
        {"fields": {"TxnType": "Invoice", "TxnID": "1-1", "TimeModified": "2026-01-01T00:00:00"}},
        {"fields": {"TxnType": "Bill", "TxnID": "2-2", "TimeModified": "2026-01-01T00:00:00"}},
        {"fields": {"TxnType": "Estimate", "TxnID": ""}},
    ]
    split = split_answer(gate, records)
    assert split == {
        "Invoice": [{"txn_id": "1-1", "time_modified": "2026-01-01T00:00:00"}],
        "Estimate": [],
    }


def test_a_narrow_rounds_success_does_not_count_as_the_slots_sweep() -> None:
    steps = [Step("Customer")]
    # Read to the end in this slot, but by a narrow round: the last sweep was in the previous.
    narrowed = EntitySyncState("t", "Customer", last_success_at=NOW - 10, swept_at=NOW - 400)
    assert sweep_due(steps, {"Customer": narrowed}, NOW, SWEEP)
    swept = EntitySyncState("t", "Customer", last_success_at=NOW - 10, swept_at=NOW - 200)
    assert not sweep_due(steps, {"Customer": swept}, NOW, SWEEP)
    (step,) = narrow([probe("Customer", "2026-12-01T10:00:00")], {})
    assert step.narrow
