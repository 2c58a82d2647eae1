"""Managing subscriptions: what ``qbrelay webhooks add|remove|test`` do, on any stores."""

from __future__ import annotations

import secrets as random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..model.events import EVENT_TYPES, webhook_test
from ..store.ports import SecretStore
from .delivery import Deliverer, RetryPolicy
from .http import UrlPolicy, check_url
from .ports import ALL_EVENTS, Delivery, Subscription, SubscriptionStore, secret_name
from .signing import new_secret


class SubscriptionError(ValueError):
    """A subscription that cannot be made as asked (the message says why)."""


def event_filter(names: Iterable[str]) -> tuple[str, ...]:
    """The event types of a ``--events`` list (``*`` for all); SubscriptionError if unknown."""
    chosen = tuple(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not chosen:
        raise SubscriptionError("name at least one event type (or * for all)")
    unknown = [n for n in chosen if n != ALL_EVENTS and n not in EVENT_TYPES]
    if unknown:
        raise SubscriptionError(
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(EVENT_TYPES)}, *"
        )
    return (ALL_EVENTS,) if ALL_EVENTS in chosen else chosen


@dataclass(frozen=True, slots=True)
class NewSubscription:
    """A subscription just made, and its signing secret (shown this once)."""

    subscription: Subscription
    signing_secret: str


def add_subscription(
    subscriptions: SubscriptionStore,
    secrets: SecretStore,
    url: str,
    events: Iterable[str],
    policy: UrlPolicy,
    tenant: str | None = None,
    clock: Callable[[], float] = time.time,
) -> NewSubscription:
    """Register ``url`` for ``events``; the secret is stored first, so a subscription never
    exists without the key that signs its deliveries."""
    try:
        check_url(url, policy)
    except ValueError as exc:
        raise SubscriptionError(f"the URL cannot be used: {exc}") from None
    sub = Subscription(
        id="wh_" + random.token_hex(8),
        url=url.strip(),
        events=event_filter(events),
        tenant=tenant or None,
        created_at=clock(),
    )
    secret = new_secret()
    # An HMAC key must be usable to sign, so it is stored as is, in the secret store (never
    # hashed, never in the subscriptions table).
    secrets.put(secret_name(sub.id), {"signing_secret": secret})
    subscriptions.add(sub)
    return NewSubscription(sub, secret)


def remove_subscription(
    subscriptions: SubscriptionStore, secrets: SecretStore, subscription_id: str
) -> bool:
    """Delete the subscription and its secret; False if there was no such subscription."""
    removed = subscriptions.remove(subscription_id)
    secrets.delete(secret_name(subscription_id))
    return removed


def send_test(deliverer: Deliverer, subscription: Subscription) -> Delivery:
    """One attempt of a ``webhook.test`` event to ``subscription``, recorded in the log (no
    retries: the person who asked sees the outcome now)."""
    event = webhook_test(subscription.id, subscription.tenant or "", deliverer.clock())
    once = Deliverer(
        deliverer.subscriptions,
        deliverer.deliveries,
        deliverer.secrets,
        deliverer.policy,
        retry=RetryPolicy(max_attempts=1),
        clock=deliverer.clock,
        sender=deliverer.sender,
    )
    delivery = once.new_delivery(event, subscription)
    once.deliveries.create(delivery)
    return once.attempt(delivery)
