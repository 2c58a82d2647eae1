"""What became of each record-queue message, and what a forwarder batch cost."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """The one outcome of a message."""

    APPLIED = "applied"  # the record is in ZOHO (or, for a deletion, marked or deleted there)
    UNCHANGED = "unchanged"  # ZOHO already holds this content: no call at all
    STALE = "stale"  # older than what is claimed or applied, superseded, or deleted
    IGNORED = "ignored"  # the tenant's mapping leaves the entity out
    PARKED = "parked"  # refused for good or given up on: dead-letter queue and mapping say why
    RETRY = "retry"  # not handled now; the caller leaves it on the queue


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message, and why."""

    status: Status
    reason: str = ""


@dataclass(slots=True)
class ForwardReport:
    """The outcomes of a batch by message key, and what it cost."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    succeeded: int = 0  # ZOHO records written
    failed: int = 0  # records parked
    calls: int = 0  # ZOHO API calls (retries included)
    token_calls: int = 0
    conflicts: int = 0  # writes that lost to a newer version; re-reads were requested

    def count(self, status: Status | str) -> int:
        """How many messages ended with ``status``."""
        return sum(1 for o in self.outcomes.values() if o.status == status)
