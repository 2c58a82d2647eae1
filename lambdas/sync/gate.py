"""Live rounds between sweeps: ask only for what changed after the watermarks, in few requests.

A live tenant probes every ``live_interval_seconds`` (lambdas/sync/probes.py). Every probe round
asked each entity from its watermark less the margin (two hours), so each round re-answered the
latest changes and cost about 5.6 KB of qbXML with the default entities. Now a round is either:

- a **sweep**, the first round of each ``live_sweep_seconds`` slot (15 minutes by default, the
  ordinary schedule): every probe from its margin, the deletion queries too, as before; or
- a **narrow round**, all the others: probes start one second after their watermark (only
  changes QuickBooks stamped later than any seen: an idle company answers "no match"; the
  round after one that moved a watermark asks that second again, for a change saved in the
  same second just after it was read), the
  deletion queries wait for the sweep, and the transaction types' probes wait behind one
  ``TransactionQuery`` (the *gate*: TxnType, TxnID, TimeModified of the synced types changed
  after the latest of their watermarks). The gate's answers are read whole by id and move the
  types' watermarks; a gate QuickBooks refuses opens, and the probes it held run as usual.

What a narrow round can miss, the next sweep finds: a change stamped no later than a watermark
yet committed after it was read (a workstation clock behind, the same second), a daylight
saving hour, a deletion. So the sweep interval bounds how late those land; modifications and
additions land within the live interval.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qbxml.sync import GATE_ENTITY, TXN_ENTITIES

from ..model.entities import DELETION_ENTITIES
from ..store.ports import EntitySyncState
from .plan import Plan, Step

MIN_SWEEP_SECONDS = 60
MAX_SWEEP_SECONDS = 24 * 3600
# Within a narrow round, one second after the watermark: FromModifiedDate is inclusive.
AFTER = timedelta(seconds=1)
ZERO = timedelta(0)
GATED = "gated"  # a transaction probe waiting on the gate's answer


def sweep_due(
    steps: list[Step], stored: dict[str, EntitySyncState], now: float, sweep_seconds: int
) -> bool:
    """True when some entity of ``steps`` was last swept (read to the end other than by a
    narrow round) in an earlier sweep slot than ``now``, or never: the round is a sweep. Not
    its last success: a narrow round planned in one slot may finish in the next."""
    slot = int(now // sweep_seconds)
    for step in steps:
        st = stored.get(step.entity)
        if st is not None and st.unsupported:
            continue  # not asked at all (editions.py), so never finished
        if st is None:
            return True
        # A row written before swept_at existed: its last success stands for it.
        swept = st.swept_at if st.swept_at is not None else st.last_success_at
        if swept is None or int(swept // sweep_seconds) != slot:
            return True
    return False


def _start(watermark: str, again: bool) -> str:
    """Where a narrow query starts: at the watermark's second when ``again``, else after it."""
    return (datetime.fromisoformat(watermark) + (ZERO if again else AFTER)).isoformat()


def _moved_last(stored: dict[str, EntitySyncState], entity: str) -> bool:
    """True when the entity's latest finished read moved its watermark: a change QuickBooks
    stamped in that same second but saved just after the read is asked for once more."""
    st = stored.get(entity)
    return st is not None and st.changed_at is not None and st.changed_at == st.last_success_at


def narrow(steps: list[Step], stored: dict[str, EntitySyncState]) -> list[Step]:
    """A narrow round's steps (see the module docstring); steps that are not probes (a first
    read, a deletion query never run) stay as they are."""
    out: list[Step] = []
    gated: list[Step] = []
    for step in steps:
        if step.entity in DELETION_ENTITIES and step.synced_before:
            continue  # the sweep asks
        if step.probe and step.watermark:
            step.modified_from = _start(step.watermark, _moved_last(stored, step.entity))
            step.narrow = True
            if step.entity in TXN_ENTITIES:
                gated.append(step)
        out.append(step)
    if len(gated) < 2:
        return out  # one probe costs what the gate would
    latest = max((s.watermark for s in gated if s.watermark), key=datetime.fromisoformat)
    again = any(_moved_last(stored, s.entity) for s in gated)
    gate = Step(
        entity=GATE_ENTITY,
        page_size=max(s.page_size for s in gated),
        watermark=latest,
        synced_before=True,
        modified_from=_start(latest, again),
        probe=True,
        covers=[s.entity for s in gated],
    )
    for step in gated:
        step.status = GATED
    out.insert(out.index(gated[0]), gate)
    return out


def gated_steps(plan: Plan, gate: Step) -> list[Step]:
    """The probes ``gate`` holds (or held) in ``plan``."""
    return [s for s in plan.steps if s.entity in gate.covers and not s.ids]


def open_failed_gates(plan: Plan) -> None:
    """Let the probes behind a gate that ended without an answer run as usual."""
    for gate in plan.steps:
        if gate.entity != GATE_ENTITY or not gate.finished or gate.status == "done":
            continue
        for step in gated_steps(plan, gate):
            if step.status == GATED:
                step.status = "pending"


def split_answer(gate: Step, records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The gate's records per covered entity, as probe records (``txn_id``, ``time_modified``);
    a type the gate did not ask for is ignored."""
    out: dict[str, list[dict[str, Any]]] = {e: [] for e in gate.covers}
    for record in records:
        fields = record.get("fields") or {}
        entity, txn_id = fields.get("TxnType"), fields.get("TxnID")
        if entity in out and isinstance(txn_id, str) and txn_id:
            out[entity].append({"txn_id": txn_id, "time_modified": fields.get("TimeModified")})
    return out
