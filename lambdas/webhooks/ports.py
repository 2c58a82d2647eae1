"""Webhook subscriptions and the delivery log: the records and the two store ports.

Subscriptions are written by the CLI alone; a delivery row is created and then updated by the
deliverer that owns it (attempt by attempt, attribute by attribute). The signing secret of a
subscription is not here: it lives in the secret store as ``webhooks/<id>``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ..model.events import Event

ALL_EVENTS = "*"


def secret_name(subscription_id: str) -> str:
    """The secret store name of a subscription's signing secret."""
    return f"webhooks/{subscription_id}"


@dataclass(frozen=True, slots=True)
class Subscription:
    """A receiver of events: its URL, which event types, and optionally one tenant only."""

    id: str
    url: str
    events: tuple[str, ...]
    tenant: str | None = None
    created_at: float = 0.0

    def matches(self, event: Event) -> bool:
        """Whether ``event`` goes to this subscriber."""
        if self.tenant is not None and event.tenant != self.tenant:
            return False
        return ALL_EVENTS in self.events or event.type in self.events

    def to_item(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "tenant": self.tenant,
            "created_at": self.created_at,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Subscription:
        return cls(
            id=item["id"],
            url=item["url"],
            events=tuple(item.get("events") or ()),
            tenant=item.get("tenant") or None,
            created_at=float(item.get("created_at") or 0.0),
        )


class DeliveryStatus(StrEnum):
    """Where a delivery stands."""

    PENDING = "pending"  # an attempt is due at ``next_attempt_at``
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: attempts exhausted, or the URL refused by policy


def delivery_id(event: Event, subscription_id: str) -> str:
    """The delivery of one event to one subscriber: the same for a repeated event, so a bus
    that delivers an event twice creates one delivery. Ordered by the event's time."""
    digest = hashlib.sha256(f"{event.id}|{subscription_id}".encode()).hexdigest()[:20]
    return f"dlv_{int(event.time * 1000):013d}_{digest}"


@dataclass(slots=True)
class Delivery:
    """One event on its way to one subscriber, and what its attempts gave."""

    id: str
    subscription_id: str
    event_id: str
    event_type: str
    tenant: str
    url: str
    body: str  # the event document (JSON) as it is signed and sent
    created_at: float
    attempts: int = 0
    status: str = DeliveryStatus.PENDING
    status_code: int | None = None
    last_error: str = ""
    next_attempt_at: float | None = None
    updated_at: float = 0.0

    @property
    def immutable(self) -> dict[str, Any]:
        """What is written once, when the delivery is created."""
        return {
            "id": self.id,
            "subscription_id": self.subscription_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "tenant": self.tenant,
            "url": self.url,
            "body": self.body,
            "created_at": self.created_at,
        }

    def to_json(self) -> dict[str, Any]:
        """The log entry as ``webhooks deliveries --json`` shows it (without the body)."""
        out = {k: v for k, v in self.immutable.items() if k != "body"}
        return {
            **out,
            "attempts": self.attempts,
            "status": str(self.status),
            "status_code": self.status_code,
            "last_error": self.last_error,
            "next_attempt_at": self.next_attempt_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class Attempt:
    """The outcome of one attempt, as written to the log."""

    attempts: int
    status: str
    status_code: int | None
    error: str
    next_attempt_at: float | None
    at: float


class SubscriptionStore(Protocol):
    """Webhook subscriptions by id."""

    def add(self, subscription: Subscription) -> None:
        """Store a new subscription (AlreadyExists if the id is taken)."""

    def get(self, subscription_id: str) -> Subscription | None: ...

    def list(self) -> list[Subscription]:
        """Every subscription, by id."""

    def remove(self, subscription_id: str) -> bool:
        """Delete the subscription; False if there was none."""


class DeliveryLog(Protocol):
    """Every delivery and the outcome of its latest attempt, newest first."""

    def create(self, delivery: Delivery) -> bool:
        """Record a new delivery; False (nothing written) if its id exists already."""

    def get(self, delivery_id: str) -> Delivery | None: ...

    def record_attempt(self, delivery_id: str, attempt: Attempt) -> None:
        """Write an attempt's outcome (only the attempt attributes; StoreError if unknown)."""

    def recent(self, limit: int = 20) -> list[Delivery]:
        """The latest deliveries, newest event first."""
