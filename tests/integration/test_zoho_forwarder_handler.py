"""The forwarder Lambda: SQS event in, partial batch failures out, over moto and the fake ZOHO."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import zoho_forwarder
from lambdas.handlers.runtime import ConfigurationError
from tests.aws_tables import create_mappings_table, create_pk_table
from tests.integration.zoho_helpers import (
    CLIENT_ID,
    REFRESH,
    SECRET,
    ZohoEnv,
    customer,
    invoice,
    message,
)
from tests.lambda_context import LambdaContext

ENV = {
    "QBRELAY_STATE_TABLE": "state",
    "QBRELAY_MAPPINGS_TABLE": "mappings",
    "QBRELAY_SECRETS_PREFIX": "qbxml-relay/test/",
    "POWERTOOLS_SERVICE_NAME": "qbxml-relay",
    "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def aws(zoho: ZohoEnv, monkeypatch) -> Iterator[dict[str, Any]]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    # Powertools reads the namespace when the module is imported, before this test's env.
    monkeypatch.setattr(
        zoho_forwarder.metrics.provider, "namespace", ENV["POWERTOOLS_METRICS_NAMESPACE"]
    )
    with mock_aws():
        ddb = boto3.client("dynamodb")
        create_pk_table(ddb, "state")
        create_mappings_table(ddb, "mappings")
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        monkeypatch.setenv("QBRELAY_DLQ_URL", dlq)
        boto3.client("secretsmanager").create_secret(
            Name="qbxml-relay/test/zoho/acme",
            SecretString=json.dumps(
                {
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                    "refresh_token": REFRESH,
                    "data_centre": "com",
                    "accounts_url": zoho.url,
                }
            ),
        )
        zoho_forwarder.forwarder.cache_clear()
        yield {"sqs": sqs, "dlq": dlq, "ddb": ddb}
        zoho_forwarder.forwarder.cache_clear()


def event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:records",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_handler_reports_only_retries_as_batch_failures(aws, zoho: ZohoEnv, capsys) -> None:
    bad = customer(2, phone="5" * 31)
    bodies = [
        message(customer(1)),
        message(bad),
        message(invoice(1, 9, [])),  # its customer is nowhere yet: delivered again later
    ]
    result = zoho_forwarder.handler(event(bodies), LambdaContext("zoho-forwarder", 256))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert len(zoho.fake.by_field("Accounts", "QB_ListID", customer(1)["list_id"])) == 1
    parked = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MessageAttributeNames=["All"])
    (letter,) = parked["Messages"]
    assert json.loads(letter["Body"])["record"]["list_id"] == bad["list_id"]
    assert letter["MessageAttributes"]["reason"]["StringValue"].startswith("Accounts: INVALID_DATA")
    item = aws["ddb"].get_item(
        TableName="mappings", Key={"pk": {"S": f"acme#qbd#Customer#{bad['list_id']}"}}
    )
    assert item["Item"]["tenant_status"]["S"] == "acme#parked"
    token = aws["ddb"].get_item(TableName="state", Key={"pk": {"S": "@zoho-token#acme"}})["Item"]
    assert token["api_domain"]["S"] == zoho.url
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert emf, out
    metrics = emf[-1]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "QbxmlRelay/test"

    def value(name: str) -> float:
        v = metrics[name]
        return sum(v) if isinstance(v, list) else v

    assert value("ZohoUpsertsSucceeded") == 2  # the account and its contact
    assert value("ZohoUpsertsFailed") == 1
    assert value("ZohoCalls") == 4  # token + Accounts + Contacts + Invoices
    assert SECRET not in out and REFRESH not in out
    # Redelivered unchanged: no ZOHO call, nothing to report.
    calls = zoho.fake.calls
    assert zoho_forwarder.handler(event(bodies[:1]), LambdaContext("zoho-forwarder", 256)) == {
        "batchItemFailures": []
    }
    assert zoho.fake.calls == calls


def test_an_orphan_is_parked_with_its_reason_before_sqs_gives_up(aws, zoho: ZohoEnv) -> None:
    ev = event([message(invoice(1, 9, []))])
    assert zoho_forwarder.handler(ev, LambdaContext("zoho-forwarder", 256))["batchItemFailures"]
    ev["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    assert zoho_forwarder.handler(ev, LambdaContext("zoho-forwarder", 256)) == {
        "batchItemFailures": []
    }
    parked = aws["sqs"].receive_message(QueueUrl=aws["dlq"], MessageAttributeNames=["All"])
    reason = parked["Messages"][0]["MessageAttributes"]["reason"]["StringValue"]
    assert "parent is not in ZOHO yet" in reason and "after 5 deliveries" in reason


def test_handler_needs_its_environment(monkeypatch) -> None:
    monkeypatch.delenv("QBRELAY_DLQ_URL", raising=False)
    zoho_forwarder.forwarder.cache_clear()
    with pytest.raises(ConfigurationError, match="QBRELAY_DLQ_URL"):
        zoho_forwarder.forwarder()
    assert os.environ.get("QBRELAY_DLQ_URL") is None
