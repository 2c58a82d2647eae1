"""The Ops function's handler (lambdas.handlers.ops_api) over moto: the same router and status
core the local server serves, wired from the function's environment (DynamoDB, SQS, Secrets
Manager), behind API Gateway proxy events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import ops_api
from lambdas.http import console_session as cs
from lambdas.ops.api_keys import create_key
from lambdas.store.dynamo import DynamoApiKeyStore, DynamoTenantStore
from lambdas.store.ports import Tenant
from tests.aws_tables import create_relay_tables
from tests.lambda_context import LambdaContext

PREFIX = "qbxml-relay/test/"


@pytest.fixture
def aws(monkeypatch) -> Iterator[dict[str, str]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        boto3.setup_default_session()
        ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
        env = dict(create_relay_tables(ddb))
        env["QBRELAY_RECORD_QUEUE_URL"] = sqs.create_queue(QueueName="records")["QueueUrl"]
        env["QBRELAY_DLQ_URL"] = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        env["QBRELAY_SECRETS_PREFIX"] = PREFIX
        boto3.client("secretsmanager").create_secret(
            Name=f"{PREFIX}{cs.SECRET_NAME}", SecretString=json.dumps({"key": "k" * 64})
        )
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        DynamoTenantStore(ddb, env["QBRELAY_TENANTS_TABLE"]).create(
            Tenant(name="shop", qbwc_user="shop-qbwc", password_hash="x")
        )
        ops_api.services.cache_clear()
        try:
            yield env
        finally:
            ops_api.services.cache_clear()
            boto3.setup_default_session()


def event(method: str, path: str, key: str | None = None, body: Any = None) -> dict[str, Any]:
    headers = {"Host": "abc.execute-api.us-east-1.amazonaws.com"}
    if key is not None:
        headers["X-API-Key"] = key
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "queryStringParameters": None,
        "requestContext": {
            "path": f"/prod{path}",
            "requestId": "r-1",
            "domainName": "abc.execute-api.us-east-1.amazonaws.com",
            "identity": {"sourceIp": "198.51.100.7"},
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def call(e: dict[str, Any]) -> dict[str, Any]:
    return ops_api.handler(e, LambdaContext())


def test_status_api_needs_a_key_and_answers_with_one(aws) -> None:
    key, _ = create_key(
        DynamoApiKeyStore(boto3.client("dynamodb"), aws["QBRELAY_TENANTS_TABLE"]), "t", time.time()
    )
    for wrong in (None, "qbr_0000000000000000_" + "x" * 43):
        refused = call(event("GET", "/api/v1/tenants", wrong))
        assert refused["statusCode"] == 401 and "shop" not in refused["body"]
    listed = call(event("GET", "/api/v1/tenants", key))
    assert listed["statusCode"] == 200
    assert [t["tenant"] for t in json.loads(listed["body"])["tenants"]] == ["shop"]
    paused = call(event("POST", "/api/v1/tenants/shop/pause", key, {"reason": "audit"}))
    assert paused["statusCode"] == 200
    assert (
        DynamoTenantStore(boto3.client("dynamodb"), aws["QBRELAY_TENANTS_TABLE"]).get("shop").paused
    )
    assert call(event("GET", "/api/v1/tenants/nobody", key))["statusCode"] == 404


def test_health_and_openapi_are_public_and_reveal_no_tenant(aws) -> None:
    health = call(event("GET", "/health/sync"))
    assert health["statusCode"] == 200 and "shop" not in health["body"]
    doc = json.loads(call(event("GET", "/openapi.json"))["body"])
    assert doc["openapi"].startswith("3.") and "/api/v1/tenants" in doc["paths"]


def test_console_form_posts_under_the_stage(aws) -> None:
    page = call(event("GET", "/console"))
    assert page["statusCode"] == 200
    assert 'action="/prod/console/login"' in page["body"]
    assert "default-src 'none'" in page["headers"]["Content-Security-Policy"]
