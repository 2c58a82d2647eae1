"""The QuickBooks Online Lambda handlers' world under moto: tables, the FIFO change queue, the
record queue, the event bus, the ``qbo-app`` secret, and a fake Intuit on 127.0.0.1 that the
functions reach through ``QBO_AUTH_BASE_URL`` / ``QBO_API_BASE_URL``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from lambdas.handlers import qbo_api, qbo_aws
from lambdas.ops.api_keys import HEADER
from sim.fake_qbo import FakeQbo
from sim.fake_qbo_webhooks import sign
from tests.lambda_context import LambdaContext

HOST = "abc123.execute-api.us-east-1.amazonaws.com"
REDIRECT_URI = f"https://{HOST}/prod/qbo/callback"
CLIENT_ID = "ABlambdaclient0123456789"
CLIENT_SECRET = "lambda-client-secret-not-real"
VERIFIER = "lambda-verifier-token-not-real"
PREFIX = "qbxml-relay/test/"
BUS = "qbxml-relay-test"


def clear_caches() -> None:
    """Forget the adapters the handlers' module caches hold (each test has its own moto)."""
    for built in (qbo_aws.dynamodb, qbo_aws.secrets, qbo_aws.config, qbo_aws.connections):
        built.cache_clear()
    qbo_aws.tenants.cache_clear()


def rest_event(
    method: str,
    path: str,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> dict[str, Any]:
    """An API Gateway REST (v1) proxy event of the ``prod`` stage."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Host": HOST, **(headers or {})},
        "queryStringParameters": query,
        "requestContext": {
            "stage": "prod",
            "path": "/prod" + path,
            "requestId": "r-1",
            "domainName": HOST,
            "identity": {"sourceIp": "203.0.113.9"},
        },
        "body": body.decode(),
        "isBase64Encoded": False,
    }


def query_of(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


@dataclass
class QboAws:
    """Handles on the moto resources and the fake, and the steps tests repeat."""

    fake: FakeQbo
    sqs: Any
    ddb: Any
    secretsmanager: Any
    changes_url: str
    records_url: str
    seen_url: str
    api_key: str

    def api(self, event: dict[str, Any]) -> dict[str, Any]:
        return qbo_api.handler(event, LambdaContext("qbo-oauth", 256))

    def connect(self, tenant: str, realm: str) -> dict[str, Any]:
        """Connect ``tenant`` to ``realm`` through the functions and the fake's consent step;
        the callback's reply."""
        start = self.api(
            rest_event("GET", "/qbo/connect", {"tenant": tenant}, {HEADER: self.api_key})
        )
        assert start["statusCode"] == 302, start["body"]
        back = self.fake.approve(start["headers"]["Location"], realm)
        assert back.startswith(REDIRECT_URI), back
        return self.api(rest_event("GET", "/qbo/callback", query_of(back)))

    def webhook(self, body: bytes, signature: str | None) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["intuit-signature"] = signature
        event = rest_event("POST", "/qbo/webhooks", headers=headers, body=body)
        return qbo_api.handler(event, LambdaContext("qbo-webhook", 256))

    def signed_webhook(self, body: bytes) -> dict[str, Any]:
        return self.webhook(body, sign(body, VERIFIER))

    def change_messages(self) -> list[dict[str, Any]]:
        """Every message on the FIFO change queue, as the sync function's event records them
        (received and left in flight, as Lambda's poller does)."""
        out: list[dict[str, Any]] = []
        for _ in range(20):
            got = self.sqs.receive_message(
                QueueUrl=self.changes_url,
                MaxNumberOfMessages=10,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                VisibilityTimeout=30,
            ).get("Messages", [])
            if not got:
                return out
            out.extend(sqs_record(m) for m in got)
        return out

    def records(self) -> list[dict[str, Any]]:
        """Bodies of the record queue's messages (received and deleted)."""
        return [json.loads(b) for b in drain(self.sqs, self.records_url)]

    def published(self) -> list[dict[str, Any]]:
        """The relay events that reached the bus (received and deleted)."""
        return [json.loads(b) for b in drain(self.sqs, self.seen_url)]


def sqs_record(message: dict[str, Any]) -> dict[str, Any]:
    """A received SQS message in the shape Lambda's SQS event gives it."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": {
            name: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
            for name, v in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:qbo-changes.fifo",
        "awsRegion": "us-east-1",
    }


def drain(sqs: Any, url: str) -> list[str]:
    bodies: list[str] = []
    for _ in range(100):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        for m in got:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def emitted(output: str) -> dict[str, float]:
    """Each metric's total over the embedded-metric-format lines a handler printed."""
    totals: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = doc[metric["Name"]]
                value = sum(value) if isinstance(value, list) else value
                totals[metric["Name"]] = totals.get(metric["Name"], 0) + value
    return totals
