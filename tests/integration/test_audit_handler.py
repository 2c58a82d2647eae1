"""The scheduled audit Lambda over moto (DynamoDB, Secrets Manager) and the fake ZOHO."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import audit
from lambdas.handlers.runtime import ConfigurationError
from lambdas.store.dynamo import DynamoAuditResults
from lambdas.store.ports import Tenant
from tests.aws_tables import create_pk_table
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv
from tests.lambda_context import LambdaContext

ENV = {
    "QBRELAY_TENANTS_TABLE": "tenants",
    "QBRELAY_STATE_TABLE": "state",
    "QBRELAY_MAPPINGS_TABLE": "mappings",
    "QBRELAY_SECRETS_PREFIX": "qbxml-relay/test/",
    "POWERTOOLS_SERVICE_NAME": "qbxml-relay",
    "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/test",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SCHEDULED_EVENT = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}


def create_mappings_table(client: Any, name: str) -> None:
    """The mappings table as deployed: ``pk`` plus GSIs by_zoho, by_status and by_tenant."""
    index = {"Projection": {"ProjectionType": "ALL"}}
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": a, "AttributeType": "S"}
            for a in ("pk", "zoho_key", "tenant_status", "tenant")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_zoho",
                "KeySchema": [{"AttributeName": "zoho_key", "KeyType": "HASH"}],
                **index,
            },
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "tenant_status", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                **index,
            },
            {
                "IndexName": "by_tenant",
                "KeySchema": [
                    {"AttributeName": "tenant", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                **index,
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def add_credentials(zoho: ZohoEnv, tenant: str, refresh_token: str = REFRESH) -> None:
    boto3.client("secretsmanager").create_secret(
        Name=f"qbxml-relay/test/zoho/{tenant}",
        SecretString=json.dumps(
            {
                "client_id": CLIENT_ID,
                "client_secret": SECRET,
                "refresh_token": refresh_token,
                "data_centre": "com",
                "accounts_url": zoho.url,
            }
        ),
    )


@pytest.fixture
def tenants(zoho: ZohoEnv, monkeypatch) -> Iterator[Any]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("QBRELAY_AUDIT_REPAIR", raising=False)
    # Powertools reads the namespace when the module is imported, before this test's env.
    monkeypatch.setattr(audit.metrics.provider, "namespace", ENV["POWERTOOLS_METRICS_NAMESPACE"])
    with mock_aws():
        ddb = boto3.client("dynamodb")
        create_pk_table(ddb, "tenants")
        create_pk_table(ddb, "state")
        create_mappings_table(ddb, "mappings")
        audit.configuration.cache_clear()
        # The handler's own tenant store (lambdas.store.dynamo, once the store split lands).
        yield audit.configuration()[0].tenants
        audit.configuration.cache_clear()


def emitted(out: str) -> dict[str, Any]:
    """The one EMF document the handler printed."""
    docs = [json.loads(line) for line in out.splitlines() if "_aws" in line]
    assert len(docs) == 1
    return docs[0]


def value(doc: dict[str, Any], name: str) -> float:
    v = doc[name]
    return sum(v) if isinstance(v, list) else v


def test_audits_tenants_with_credentials_and_publishes_the_drift(
    tenants, zoho: ZohoEnv, capsys
) -> None:
    tenants.create(Tenant("acme", "acme-qbwc", "h"))
    tenants.create(Tenant("globex", "globex-qbwc", "h"))  # no ZOHO credentials: skipped
    add_credentials(zoho, "acme")
    # A ZOHO account carrying a QuickBooks id the mapping store does not know.
    zoho.fake.add_records("Accounts", [{"Account_Name": "Stray", "QB_ListID": "80009999-1"}])

    reply = audit.handler(SCHEDULED_EVENT, LambdaContext("audit", 256))

    assert reply["skipped"] == ["globex"] and reply["failed"] == {}
    assert reply["drift"] == 1 and reply["repair"] is False
    assert reply["tenants"]["acme"]["audit_unknown"] == 1
    assert reply["credits"] >= reply["coql_calls"] >= 1
    # Each summary is kept for status (qbrelay status, the status API): drift per tenant.
    kept = DynamoAuditResults(boto3.client("dynamodb"), "state").last("acme")
    assert kept is not None and kept[0] == reply["tenants"]["acme"]
    doc = emitted(capsys.readouterr().out)
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "QbxmlRelay/test"
    assert directive["Dimensions"] == [["service"]]  # never per tenant
    assert value(doc, "DriftRecords") == 1
    assert value(doc, "AuditFailures") == 0
    assert value(doc, "AuditCredits") == reply["credits"]


def test_a_failing_tenant_is_counted_and_the_others_still_run(
    tenants, zoho: ZohoEnv, capsys, caplog
) -> None:
    tenants.create(Tenant("acme", "acme-qbwc", "h"))
    tenants.create(Tenant("initech", "ini-qbwc", "h"))
    add_credentials(zoho, "acme")
    add_credentials(zoho, "initech", refresh_token="1000.revoked")  # ZOHO refuses the grant

    reply = audit.handler(SCHEDULED_EVENT, LambdaContext("audit", 256))

    assert set(reply["tenants"]) == {"acme"}
    assert set(reply["failed"]) == {"initech"}
    assert value(emitted(capsys.readouterr().out), "AuditFailures") == 1
    (failed,) = [r for r in caplog.records if r.getMessage() == "audit: tenant failed"]
    assert failed.tenant == "initech" and failed.error_type.startswith("Zoho")
    logged = " ".join(str(r.__dict__) for r in caplog.records)
    assert SECRET not in logged and "1000.revoked" not in logged


def test_repair_flag(tenants, monkeypatch) -> None:
    audit.configuration.cache_clear()
    monkeypatch.setenv("QBRELAY_AUDIT_REPAIR", "true")
    assert audit.configuration()[2] is True
    audit.configuration.cache_clear()
    monkeypatch.setenv("QBRELAY_AUDIT_REPAIR", "perhaps")
    with pytest.raises(ConfigurationError, match="QBRELAY_AUDIT_REPAIR"):
        audit.configuration()


def test_missing_environment_is_a_clear_error(monkeypatch) -> None:
    audit.configuration.cache_clear()
    monkeypatch.delenv("QBRELAY_MAPPINGS_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="QBRELAY_MAPPINGS_TABLE"):
        audit.configuration()
    audit.configuration.cache_clear()


def test_drift_is_published_to_the_bus(tenants, zoho: ZohoEnv, monkeypatch) -> None:
    from tests.integration.test_events_eventbridge import Bus

    bus = Bus()
    monkeypatch.setenv("QBRELAY_EVENT_BUS", "qbxml-relay-test")
    audit.configuration.cache_clear()
    ports = audit.configuration()[0]
    ports.tenants.create(Tenant("acme", "acme-qbwc", "h"))
    add_credentials(zoho, "acme")
    zoho.fake.add_records("Accounts", [{"Account_Name": "Stray", "QB_ListID": "80009999-1"}])
    audit.handler(SCHEDULED_EVENT, LambdaContext("audit", 256))
    (seen,) = bus.seen()
    assert seen["detail-type"] == "drift.found"
    assert seen["detail"]["tenant"] == "acme" and seen["detail"]["data"]["counts"]["unknown"] == 1
