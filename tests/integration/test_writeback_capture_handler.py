"""The write-back capture Lambda over moto (DynamoDB, SQS, Secrets Manager) and the fake ZOHO,
and the relay's bounded invocation of it before a session."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import writeback_capture
from lambdas.handlers.capture_client import CaptureFailed, invoke_capture
from lambdas.store.dynamo import DynamoWriteBackStore
from lambdas.store.ports import Tenant
from lambdas.writeback.model import ADD, OpStatus
from lambdas.writeback.runner import before_plan
from tests.aws_tables import create_mappings_table, create_pk_table, create_writeback_table
from tests.integration.test_audit_handler import SCHEDULED_EVENT, add_credentials, emitted, value
from tests.integration.zoho_helpers import ZohoEnv
from tests.lambda_context import LambdaContext

ENV = {
    "QBRELAY_TENANTS_TABLE": "tenants",
    "QBRELAY_STATE_TABLE": "state",
    "QBRELAY_MAPPINGS_TABLE": "mappings",
    "QBRELAY_WRITEBACK_TABLE": "writeback",
    "QBRELAY_SECRETS_PREFIX": "qbxml-relay/test/",
    "POWERTOOLS_SERVICE_NAME": "qbxml-relay",
    "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def aws(zoho: ZohoEnv, monkeypatch) -> Iterator[Any]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(
        writeback_capture.metrics.provider, "namespace", ENV["POWERTOOLS_METRICS_NAMESPACE"]
    )
    with mock_aws():
        ddb = boto3.client("dynamodb")
        create_pk_table(ddb, "tenants")
        create_pk_table(ddb, "state")
        create_mappings_table(ddb, "mappings")
        create_writeback_table(ddb, "writeback")
        url = boto3.client("sqs").create_queue(QueueName="records")["QueueUrl"]
        monkeypatch.setenv("QBRELAY_RECORD_QUEUE_URL", url)
        writeback_capture.configuration.cache_clear()
        yield writeback_capture.configuration()[0].tenants
        writeback_capture.configuration.cache_clear()


def tenant(name: str, writeback: bool = True) -> Tenant:
    return Tenant(name, f"{name}-qbwc", "h", writeback=writeback, writeback_since=time.time() - 5)


def test_the_schedule_captures_every_write_back_tenant(aws, zoho: ZohoEnv, capsys) -> None:
    aws.create(tenant("acme"))
    aws.create(tenant("globex", writeback=False))  # off: not read at all
    add_credentials(zoho, "acme")
    (rid,) = zoho.fake.add_records("Accounts", [{"Account_Name": "Harbor Supply"}])

    reply = writeback_capture.handler(SCHEDULED_EVENT, LambdaContext("capture", 256))

    assert list(reply["tenants"]) == ["acme"] and reply["failed"] == {}
    assert reply["tenants"]["acme"]["ops_added"] == 1
    store = DynamoWriteBackStore(boto3.client("dynamodb"), "writeback")
    (op,) = store.open_ops("acme")
    assert (op.action, op.zoho_id, op.status, op.edition) == (ADD, rid, OpStatus.PENDING, "qbd")
    doc = emitted(capsys.readouterr().out)
    assert value(doc, "WriteBackCaptured") == 1 and value(doc, "WriteBackCaptureFailures") == 0
    # Run again: the same change is the same operation.
    again = writeback_capture.handler(SCHEDULED_EVENT, LambdaContext("capture", 256))
    assert again["tenants"]["acme"]["ops_added"] == 0 and len(store.open_ops("acme")) == 1


def test_a_tenant_without_credentials_fails_alone(aws, zoho: ZohoEnv, capsys) -> None:
    aws.create(tenant("acme"))
    aws.create(tenant("globex"))
    add_credentials(zoho, "globex")
    zoho.fake.add_records("Accounts", [{"Account_Name": "Orchard Foods"}])
    reply = writeback_capture.handler(SCHEDULED_EVENT, LambdaContext("capture", 256))
    assert "acme" in reply["failed"] and reply["tenants"]["globex"]["ops_added"] == 1
    assert value(emitted(capsys.readouterr().out), "WriteBackCaptureFailures") == 1


def test_the_relays_call_names_one_tenant(aws, zoho: ZohoEnv) -> None:
    aws.create(tenant("acme"))
    aws.create(tenant("globex"))
    add_credentials(zoho, "acme")
    add_credentials(zoho, "globex")
    zoho.fake.add_records("Accounts", [{"Account_Name": "Summit Tools"}])
    reply = writeback_capture.handler({"tenant": "globex"}, LambdaContext("capture", 256))
    assert list(reply["tenants"]) == ["globex"]


class FakeLambda:
    """What the relay's Lambda client is asked, and its answer."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def invoke(self, **kw: Any) -> dict[str, Any]:
        self.calls.append(kw)
        reply: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(b"{}")}
        if self.error:
            reply["FunctionError"] = self.error
        return reply


def test_the_relay_invokes_the_capture_synchronously_for_its_tenant() -> None:
    client = FakeLambda()
    invoke_capture(client, "arn:aws:lambda:us-east-1:1:function:capture:live")(tenant("acme"))
    (call,) = client.calls
    assert call["InvocationType"] == "RequestResponse"
    assert call["FunctionName"].endswith(":live")
    assert json.loads(call["Payload"]) == {"tenant": "acme"}


def test_a_failing_capture_never_fails_the_session(caplog) -> None:
    capture = invoke_capture(FakeLambda(error="Unhandled"), "capture")
    with pytest.raises(CaptureFailed):
        capture(tenant("acme"))
    before_plan(capture)(tenant("acme"))  # logged, not raised
    assert "capture before the session failed" in caplog.text
