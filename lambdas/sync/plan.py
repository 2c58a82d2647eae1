"""What a session asks QuickBooks for: the plan, its steps and the query of each step.

A plan is decided at ``authenticate`` and stored with the session. Its order: pending write-back
requests first (CRM accounts written back to QuickBooks; a later feature fills that slot), then
lists before the transactions that reference them, then deletions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from qbxml import CustomerQuery
from qbxml.requests import Request

# Entities the relay can sync, in the order a plan runs them (lists before transactions).
SYNC_ORDER: tuple[str, ...] = ("Customer",)

PLURALS = {"Customer": "customers"}

# Queries QuickBooks answers without an iterator (the schema has none for them).
NO_ITERATOR: frozenset[str] = frozenset()


def unknown_entities(entities: tuple[str, ...] | list[str]) -> list[str]:
    """Names in ``entities`` the relay cannot sync."""
    return [e for e in entities if e not in SYNC_ORDER]


def plural(entity: str, count: int = 2) -> str:
    """How a summary names ``count`` records of ``entity``."""
    if count == 1:
        return entity[0].lower() + entity[1:]
    return PLURALS.get(entity, entity[0].lower() + entity[1:] + "s")


def step_query(
    entity: str,
    request_id: str,
    page_size: int,
    iterator_id: str | None,
    modified_from: datetime | None,
) -> Request:
    """The query of one step: iterator start or continuation, from the watermark."""
    return CustomerQuery(
        request_id=request_id,
        max_returned=page_size,
        iterator="Continue" if iterator_id else "Start",
        iterator_id=iterator_id,
        active_status="All",
        from_modified=modified_from,
    )


@dataclass(slots=True)
class Step:
    """One entity's query within a session: its iterator, paging, watermark and counters."""

    entity: str
    status: str = "pending"  # pending | running | done | failed
    iterator_id: str | None = None
    page_size: int = 200
    bytes_per_record: float | None = None
    watermark: str | None = None  # as stored when the session started
    modified_from: str | None = None  # zone-less FromModifiedDate; None = full sync
    max_seen: str | None = None  # largest wall-clock TimeModified seen this session
    expect_small: bool = False  # the last incremental run found less than a page
    received: int = 0
    queued: int = 0
    unchanged: int = 0
    remaining: int | None = None
    retries: int = 0
    restarts: int = 0
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    @property
    def uses_iterator(self) -> bool:
        return self.entity not in NO_ITERATOR

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

    def query(self, request_id: str) -> Request:
        """This step's next query."""
        start = datetime.fromisoformat(self.modified_from) if self.modified_from else None
        return step_query(self.entity, request_id, self.page_size, self.iterator_id, start)


@dataclass(slots=True)
class Plan:
    """The ordered steps of a session, decided at authenticate."""

    steps: list[Step] = field(default_factory=list)

    def current(self) -> Step | None:
        return next((s for s in self.steps if not s.finished), None)

    def step(self, entity: str) -> Step:
        return next(s for s in self.steps if s.entity == entity)

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
