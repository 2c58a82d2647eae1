"""DynamoDB tables shaped like the deployed ones, for tests under moto."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def create_pk_table(client: Any, name: str) -> None:
    """A DynamoDB table shaped like the relay's: string partition key ``pk``, on demand."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_runs_table(client: Any, name: str) -> None:
    """The runs table: partition key ``pk`` (tenant), sort key ``sk``."""
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_mappings_table(client: Any, name: str) -> None:
    """The mappings table as deployed: ``pk`` and GSIs by_zoho, by_status and by_tenant."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "zoho_key", "AttributeType": "S"},
            {"AttributeName": "tenant_status", "AttributeType": "S"},
            {"AttributeName": "tenant", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_zoho",
                "KeySchema": [{"AttributeName": "zoho_key", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "tenant_status", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_tenant",
                "KeySchema": [
                    {"AttributeName": "tenant", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def create_relay_tables(client: Any) -> dict[str, str]:
    """Every table the relay uses, named after its environment variable's suffix."""
    names = {
        "QBRELAY_TENANTS_TABLE": "tenants",
        "QBRELAY_SESSIONS_TABLE": "sessions",
        "QBRELAY_STATE_TABLE": "state",
        "QBRELAY_MAPPINGS_TABLE": "mappings",
        "QBRELAY_RUNS_TABLE": "runs",
        "QBRELAY_WRITEBACK_TABLE": "writeback",
    }
    for name in ("tenants", "sessions", "state"):
        create_pk_table(client, name)
    create_mappings_table(client, "mappings")
    create_runs_table(client, "runs")
    create_writeback_table(client, "writeback")
    return names


@contextmanager
def relay_on_moto(monkeypatch: Any, *tenants: Any) -> Iterator[str]:
    """moto's DynamoDB and SQS as the relay's Lambda handler is configured: its tables and
    record queue named in the environment (no public URL, no capture function), ``tenants``
    created. Yields the record queue's URL."""
    import boto3
    from moto import mock_aws

    from lambdas.store.dynamo import DynamoTenantStore

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb")
        for env, table in create_relay_tables(ddb).items():
            monkeypatch.setenv(env, table)
        url = boto3.client("sqs").create_queue(QueueName="records")["QueueUrl"]
        monkeypatch.setenv("QBRELAY_RECORD_QUEUE_URL", url)
        monkeypatch.delenv("QBRELAY_PUBLIC_URL", raising=False)
        monkeypatch.delenv("QBRELAY_CAPTURE_FUNCTION", raising=False)
        for tenant in tenants:
            DynamoTenantStore(ddb, "tenants").create(tenant)
        yield url


def create_webhooks_table(client: Any, name: str) -> None:
    """The Webhooks table: ``pk`` and ``sk`` (subscriptions and the delivery log)."""
    create_runs_table(client, name)


class SerialClient:
    """A boto3 client whose calls run one at a time, as DynamoDB applies each request
    atomically; moto is not thread-safe (two threads' conditional transactions can both pass
    there), so threads interleave at request granularity, the race that matters."""

    def __init__(self, client: Any) -> None:
        self._client, self._lock = client, threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


def create_writeback_table(client: Any, name: str) -> None:
    """The WriteBack table as deployed: ``pk``, ``sk`` and GSIs ``open`` (sparse, keys only)
    and ``by_status``."""
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"}
            for a in ("pk", "sk", "open_seq", "status_key", "seq_key")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "open",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "open_seq", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "status_key", "KeyType": "HASH"},
                    {"AttributeName": "seq_key", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
