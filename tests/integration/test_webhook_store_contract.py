"""One contract for the webhook stores: subscriptions and the delivery log, SQLite and DynamoDB."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.model.events import Event
from lambdas.store.dynamo.webhooks import DynamoDeliveryLog, DynamoSubscriptionStore
from lambdas.store.ports import AlreadyExists, StoreError
from lambdas.store.sqlite import SqliteDatabase
from lambdas.store.sqlite.webhooks import SqliteDeliveryLog, SqliteSubscriptionStore
from lambdas.webhooks.ports import Attempt, Delivery, DeliveryStatus, Subscription, delivery_id
from tests.aws_tables import create_webhooks_table

T0 = 1_780_000_000.0


@dataclass
class Stores:
    subscriptions: Any
    deliveries: Any


@pytest.fixture(params=["sqlite", "aws"])
def stores(request, tmp_path) -> Iterator[Stores]:
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)
        yield Stores(SqliteSubscriptionStore(db), SqliteDeliveryLog(db))
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_webhooks_table(ddb, "webhooks")
        yield Stores(DynamoSubscriptionStore(ddb, "webhooks"), DynamoDeliveryLog(ddb, "webhooks"))


def sub(n: int, **kw: Any) -> Subscription:
    return Subscription(f"wh_{n:04d}", f"https://h{n}.example.com/x", ("*",), created_at=T0, **kw)


def delivery(n: int, sub_id: str = "wh_0001") -> Delivery:
    event = Event(f"evt_{n}", "session.completed", "acme", T0 + n, {"n": n})
    return Delivery(
        id=delivery_id(event, sub_id),
        subscription_id=sub_id,
        event_id=event.id,
        event_type=event.type,
        tenant=event.tenant,
        url="https://h1.example.com/x",
        body=event.body().decode(),
        created_at=T0 + n,
        next_attempt_at=T0 + n,
        updated_at=T0 + n,
    )


def test_subscriptions_add_get_list_remove(stores: Stores) -> None:
    s = stores.subscriptions
    assert s.list() == [] and s.get("wh_0001") is None
    s.add(sub(2, tenant="acme"))
    s.add(sub(1))
    with pytest.raises(AlreadyExists):
        s.add(sub(1))
    assert [x.id for x in s.list()] == ["wh_0001", "wh_0002"]
    assert s.get("wh_0002") == sub(2, tenant="acme")
    assert s.remove("wh_0001") is True and s.remove("wh_0001") is False
    assert [x.id for x in s.list()] == ["wh_0002"]


def test_a_delivery_is_created_once_and_updated_per_attempt(stores: Stores) -> None:
    log = stores.deliveries
    d = delivery(1)
    assert log.create(d) is True
    assert log.create(d) is False  # the same event and subscription again: nothing written
    assert log.get(d.id) == d
    log.record_attempt(d.id, Attempt(1, DeliveryStatus.PENDING, 503, "HTTP 503", T0 + 31, T0 + 1))
    got = log.get(d.id)
    assert (got.attempts, got.status, got.status_code, got.last_error) == (
        1,
        "pending",
        503,
        "HTTP 503",
    )
    assert (got.next_attempt_at, got.updated_at, got.body) == (T0 + 31, T0 + 1, d.body)
    log.record_attempt(d.id, Attempt(2, DeliveryStatus.DELIVERED, 200, "", None, T0 + 40))
    got = log.get(d.id)
    assert (got.status, got.status_code, got.next_attempt_at) == ("delivered", 200, None)
    failed = Attempt(1, DeliveryStatus.FAILED, None, "refused", None, T0)
    log.record_attempt(d.id, failed)
    assert log.get(d.id).status_code is None
    with pytest.raises(StoreError):
        log.record_attempt("dlv_unknown", failed)


def test_recent_is_newest_event_first(stores: Stores) -> None:
    log = stores.deliveries
    for n in (3, 1, 2):
        log.create(delivery(n))
    assert [d.event_id for d in log.recent(2)] == ["evt_3", "evt_2"]
    assert len(log.recent(10)) == 3
