"""Change probes: a live tenant's incremental reads ask first which records changed.

A probe is the entity's modified-since query with ``IncludeRetElement`` limited to the id,
``EditSequence`` and ``TimeModified`` (qbxml/sync.py ``PROBE_*_ELEMENTS``): QuickBooks answers
about 150 bytes per record, and an idle company costs one small exchange. The records whose
EditSequence differs from the one last handed off, or whose last hand-off did not land, are
then read whole by id, later in the same session, in chunks that join one message set. The
re-reads are stored as requests before the probe's watermark moves, so a session that ends
first leaves them to the next one.

Deletion queries are not probed: their records are already small (id, type, time, name).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..model.entities import DELETION_ENTITIES
from ..model.identity import SOURCE_QBD
from ..store.ports import StoreError, Tenant
from .gate import GATE_ENTITY, GATED, gated_steps, open_failed_gates, split_answer
from .plan import Plan, Step

if TYPE_CHECKING:
    from .engine import SyncEngine

# Ids per re-read query (one request of the message set that follows the probes).
FETCH_CHUNK = 50


def mark_probes(steps: Iterable[Step]) -> None:
    """Make every incremental (not first, not deletion) step of a live session a probe."""
    for step in steps:
        step.probe = bool(
            step.modified_from and step.synced_before and step.entity not in DELETION_ENTITIES
        )


def _record_id(record: dict[str, Any]) -> str:
    return str(record.get("list_id") or record.get("txn_id") or "")


def changed_ids(
    engine: SyncEngine, tenant: str, entity: str, records: list[dict[str, Any]]
) -> list[str]:
    """The probed records to read whole: those whose EditSequence is not the one last handed
    off (or never was), and those whose last hand-off did not land (consumed but not applied,
    lost to the dead-letter queue: a full read would send it again, see sync/handoff.py)."""
    versions = {_record_id(r): str(r.get("edit_sequence") or "") for r in records}
    versions.pop("", None)
    if not versions:
        return []
    known = engine.mappings.get_many(tenant, SOURCE_QBD, entity, sorted(versions))
    now = engine.hand_off.clock()

    def unchanged(sid: str, version: str) -> bool:
        row = known.get(sid)
        return (
            row is not None
            and bool(version)
            and row.handed_version == version
            and engine.hand_off.delivered_as_handed(row, now)
        )

    return sorted(sid for sid, version in versions.items() if not unchanged(sid, version))


def add_fetches(plan: Plan, entity: str, ids: list[str], chunk: int = FETCH_CHUNK) -> None:
    """Re-read steps for ``ids`` (chunks of ``chunk``), unless the plan is reading them already.

    A finished re-read of the same first id (the record changed twice this session) is reset
    rather than duplicated: a step's key names it within the plan.
    """
    waiting = {i for s in plan.steps if s.ids and not s.finished for i in s.ids}
    todo = [i for i in ids if i not in waiting]
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        step = Step(entity=entity, ids=part, synced_before=True)
        old = next((s for s in plan.steps if s.key == step.key), None)
        if old is None:
            plan.steps.append(step)
        else:
            old.ids, old.status, old.error, old.retries = part, "pending", None, 0


def take_probes(
    engine: SyncEngine,
    tenant: str,
    plan: Plan,
    accepted: list[tuple[Step, Any, list[dict[str, Any]]]],
) -> tuple[list[tuple[Step, Any, list[dict[str, Any]]]], str | None]:
    """Apply the probe answers among ``accepted``; the others, to hand off, and a fatal message
    when the re-read requests could not be stored (the probes start over then)."""
    rest = []
    for item in accepted:
        step, rs, records = item
        if not step.probe:
            rest.append(item)
            continue
        try:
            if step.entity == GATE_ENTITY:
                _take_gate(engine, tenant, plan, step, rs, records)
                continue
            changed = changed_ids(engine, tenant, step.entity, records)
            if changed:
                engine.state.request_refetch(tenant, SOURCE_QBD, step.entity, changed)
        except StoreError as exc:
            step.restart()
            return rest, (
                f"Could not note the changed {step.entity} records to read: {exc}. Nothing was "
                "lost; the next Web Connector run asks QuickBooks again."
            )
        add_fetches(plan, step.entity, changed, min(FETCH_CHUNK, step.page_cap or FETCH_CHUNK))
        _advance(engine, tenant, step, rs, records)
    return rest, None


def _take_gate(
    engine: SyncEngine, tenant: str, plan: Plan, gate: Step, rs: Any, records: list[dict[str, Any]]
) -> None:
    """Apply a page of the gate's answer (sync/gate.py): its transactions are read whole by id
    and seen by the probes it holds, which finish with it (their watermarks move then, once the
    re-reads are stored). Raises StoreError when the re-reads cannot be stored."""
    held = {s.entity: s for s in gated_steps(plan, gate)}
    for entity, found in split_answer(gate, records).items():
        step = held.get(entity)
        if step is None:
            continue
        ids = sorted({r["txn_id"] for r in found})
        if ids:
            engine.state.request_refetch(tenant, SOURCE_QBD, entity, ids)
            add_fetches(plan, entity, ids, min(FETCH_CHUNK, step.page_cap or FETCH_CHUNK))
        engine.see_times(tenant, step, found)
    gate.status = "running"
    if rs.iterator_id and rs.iterator_remaining_count:
        gate.iterator_id, gate.remaining = rs.iterator_id, rs.iterator_remaining_count
        return
    gate.iterator_id, gate.remaining, gate.status = None, 0, "done"
    for step in held.values():
        if step.status == GATED:
            step.status = "done"
            engine.checkpoint(tenant, step)


def _advance(
    engine: SyncEngine, tenant: str, step: Step, rs: Any, records: list[dict[str, Any]]
) -> None:
    """Like a query's advance, without counting the probe's records as received (their full
    reads count) or letting their small size steer the page size."""
    step.status = "running"
    engine.see_times(tenant, step, records)
    if rs.iterator_id and rs.iterator_remaining_count:
        step.iterator_id, step.remaining = rs.iterator_id, rs.iterator_remaining_count
        return
    step.iterator_id, step.remaining, step.status = None, 0, "done"
    engine.checkpoint(tenant, step)


def reprobe(engine: SyncEngine, tenant: Tenant, plan: Plan) -> bool:
    """Ask again, from the watermarks just stored, for the changes of the entities this session
    read to the end (a live session's closing round); True when anything is asked.

    The steps keep their counters, so the session's summary covers both rounds.
    """
    fresh = {s.key: s for s in engine.plan(tenant).steps}
    asked = False
    for step in plan.steps:
        new = fresh.pop(step.key, None)
        if new is None or not step.finished or new.status not in ("pending", GATED):
            continue
        if step.ids:
            # A record read by id already is asked for again (by the forwarder, the audit).
            step.ids, step.status, step.error, step.retries = new.ids, "pending", None, 0
            asked = True
            continue
        if step.entity == GATE_ENTITY and step.status != "done":
            # Refused earlier: not asked again, but every type it would hold now (one first
            # read this session, say) is opened below to run its own probe.
            step.covers = new.covers
            continue
        if step.status != "done":
            continue
        step.status, step.iterator_id, step.remaining = new.status, None, None
        step.watermark, step.modified_from = new.watermark, new.modified_from
        step.probe, step.page_cap, step.covers = new.probe, new.page_cap, new.covers
        step.narrow, step.changed_at, step.swept_at = new.narrow, new.changed_at, new.swept_at
        step.max_seen, step.retries, step.restarts = None, 0, 0
        asked = True
    # Re-reads requested meanwhile (by the forwarder, the audit) come along, and what this
    # round asks that the last did not (a gate, a sweep's deletion queries: sync/gate.py).
    added = [s for s in fresh.values() if s.ids or s.status == "pending"]
    plan.steps.extend(added)
    open_failed_gates(plan)  # probes held again behind this session's refused gate run
    return asked or any(not s.ids for s in added)
