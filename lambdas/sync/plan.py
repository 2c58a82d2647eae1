"""What a session asks QuickBooks for: the plan, its steps and the query of each step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from qbxml import CustomerQuery
from qbxml.requests import Request

# Entities the relay can sync, in the order a plan runs them (lists before transactions).
SYNC_ORDER: tuple[str, ...] = ("Customer",)

PLURALS = {"Customer": "customers"}


def _customer_query(request_id: str, page_size: int, iterator_id: str | None) -> CustomerQuery:
    return CustomerQuery(
        request_id=request_id,
        max_returned=page_size,
        iterator="Continue" if iterator_id else "Start",
        iterator_id=iterator_id,
        active_status="All",
    )


QUERY_BUILDERS: dict[str, Callable[[str, int, str | None], Request]] = {
    "Customer": _customer_query,
}


def unknown_entities(entities: tuple[str, ...] | list[str]) -> list[str]:
    """Names in ``entities`` the relay cannot sync."""
    return [e for e in entities if e not in QUERY_BUILDERS]


@dataclass(slots=True)
class Step:
    """One entity's query within a session: its iterator and counters."""

    entity: str
    status: str = "pending"  # pending | running | done | failed
    iterator_id: str | None = None
    received: int = 0
    queued: int = 0
    remaining: int | None = None
    retries: int = 0
    restarts: int = 0
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def fraction_done(self) -> float:
        if self.finished:
            return 1.0
        if self.remaining is None or self.received + self.remaining == 0:
            return 0.0
        return self.received / (self.received + self.remaining)


@dataclass(slots=True)
class Plan:
    """The ordered steps of a session, decided at authenticate."""

    steps: list[Step] = field(default_factory=list)

    @classmethod
    def for_entities(cls, enabled: tuple[str, ...] | list[str]) -> Plan:
        return cls(steps=[Step(entity=e) for e in SYNC_ORDER if e in enabled])

    def current(self) -> Step | None:
        return next((s for s in self.steps if not s.finished), None)

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
