"""Ports of the QuickBooks Online sync: webhook event ids seen, and the change queue.

Adapters: SQLite (``sqlite/qbo_events.py``, ``sqlite/change_queue.py``) and AWS
(``dynamo/qbo_events.py``: DynamoDB conditional puts with a TTL; ``dynamo/change_queue.py``: an
SQS FIFO queue grouped by realm). One contract suite (tests/integration/test_qbo_store_contract.py)
runs against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class SeenEvents(Protocol):
    """Webhook event ids already accepted, each remembered for a while (de-duplication)."""

    def claim(self, event_ids: Sequence[str], now: float, ttl_seconds: float) -> list[str]:
        """Remember each id until ``now + ttl_seconds`` unless it is remembered already (and
        not expired); the ids this call claimed, in order. Concurrent claims of one id: one wins.
        """
        ...

    def release(self, event_ids: Sequence[str]) -> None:
        """Forget these ids (their delivery could not be queued, so Intuit's retry must pass)."""
        ...


@dataclass(frozen=True, slots=True)
class QueuedChange:
    """One change-queue message: notices of one realm (``realm`` orders and groups them)."""

    realm: str
    body: str
    dedup_id: str


@dataclass(frozen=True, slots=True)
class ReceivedChange:
    """A message taken from the change queue; delete it with ``receipt`` once handled."""

    change: QueuedChange
    receipt: str
    deliveries: int = 1


class ChangeQueue(Protocol):
    """Changes announced by QuickBooks Online, waiting for the sync: at least once, in order per
    realm, and fair between realms. A realm with messages received and neither deleted nor timed
    out gets no more until they are (one realm is synced by one worker at a time), so a realm's
    backlog delays another realm by one receive at most."""

    def send(self, changes: Sequence[QueuedChange]) -> None:
        """Durably enqueue every message or raise StoreError."""
        ...

    def receive(self, max_messages: int = 10) -> list[ReceivedChange]:
        """Up to ``max_messages`` visible messages, hidden for the visibility timeout."""
        ...

    def delete(self, receipts: Sequence[str]) -> None:
        """Remove handled messages."""
        ...
