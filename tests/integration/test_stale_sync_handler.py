"""The scheduled stale-sync Lambda against moto's DynamoDB, metrics read from its EMF output."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import stale_sync
from lambdas.handlers.runtime import ConfigurationError
from lambdas.store.dynamo import DynamoTenantStore
from lambdas.store.ports import Tenant
from tests.aws_tables import create_pk_table
from tests.lambda_context import LambdaContext

SCHEDULED_EVENT = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T10:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/stale-sync"],
    "detail": {},
}


@pytest.fixture
def tenants(monkeypatch) -> Iterator[DynamoTenantStore]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("QBRELAY_TENANTS_TABLE", "tenants")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "QbxmlRelay/test")
    # Lambda sets the environment before the module is imported; here it was imported first.
    monkeypatch.setattr(stale_sync.metrics, "namespace", "QbxmlRelay/test")
    monkeypatch.setenv("QBRELAY_STALE_SYNC_HOURS", "6")
    with mock_aws():
        client = boto3.client("dynamodb")
        create_pk_table(client, "tenants")
        stale_sync.configuration.cache_clear()
        yield DynamoTenantStore(client, "tenants")
        stale_sync.configuration.cache_clear()


def emitted(capsys) -> dict:
    """The one EMF document the handler printed."""
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert len(docs) == 1
    return docs[0]


def test_counts_stale_tenants_and_publishes_the_metric(tenants, capsys) -> None:
    now = time.time()
    tenants.create(Tenant("acme", "acme-qbwc", "h", created_at=now - 86400, last_sync_at=now - 60))
    tenants.create(Tenant("globex", "globex-qbwc", "h", created_at=now - 86400))
    tenants.create(
        Tenant("initech", "ini-qbwc", "h", created_at=now - 86400, last_sync_at=now - 7 * 3600)
    )
    reply = stale_sync.handler(SCHEDULED_EVENT, LambdaContext("stale-sync", 256))
    assert reply == {"threshold_hours": 6.0, "stale_tenants": ["globex", "initech"]}
    doc = emitted(capsys)
    assert doc["StaleTenants"] == [2.0]
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "QbxmlRelay/test"
    assert directive["Dimensions"] == [["service"]] and doc["service"] == "qbxml-relay"


def test_zero_is_published_too(tenants, capsys) -> None:
    now = time.time()
    tenants.create(Tenant("acme", "acme-qbwc", "h", created_at=now - 60))
    assert (
        stale_sync.handler(SCHEDULED_EVENT, LambdaContext("stale-sync", 256))["stale_tenants"] == []
    )
    assert emitted(capsys)["StaleTenants"] == [0.0]


def test_bad_threshold_is_a_clear_error(tenants, monkeypatch) -> None:
    monkeypatch.setenv("QBRELAY_STALE_SYNC_HOURS", "soon")
    with pytest.raises(ConfigurationError, match="QBRELAY_STALE_SYNC_HOURS"):
        stale_sync.configuration()


def test_missing_table_is_a_clear_error(monkeypatch) -> None:
    stale_sync.configuration.cache_clear()
    monkeypatch.delenv("QBRELAY_TENANTS_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="QBRELAY_TENANTS_TABLE"):
        stale_sync.configuration()
    stale_sync.configuration.cache_clear()
