"""The deliverer: events in, one signed POST per subscriber, retried with capped backoff.

``fan_out`` turns each event into one delivery per matching subscription (created once: the
delivery id comes from the event's and the subscription's ids, so an event delivered twice by
the bus is sent once). ``attempt`` makes one POST and writes its outcome to the delivery log:
delivered on 2xx; otherwise pending again after ``RetryPolicy.delay`` until ``max_attempts``,
then failed. A URL the policy refuses fails at once. What schedules the next attempt differs:
the local worker polls the log for due deliveries, the Lambda sends itself a delayed SQS message
(``schedule``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ..metrics import WEBHOOKS_DELIVERED, WEBHOOKS_FAILED, WEBHOOKS_RETRIED, Metrics, NoMetrics
from ..model.events import Event
from ..store.ports import SecretStore
from .http import Sent, UrlPolicy, post
from .ports import (
    Attempt,
    Delivery,
    DeliveryLog,
    DeliveryStatus,
    Subscription,
    SubscriptionStore,
    delivery_id,
    secret_name,
)
from .signing import signed_headers

log = logging.getLogger(__name__)

# How long a signing secret read from the secret store is reused.
SECRET_CACHE_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``base_seconds`` doubling per failed attempt up to ``cap_seconds``
    (SQS's longest message delay), for ``max_attempts`` attempts in all."""

    max_attempts: int = 10
    base_seconds: float = 30.0
    cap_seconds: float = 900.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return min(self.base_seconds * 2 ** min(max(attempts - 1, 0), 32), self.cap_seconds)


class Sender(Protocol):
    def __call__(
        self, url: str, body: bytes, headers: dict[str, str], policy: UrlPolicy
    ) -> Sent: ...


class Deliverer:
    """Delivers events to the subscriptions of ``subscriptions``, logging every attempt."""

    def __init__(
        self,
        subscriptions: SubscriptionStore,
        deliveries: DeliveryLog,
        secrets: SecretStore,
        policy: UrlPolicy,
        *,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sender: Sender = post,
        schedule: Callable[[Delivery], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.subscriptions = subscriptions
        self.deliveries = deliveries
        self.secrets = secrets
        self.policy = policy
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self.sender = sender
        self.schedule = schedule
        self.metrics = metrics or NoMetrics()
        self._secrets: dict[str, tuple[float, str | None]] = {}

    def fan_out(self, events: Sequence[Event]) -> list[Delivery]:
        """The deliveries of ``events`` that await their first attempt: created now, or created
        by an earlier run that ended before attempting them (a bus's repeat, a crash)."""
        subs = self.subscriptions.list() if events else []
        out = []
        for event in events:
            for sub in subs:
                if not sub.matches(event):
                    continue
                d = self.new_delivery(event, sub)
                if not self.deliveries.create(d):
                    found = self.deliveries.get(d.id)
                    if found is None or found.status != DeliveryStatus.PENDING or found.attempts:
                        continue  # settled, or its retries are scheduled already
                    d = found
                out.append(d)
        return out

    def new_delivery(self, event: Event, sub: Subscription) -> Delivery:
        """The delivery of ``event`` to ``sub``, not yet attempted."""
        now = self.clock()
        return Delivery(
            id=delivery_id(event, sub.id),
            subscription_id=sub.id,
            event_id=event.id,
            event_type=event.type,
            tenant=event.tenant,
            url=sub.url,
            body=event.body().decode(),
            created_at=now,
            next_attempt_at=now,
            updated_at=now,
        )

    def deliver(self, events: Sequence[Event]) -> list[Delivery]:
        """Fan ``events`` out and make every new delivery's first attempt."""
        return [self.attempt(d) for d in self.fan_out(events)]

    def attempt(self, delivery: Delivery) -> Delivery:
        """One POST of a pending delivery; the delivery as the log now has it."""
        if delivery.status != DeliveryStatus.PENDING:
            return delivery  # a repeated retry message: its delivery is settled already
        secret = self._secret(delivery.subscription_id)
        now = self.clock()
        attempts = delivery.attempts + 1
        if secret is None:
            sent = Sent(None, "the subscription was removed", permanent=True)
        else:
            body = delivery.body.encode()
            headers = signed_headers(secret, int(now), delivery.id, delivery.event_type, body)
            sent = self.sender(delivery.url, body, headers, self.policy)
        if sent.ok:
            status, next_at = DeliveryStatus.DELIVERED, None
            self.metrics.count(WEBHOOKS_DELIVERED)
        elif sent.permanent or attempts >= self.retry.max_attempts:
            status, next_at = DeliveryStatus.FAILED, None
            self.metrics.count(WEBHOOKS_FAILED)
            log.warning(
                "webhook delivery %s to subscription %s failed for good after %d attempt(s): %s",
                delivery.id,
                delivery.subscription_id,
                attempts,
                sent.error,
            )
        else:
            status, next_at = DeliveryStatus.PENDING, now + self.retry.delay(attempts)
            self.metrics.count(WEBHOOKS_RETRIED)
        updated = replace(
            delivery,
            attempts=attempts,
            status=status,
            status_code=sent.status_code,
            last_error=sent.error,
            next_attempt_at=next_at,
            updated_at=now,
        )
        if status == DeliveryStatus.PENDING and self.schedule is not None:
            # Scheduled before the log says so: if scheduling fails, the log still shows the
            # attempt as not made, and whoever retries this run makes it again.
            self.schedule(updated)
        attempt = Attempt(attempts, status, sent.status_code, sent.error, next_at, now)
        self.deliveries.record_attempt(delivery.id, attempt)
        return updated

    def _secret(self, subscription_id: str) -> str | None:
        """The subscription's signing secret; None once the subscription is gone."""
        now = self.clock()
        cached = self._secrets.get(subscription_id)
        if cached is not None and now - cached[0] < SECRET_CACHE_SECONDS:
            return cached[1]
        value: str | None = None
        if self.subscriptions.get(subscription_id) is not None:
            stored = self.secrets.get(secret_name(subscription_id)) or {}
            value = stored.get("signing_secret") or None
        self._secrets[subscription_id] = (now, value)
        return value
