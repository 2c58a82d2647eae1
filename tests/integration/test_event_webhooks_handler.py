"""The deliverer Lambda and the publishing handlers against moto: bus events in, signed POSTs
out, retries as delayed SQS messages; the stale check's events on the bus."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import event_webhooks, stale_sync
from lambdas.model.events import Event
from lambdas.store.dynamo import DynamoTenantStore, SecretsManagerSecretStore
from lambdas.store.dynamo.webhooks import DynamoDeliveryLog, DynamoSubscriptionStore
from lambdas.store.ports import Tenant
from lambdas.webhooks.admin import add_subscription
from lambdas.webhooks.http import PUBLIC_ONLY, Sent
from lambdas.webhooks.ports import Subscription
from lambdas.webhooks.signing import verify
from tests.aws_tables import create_pk_table, create_webhooks_table
from tests.integration.test_events_eventbridge import Bus
from tests.lambda_context import LambdaContext

PREFIX = "qbxml-relay/test/"


@pytest.fixture
def aws(monkeypatch) -> Iterator[dict[str, Any]]:
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "QBRELAY_WEBHOOKS_TABLE": "webhooks",
        "QBRELAY_SECRETS_PREFIX": PREFIX,
        "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/test",
        "QBRELAY_TENANTS_TABLE": "tenants",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(event_webhooks.metrics, "namespace", "QbxmlRelay/test")
    monkeypatch.setattr(stale_sync.metrics, "namespace", "QbxmlRelay/test")
    with mock_aws():
        ddb = boto3.client("dynamodb")
        create_webhooks_table(ddb, "webhooks")
        create_pk_table(ddb, "tenants")
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="webhook-retries")["QueueUrl"]
        monkeypatch.setenv("QBRELAY_WEBHOOK_RETRY_QUEUE_URL", url)
        event_webhooks.deliverer.cache_clear()
        stale_sync.configuration.cache_clear()
        yield {"ddb": ddb, "sqs": sqs, "retries": url}
        event_webhooks.deliverer.cache_clear()
        stale_sync.configuration.cache_clear()


class Script:
    """A sender standing in for the network (public hosts are out of reach in tests)."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url, body, headers, policy) -> Sent:
        assert policy is PUBLIC_ONLY
        self.sent.append((url, body, headers))
        status = self.statuses.pop(0) if self.statuses else 200
        return Sent(status, "" if status < 300 else f"HTTP {status}")


def bus_event(event: Event) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": event.type,
        "source": "qbxml-relay",
        "time": "2026-05-28T20:26:40Z",
        "detail": event.to_json(),
    }


def test_a_bus_event_is_delivered_and_a_failure_retried_via_sqs(aws) -> None:
    stores = DynamoSubscriptionStore(aws["ddb"], "webhooks")
    secrets = SecretsManagerSecretStore(boto3.client("secretsmanager"), PREFIX)
    made = add_subscription(
        stores, secrets, "https://hooks.example.com/qb", ["failure.parked"], PUBLIC_ONLY
    )
    core = event_webhooks.deliverer()
    core.sender = Script([503])
    sends: list[dict[str, Any]] = []
    core.schedule.__self__._client.meta.events.register(  # type: ignore[union-attr]
        "provide-client-params.sqs.SendMessage", lambda params, **_: sends.append(params)
    )
    event = Event("evt_1", "failure.parked", "acme", time.time(), {"source_id": "80-1"})
    reply = event_webhooks.handler(bus_event(event), LambdaContext("deliverer", 256))
    ((delivery, status),) = reply["deliveries"].items()
    assert status == "pending"
    (send,) = sends
    assert json.loads(send["MessageBody"]) == {"delivery_id": delivery}
    assert 29 <= send["DelaySeconds"] <= 30
    # The same bus event again (EventBridge delivers at least once): no second POST.
    event_webhooks.handler(bus_event(event), LambdaContext("deliverer", 256))
    assert len(core.sender.sent) == 1
    retry = {
        "Records": [
            {
                "messageId": "m-1",
                "receiptHandle": "r-1",
                "body": send["MessageBody"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:webhook-retries",
                "awsRegion": "us-east-1",
            }
        ]
    }
    assert event_webhooks.handler(retry, LambdaContext("deliverer", 256)) == {
        "batchItemFailures": []
    }
    logged = DynamoDeliveryLog(aws["ddb"], "webhooks").get(delivery)
    assert (logged.status, logged.attempts, logged.status_code) == ("delivered", 2, 200)
    url, body, headers = core.sender.sent[-1]
    assert url == "https://hooks.example.com/qb"
    assert verify(made.signing_secret, headers, body, now=time.time()) == delivery


def test_private_addresses_are_refused_by_the_deliverer(aws) -> None:
    stores = DynamoSubscriptionStore(aws["ddb"], "webhooks")
    # Written past the CLI's check (an old subscription, a hand-made item): refused when sent.
    stores.add(Subscription("wh_private", "https://169.254.169.254/latest", ("*",)))
    SecretsManagerSecretStore(boto3.client("secretsmanager"), PREFIX).put(
        "webhooks/wh_private", {"signing_secret": "whsec_x"}
    )
    event = Event("evt_2", "drift.found", "acme", time.time(), {})
    reply = event_webhooks.handler(bus_event(event), LambdaContext("deliverer", 256))
    ((delivery, status),) = reply["deliveries"].items()
    assert status == "failed"
    logged = DynamoDeliveryLog(aws["ddb"], "webhooks").get(delivery)
    assert logged.attempts == 1 and "not a public one" in logged.last_error


def test_the_stale_check_publishes_tenant_stale_to_the_bus(aws, monkeypatch) -> None:
    bus = Bus()
    monkeypatch.setenv("QBRELAY_EVENT_BUS", "qbxml-relay-test")
    monkeypatch.setenv("QBRELAY_STALE_SYNC_HOURS", "6")
    now = time.time()
    DynamoTenantStore(aws["ddb"], "tenants").create(
        Tenant("globex", "g-qbwc", "h", created_at=now - 6 * 3600 - 600)
    )
    reply = stale_sync.handler({"detail": {}}, LambdaContext("stale-sync", 256))
    assert reply["stale_tenants"] == ["globex"]
    (seen,) = bus.seen()
    assert seen["detail-type"] == "tenant.stale" and seen["detail"]["tenant"] == "globex"
