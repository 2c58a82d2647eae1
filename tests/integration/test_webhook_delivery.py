"""Webhook delivery to a receiver on 127.0.0.1: signatures, backoff, the log, the outbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas.local.webhook_worker import OutboxDispatch, local_deliverer
from lambdas.model import events
from lambdas.store.files import FileSecretStore
from lambdas.store.sqlite import SqliteDatabase
from lambdas.store.sqlite.outbox import SqliteOutbox
from lambdas.store.sqlite.webhooks import SqliteDeliveryLog, SqliteSubscriptionStore
from lambdas.webhooks.admin import (
    SubscriptionError,
    add_subscription,
    remove_subscription,
    send_test,
)
from lambdas.webhooks.delivery import Deliverer, RetryPolicy
from lambdas.webhooks.http import LOCAL
from lambdas.webhooks.signing import verify
from tests.webhook_receiver import Receiver

T0 = 1_780_000_000.0


class Rig:
    def __init__(self, tmp_path: Path, retry: RetryPolicy | None = None) -> None:
        self.now = [T0]
        self.db = SqliteDatabase.in_dir(tmp_path)
        self.subs = SqliteSubscriptionStore(self.db)
        self.log = SqliteDeliveryLog(self.db)
        self.secrets = FileSecretStore.in_dir(tmp_path)
        self.outbox = SqliteOutbox(self.db)
        self.deliverer = Deliverer(
            self.subs, self.log, self.secrets, LOCAL, retry=retry, clock=lambda: self.now[0]
        )
        self.dispatch = OutboxDispatch(self.outbox, self.deliverer, self.log)

    def add(self, url: str, kinds: str = "*", tenant: str | None = None):
        return add_subscription(
            self.subs, self.secrets, url, kinds.split(","), LOCAL, tenant, lambda: self.now[0]
        )


def parked(n: int = 1, tenant: str = "acme") -> events.Event:
    return events.failure_parked(
        tenant,
        f"m{n}",
        at=T0,
        entity="Customer",
        source_id=f"80-{n}",
        version="1",
        reason="Accounts: INVALID_DATA: bad Phone",
    )


def test_delivered_signed_and_logged(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    with Receiver() as receiver:
        made = rig.add(receiver.url, "failure.parked")
        rig.outbox.publish([parked()])
        rig.outbox.publish([parked()])  # the same fact again: one event, one delivery
        assert rig.dispatch.run_once() == 1
        (got,) = receiver.wait_for(1)
    assert got.path == "/hook"
    delivery = verify(made.signing_secret, got.headers, got.body, now=T0)
    doc = json.loads(got.body)
    assert doc["type"] == "failure.parked" and doc["data"]["source_id"] == "80-1"
    assert got.headers["x-qbrelay-event"] == "failure.parked"
    assert got.headers["content-type"] == "application/json"
    (entry,) = rig.log.recent()
    assert (entry.id, entry.status, entry.attempts, entry.status_code) == (
        delivery,
        "delivered",
        1,
        200,
    )
    assert rig.outbox.pending() == [] and rig.dispatch.run_once() == 0


def test_retries_with_exponential_backoff_until_the_receiver_answers(tmp_path: Path) -> None:
    rig = Rig(tmp_path, RetryPolicy(max_attempts=5, base_seconds=30, cap_seconds=100))
    with Receiver([500, 503, 302]) as receiver:
        made = rig.add(receiver.url)
        rig.outbox.publish([parked()])
        waits = []
        for _ in range(4):
            assert rig.dispatch.run_once() == 1
            (entry,) = rig.log.recent()
            if entry.status != "pending":
                break
            waits.append(entry.next_attempt_at - rig.now[0])
            rig.now[0] += 1
            assert rig.dispatch.run_once() == 0  # not due yet
            rig.now[0] = entry.next_attempt_at
        got = receiver.wait_for(4)
    assert waits == [30, 60, 100]  # doubled, capped
    assert (entry.status, entry.attempts, entry.status_code) == ("delivered", 4, 200)
    # Every attempt carries the same delivery id, each signed at its own time.
    ids = {verify(made.signing_secret, g.headers, g.body, now=T0 + 200, tolerance=300) for g in got}
    assert ids == {entry.id}
    assert len({g.headers["x-qbrelay-timestamp"] for g in got}) == 4


def test_gives_up_after_the_last_attempt_and_never_follows_redirects(tmp_path: Path) -> None:
    rig = Rig(tmp_path, RetryPolicy(max_attempts=2, base_seconds=1, cap_seconds=1))
    with Receiver([301, 500]) as receiver:
        rig.add(receiver.url)
        rig.outbox.publish([parked()])
        rig.dispatch.run_once()
        (entry,) = rig.log.recent()
        assert (entry.status, entry.status_code, entry.last_error) == (
            "pending",
            301,
            "redirects are not followed",
        )
        rig.now[0] += 1
        rig.dispatch.run_once()
        assert len(receiver.wait_for(2)) == 2  # nothing went to the Location
    (entry,) = rig.log.recent()
    assert (entry.status, entry.attempts, entry.status_code, entry.next_attempt_at) == (
        "failed",
        2,
        500,
        None,
    )


def test_filters_by_event_type_and_tenant(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    with Receiver() as a, Receiver() as b:
        rig.add(a.url, "failure.parked", tenant="acme")
        rig.add(b.url, "session.completed,tenant.stale")
        rig.outbox.publish([parked(1, "acme"), parked(2, "globex")])
        rig.dispatch.run_once()
        assert [json.loads(r.body)["tenant"] for r in a.wait_for(1)] == ["acme"]
    assert b.received == []
    assert len(rig.log.recent()) == 1


def test_a_removed_subscription_gets_nothing_more(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    with Receiver([500]) as receiver:
        made = rig.add(receiver.url)
        rig.outbox.publish([parked()])
        rig.dispatch.run_once()
        assert remove_subscription(rig.subs, rig.secrets, made.subscription.id)
        assert rig.secrets.get(f"webhooks/{made.subscription.id}") is None
        rig.now[0] += 3600
        rig.deliverer._secrets.clear()
        rig.dispatch.run_once()
        assert len(receiver.received) == 1
    (entry,) = rig.log.recent()
    assert (entry.status, entry.last_error) == ("failed", "the subscription was removed")


def test_test_sends_one_attempt_now(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    with Receiver([500]) as receiver:
        made = rig.add(receiver.url, "drift.found")
        result = send_test(rig.deliverer, made.subscription)
        (got,) = receiver.wait_for(1)
    assert (result.status, result.status_code, result.attempts) == ("failed", 500, 1)
    assert json.loads(got.body)["type"] == "webhook.test"


def test_refused_subscriptions(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for url, kinds in (
        ("http://example.com/h", "*"),
        ("https://example.com/h", "nope"),
        ("https://example.com/h", ""),
    ):
        with pytest.raises(SubscriptionError):
            rig.add(url, kinds)
    assert rig.subs.list() == []


def test_local_deliverer_reads_the_data_dir(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    with Receiver() as receiver:
        made = rig.add(receiver.url)
        d = local_deliverer(rig.db, tmp_path)
        dispatch = OutboxDispatch(rig.outbox, d, rig.log)
        rig.outbox.publish([parked()])
        dispatch.run_once()
        (got,) = receiver.wait_for(1)
    assert verify(made.signing_secret, got.headers, got.body, now=got_time(got))


def got_time(got) -> float:
    return float(got.headers["x-qbrelay-timestamp"])
