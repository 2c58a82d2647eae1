"""One contract for the QuickBooks Online sync's stores: SQLite and DynamoDB/SQS FIFO (moto)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.store.dynamo import DynamoSeenEvents, SqsChangeQueue
from lambdas.store.qbo_ports import QueuedChange
from lambdas.store.sqlite import SqliteChangeQueue, SqliteDatabase, SqliteSeenEvents
from tests.aws_tables import create_pk_table


@dataclass
class Stores:
    seen: Any
    queue: Any


@pytest.fixture(params=["sqlite", "aws"])
def stores(request, tmp_path) -> Iterator[Stores]:
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)
        yield Stores(SqliteSeenEvents(db), SqliteChangeQueue(db, 30))
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        create_pk_table(ddb, "sessions")
        url = sqs.create_queue(
            QueueName="qbo-changes.fifo",
            Attributes={"FifoQueue": "true", "VisibilityTimeout": "30"},
        )["QueueUrl"]
        yield Stores(DynamoSeenEvents(ddb, "sessions"), SqsChangeQueue(sqs, url))


def test_an_event_id_is_claimed_once_until_it_expires(stores: Stores) -> None:
    long_id = "x" * 5000  # Intuit's ids are opaque: any length is stored under a short key
    assert stores.seen.claim(["e1", "e2", long_id], 100.0, 60.0) == ["e1", "e2", long_id]
    assert stores.seen.claim(["e2", "e3", long_id], 110.0, 60.0) == ["e3"]
    assert stores.seen.claim(["e1"], 159.0, 60.0) == []
    assert stores.seen.claim(["e1"], 161.0, 60.0) == ["e1"]  # expired: new again
    assert stores.seen.claim(["e1"], 162.0, 60.0) == []


def test_released_ids_can_be_claimed_again(stores: Stores) -> None:
    assert stores.seen.claim(["a", "b"], 100.0, 60.0) == ["a", "b"]
    stores.seen.release(["a", "zz-never-claimed"])
    assert stores.seen.claim(["a", "b"], 101.0, 60.0) == ["a"]


def test_concurrent_claims_of_one_id_have_one_winner(tmp_path) -> None:
    # SQLite across threads and connections (moto is not thread-safe; on DynamoDB the claim is
    # one conditional put, whose refusal the contract tests above exercise).
    db = SqliteDatabase.in_dir(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: SqliteSeenEvents(db).claim(["race"], 100.0, 60.0), range(8))
        )
    assert sum(len(r) for r in results) == 1


def _changes(realm: str, n: int) -> list[QueuedChange]:
    return [QueuedChange(realm, f'["{realm}{i}"]', f"{realm}-{i}") for i in range(n)]


def test_messages_come_in_order_per_realm_and_are_deleted_once_handled(stores: Stores) -> None:
    stores.queue.send(_changes("r1", 3))
    got = stores.queue.receive(10)
    assert [m.change.body for m in got] == ['["r10"]', '["r11"]', '["r12"]']
    assert all(m.change.realm == "r1" and m.deliveries == 1 for m in got)
    assert [m.change.dedup_id for m in got] == ["r1-0", "r1-1", "r1-2"]
    assert stores.queue.receive(10) == []  # in flight
    stores.queue.delete([m.receipt for m in got])
    assert stores.queue.receive(10) == []


def test_one_realms_backlog_delays_another_by_one_receive_at_most(stores: Stores) -> None:
    stores.queue.send(_changes("busy", 25))
    stores.queue.send(_changes("quiet", 1))
    first = stores.queue.receive(10)
    realms = [m.change.realm for m in first]
    if "quiet" not in realms:
        # A realm in flight is held back, so the next receive serves the other realm.
        second = stores.queue.receive(10)
        realms += [m.change.realm for m in second]
        first += second
    assert "quiet" in realms
    # While a realm has messages in flight, no receive hands out more of it.
    assert all(m.change.realm != "busy" for m in stores.queue.receive(10))
    stores.queue.delete([m.receipt for m in first])
    following = stores.queue.receive(10)
    assert following and {m.change.realm for m in following} == {"busy"}
    busy = [int(m.change.body[6:-2]) for m in first + following if m.change.realm == "busy"]
    assert busy == sorted(busy) and busy[0] == 0


def test_the_sqlite_queue_serves_realms_in_turn_across_receives(tmp_path) -> None:
    queue = SqliteChangeQueue(SqliteDatabase.in_dir(tmp_path), 30)
    queue.send(_changes("busy", 5))
    queue.send(_changes("quiet", 1))
    queue.send(_changes("late", 1))
    served = []
    for _ in range(7):
        got = queue.receive(1)
        served += [m.change.realm for m in got]
        queue.delete([m.receipt for m in got])
    assert served == ["busy", "quiet", "late", "busy", "busy", "busy", "busy"]
    assert queue.receive(10) == []
