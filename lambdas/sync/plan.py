"""What a session asks QuickBooks for: the plan, its steps and the query of each step.

A plan is decided at ``authenticate`` and stored with the session. Its order: pending write-back
requests first (CRM accounts written back to QuickBooks; a later feature fills that slot), then
lists before the transactions that reference them, then deletions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from qbxml import sync_query
from qbxml.requests import Request

from ..model.entities import (
    DEFAULT_ENTITIES,
    DELETION_ENTITIES,
    SYNC_ORDER,
    plural,
    unknown_entities,
)

__all__ = ["DEFAULT_ENTITIES", "SYNC_ORDER", "Plan", "Step", "plural", "unknown_entities"]

# Entities whose records are deletions (a summary counts them as such).
DELETIONS: frozenset[str] = DELETION_ENTITIES

# Queries QuickBooks answers whole, without an iterator or MaxReturned (the schema has none).
NO_ITERATOR: frozenset[str] = DELETION_ENTITIES


def step_query(
    entity: str,
    request_id: str,
    page_size: int,
    iterator_id: str | None,
    modified_from: datetime | None,
    ids: tuple[str, ...] = (),
    probe: bool = False,
    covers: tuple[str, ...] = (),
) -> Request:
    """The query of one step: iterator start or continuation, from the watermark; or by ids.

    ``probe``: only the ids, versions and times of the changes (lambdas/sync/probes.py).
    ``covers``: a deletion step's entities, whose del types it asks for (empty: all), or the
    transaction types a live round's gate asks about (sync/gate.py).
    """
    if ids:
        return sync_query(entity, request_id=request_id, ids=ids)
    if entity in NO_ITERATOR:
        return sync_query(entity, request_id=request_id, modified_from=modified_from, synced=covers)
    return sync_query(
        entity,
        request_id=request_id,
        max_returned=page_size,
        iterator="Continue" if iterator_id else "Start",
        iterator_id=iterator_id,
        modified_from=modified_from,
        probe=probe,
        synced=covers,
    )


@dataclass(slots=True)
class Step:
    """One entity's query within a session: its iterator, paging, watermark and counters."""

    entity: str
    # pending | running | done | failed; skipped: known to be unsupported by this company file,
    # not asked; unsupported: found so this session (named once in its summary), not asked
    # again; deferred: a full read left for after the tenant's business hours (sync/hours.py)
    status: str = "pending"
    iterator_id: str | None = None
    page_size: int = 200
    bytes_per_record: float | None = None
    watermark: str | None = None  # as stored when the session started
    synced_before: bool = False  # an earlier session read this entity to the end
    modified_from: str | None = None  # zone-less FromModifiedDate; None = full sync
    max_seen: str | None = None  # largest wall-clock TimeModified seen this session (sane ones)
    changed_at: float | None = None  # when the watermark last moved, as stored
    swept_at: float | None = None  # when a sweep last read it to the end, as stored
    narrow: bool = False  # a live round's probe from just after the watermark (sync/gate.py)
    received: int = 0
    queued: int = 0
    unchanged: int = 0
    remaining: int | None = None
    retries: int = 0
    restarts: int = 0
    error: str | None = None
    unsupported: str | None = None  # why the company file cannot answer (as stored), if known
    # Records stamped later than any correct clock allows (watermarks.ceiling): synced, but
    # left out of max_seen, and reported as a workstation clock problem.
    future_stamped: int = 0
    future_latest: str | None = None
    # A re-read of these records by id (requested after a conflict, by the audit, or for the
    # invoices a payment touched) rather than a query of changes.
    ids: list[str] = field(default_factory=list)
    # A change probe: ask only which records changed, then read those by id (sync/probes.py).
    probe: bool = False
    # Records per query at most (business hours), whatever the adaptive page size says.
    page_cap: int | None = None
    # A deletion step: the tenant's entities whose deletions it asks for (empty, as in plans
    # stored before: every del type the relay syncs).
    covers: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The step's name within its plan (an entity has one change step, re-reads apart)."""
        return f"{self.entity}@{self.ids[0]}" if self.ids else self.entity

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "skipped", "unsupported", "deferred", "gated")

    @property
    def uses_iterator(self) -> bool:
        return self.entity not in NO_ITERATOR and not self.ids

    def fraction_done(self) -> float:
        if self.finished:
            return 1.0
        if self.remaining is None or self.received + self.remaining == 0:
            return 0.0
        return self.received / (self.received + self.remaining)

    def restart(self) -> None:
        """Start the entity's query over from its watermark (the iterator is gone)."""
        self.iterator_id = None
        self.restarts += 1

    def query(self, request_id: str, page_size: int | None = None) -> Request:
        """This step's next query, with its own page size unless ``page_size`` is given."""
        start = datetime.fromisoformat(self.modified_from) if self.modified_from else None
        size = page_size or self.page_size
        if self.page_cap is not None:
            size = min(size, self.page_cap)
        return step_query(
            self.entity,
            request_id,
            size,
            self.iterator_id,
            start,
            tuple(self.ids),
            self.probe,
            tuple(self.covers),
        )


@dataclass(slots=True)
class Plan:
    """The ordered steps of a session, decided at authenticate."""

    steps: list[Step] = field(default_factory=list)
    # The tenant's mapped records as the session's first hand-off found them (None: none yet),
    # the base of the mass deletion share (see vetting): counted later, it would include the
    # session's own records.
    mapped_before: int | None = None

    def current(self) -> Step | None:
        return next((s for s in self.steps if not s.finished), None)

    def step(self, key: str) -> Step:
        """The step named ``key`` (see ``Step.key``)."""
        return next(s for s in self.steps if s.key == key)

    @property
    def done(self) -> bool:
        return all(s.finished for s in self.steps)

    def percent(self) -> int:
        """0-100 from finished steps and iterator progress; 100 only when every step finished."""
        if self.done:
            return 100
        total = sum(s.fraction_done() for s in self.steps)
        return min(99, int(100 * total / len(self.steps)))

    def to_list(self) -> list[dict[str, Any]]:
        return [asdict(s) for s in self.steps]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> Plan:
        return cls(steps=[Step(**i) for i in items])
