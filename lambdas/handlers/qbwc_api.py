"""Lambda entry point behind API Gateway (REST, v1 payload): the same SOAP core as the local server.

Routes: /qbwc (POST SOAP, GET ?wsdl), /health, GET /support and /support/{file_id} (the .qwc
files' AppSupport pages; these read QBRELAY_TENANTS_TABLE and QBRELAY_STATE_TABLE).

Environment: QBRELAY_TENANTS_TABLE, QBRELAY_SESSIONS_TABLE, QBRELAY_RECORD_QUEUE_URL (required);
QBRELAY_PUBLIC_URL (optional: the WSDL's service address, otherwise the URL the request came in
on, stage or custom-domain base path included); QBRELAY_MAX_BODY_BYTES (optional);
QBRELAY_PAYLOAD_BUCKET (the claim-check bucket for records too large for one queue message);
QBRELAY_EVENT_BUS (session.completed events).
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from ..qbwc.relay import QbwcRelay
from ..qbwc.soap_service import DEFAULT_MAX_BODY, SoapEndpoint, SoapReply
from ..qbwc.support_page import is_support_path, support_reply
from ..store.dynamo import (
    DynamoLoginThrottle,
    DynamoMappingStore,
    DynamoRunHistory,
    DynamoSessionStore,
    DynamoSyncStateStore,
    DynamoTenantStore,
    SqsRecordQueue,
)
from ..store.payloads import S3PayloadStore
from ..sync.engine import SyncEngine
from .cloudwatch_metrics import CloudWatchMetrics
from .events import event_publisher
from .runtime import ConfigurationError, require_env, start

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "qbxml-relay"
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "QbxmlRelay", service=SERVICE
)

REQUIRED_ENV = (
    "QBRELAY_TENANTS_TABLE",
    "QBRELAY_SESSIONS_TABLE",
    "QBRELAY_STATE_TABLE",
    "QBRELAY_MAPPINGS_TABLE",
    "QBRELAY_RUNS_TABLE",
    "QBRELAY_RECORD_QUEUE_URL",
)
start(logger, REQUIRED_ENV)


@cache
def endpoint() -> SoapEndpoint:
    """The SOAP endpoint over DynamoDB and SQS, built once per execution environment."""
    require_env(REQUIRED_ENV)
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    counts = CloudWatchMetrics(metrics)
    bucket = os.environ.get("QBRELAY_PAYLOAD_BUCKET")
    engine = SyncEngine(
        DynamoSyncStateStore(dynamodb, os.environ["QBRELAY_STATE_TABLE"]),
        DynamoMappingStore(dynamodb, os.environ["QBRELAY_MAPPINGS_TABLE"]),
        SqsRecordQueue(sqs, os.environ["QBRELAY_RECORD_QUEUE_URL"]),
        metrics=counts,
        payloads=S3PayloadStore(boto3.client("s3"), bucket) if bucket else None,
    )
    sessions_table = os.environ["QBRELAY_SESSIONS_TABLE"]
    relay = QbwcRelay(
        DynamoTenantStore(dynamodb, os.environ["QBRELAY_TENANTS_TABLE"]),
        DynamoSessionStore(dynamodb, sessions_table),
        engine,
        DynamoRunHistory(dynamodb, os.environ["QBRELAY_RUNS_TABLE"]),
        metrics=counts,
        # Failed-login counters live beside the sessions, so every instance sees the same.
        throttle=DynamoLoginThrottle(dynamodb, sessions_table),
        events=event_publisher(counts),
    )
    limit = int(os.environ.get("QBRELAY_MAX_BODY_BYTES") or DEFAULT_MAX_BODY)
    return SoapEndpoint(relay, max_body_bytes=limit, metrics=counts)


@cache
def tenant_store() -> DynamoTenantStore:
    """The tenants table alone, for the support pages."""
    table = os.environ.get("QBRELAY_TENANTS_TABLE")
    if not table:
        raise ConfigurationError("missing environment variables: QBRELAY_TENANTS_TABLE")
    return DynamoTenantStore(boto3.client("dynamodb"), table)


@cache
def sync_state_store() -> DynamoSyncStateStore | None:
    """The sync-state table, for the support pages' "not available" entities (if configured)."""
    table = os.environ.get("QBRELAY_STATE_TABLE")
    return DynamoSyncStateStore(boto3.client("dynamodb"), table) if table else None


def public_url(event: dict[str, Any]) -> str:
    """Where the Web Connector reaches this API: configured, or as the request arrived."""
    configured = os.environ.get("QBRELAY_PUBLIC_URL")
    if configured:
        return configured
    ctx = event.get("requestContext") or {}
    host = ctx.get("domainName") or (event.get("headers") or {}).get("Host", "localhost")
    # requestContext.path includes the stage (execute-api host) or the base path (custom domain).
    path = ctx.get("path") or event.get("path") or "/qbwc"
    return f"https://{host}{path}"


def _response(status: int, content_type: str, body: bytes) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type},
        "body": body.decode("utf-8"),
        "isBase64Encoded": False,
    }


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(raw)
    return raw.encode("utf-8")


def source_ip(event: dict[str, Any]) -> str | None:
    """The caller's address as API Gateway saw it (requestContext.identity.sourceIp).

    Not X-Forwarded-For: API Gateway appends to what the client sent, so its first entries are
    the client's to choose.
    """
    identity = (event.get("requestContext") or {}).get("identity") or {}
    value = identity.get("sourceIp")
    return value if isinstance(value, str) and value else None


def _reply(reply: SoapReply) -> dict[str, Any]:
    return _response(reply.status, reply.content_type, reply.body)


def _support(method: str, path: str) -> dict[str, Any]:
    if method not in ("GET", "HEAD"):
        return _response(405, "text/plain; charset=utf-8", b"Use GET.\n")
    page = support_reply(path, tenant_store(), sync_state_store())
    reply = _response(page.status, page.content_type, page.body)
    reply["headers"].update(page.headers)
    return reply


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Route /qbwc (POST SOAP, GET ?wsdl), /health and /support[/{file_id}]."""
    method = event.get("httpMethod", "GET")
    resource = event.get("resource") or event.get("path") or ""
    if resource.rstrip("/").endswith("/health"):
        return _response(200, "application/json", json.dumps({"status": "ok"}).encode())
    path = event.get("path") or resource
    if is_support_path(path):
        return _support(method, path)
    soap = endpoint()
    if method == "GET":
        query = {k.lower() for k in (event.get("queryStringParameters") or {})}
        if "wsdl" in query:
            return _response(200, "text/xml; charset=utf-8", soap.wsdl(public_url(event)))
        return _response(200, "text/plain; charset=utf-8", b"GET ?wsdl for the WSDL.\n")
    try:
        body = _body(event)
    except ValueError:
        return _reply(soap.refuse("The request body is not valid base64."))
    return _reply(soap.handle(body, source_ip(event)))
