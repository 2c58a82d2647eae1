"""The EventBridge publisher against moto: entries on the bus, one PutEvents per batch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.events.eventbridge import MAX_REQUEST_BYTES, EventBridgePublisher
from lambdas.model.events import Event

T0 = 1_780_000_000.0


class Bus:
    """A moto bus whose relay events land on an SQS queue, and a log of PutEvents calls."""

    def __init__(self) -> None:
        self.events = boto3.client("events", region_name="us-east-1")
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.name = self.events.create_event_bus(Name="qbxml-relay-test")["EventBusArn"]
        self.queue = self.sqs.create_queue(QueueName="seen")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])
        self.events.put_rule(
            Name="all",
            EventBusName="qbxml-relay-test",
            EventPattern=json.dumps({"source": ["qbxml-relay"]}),
        )
        self.events.put_targets(
            Rule="all",
            EventBusName="qbxml-relay-test",
            Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
        )
        self.calls: list[list[dict[str, Any]]] = []
        self.events.meta.events.register(
            "provide-client-params.events.PutEvents",
            lambda params, **_: self.calls.append(params["Entries"]),
        )

    def seen(self) -> list[dict[str, Any]]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10)
            if not got.get("Messages"):
                return out
            for m in got["Messages"]:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def bus() -> Iterator[Bus]:
    with mock_aws():
        yield Bus()


def event(n: int, pad: int = 10) -> Event:
    return Event(f"evt_{n:03d}", "failure.parked", "acme", T0 + n, {"pad": "x" * pad})


def test_events_reach_the_bus_as_relay_events(bus: Bus) -> None:
    publisher = EventBridgePublisher(bus.events, "qbxml-relay-test")
    publisher.publish([event(1), event(2)])
    seen = bus.seen()
    assert [s["detail"]["id"] for s in seen] == ["evt_001", "evt_002"]
    first = seen[0]
    assert first["source"] == "qbxml-relay" and first["detail-type"] == "failure.parked"
    assert first["detail"] == event(1).to_json()
    assert (publisher.published, publisher.failed) == (2, 0)
    assert len(bus.calls) == 1


def test_one_call_per_batch_of_ten_and_256_kb(bus: Bus) -> None:
    publisher = EventBridgePublisher(bus.events, "qbxml-relay-test")
    publisher.publish([event(n) for n in range(25)])
    assert [len(c) for c in bus.calls] == [10, 10, 5]
    bus.calls.clear()
    publisher.publish([event(100 + n, pad=100_000) for n in range(5)])
    assert [len(c) for c in bus.calls] == [2, 2, 1]
    for call in bus.calls:
        assert sum(len(e["Detail"].encode()) + 40 for e in call) <= MAX_REQUEST_BYTES
    assert len(bus.seen()) == 30 and publisher.failed == 0


def test_an_oversize_event_is_dropped_and_counted_the_rest_go(bus: Bus) -> None:
    publisher = EventBridgePublisher(bus.events, "qbxml-relay-test")
    publisher.publish([event(1, pad=MAX_REQUEST_BYTES), event(2)])
    assert [s["detail"]["id"] for s in bus.seen()] == ["evt_002"]
    assert (publisher.published, publisher.failed) == (1, 1)


def test_failures_are_counted_never_raised(bus: Bus) -> None:
    counts: dict[str, int] = {}

    class Counting:
        def count(self, name: str, value: int = 1, entity: str | None = None) -> None:
            counts[name] = counts.get(name, 0) + value

    broken = boto3.client("events", region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    publisher = EventBridgePublisher(broken, "qbxml-relay-test", Counting())
    publisher.publish([event(1), event(2)])  # no exception, whatever the transport says
    assert publisher.failed == 2
    assert counts == {"EventsPublished": 0, "EventsPublishFailed": 2}
