"""Lambda entry point behind API Gateway (REST, v1 payload): the router the local server serves.

Routes: lambdas/http/routes.py (the Web Connector's /qbwc, /health, /support pages and the rest);
each builds only the ports it uses (the support pages read QBRELAY_TENANTS_TABLE and
QBRELAY_STATE_TABLE).

Environment: QBRELAY_TENANTS_TABLE, QBRELAY_SESSIONS_TABLE, QBRELAY_RECORD_QUEUE_URL (required);
QBRELAY_PUBLIC_URL (optional: the WSDL's service address, otherwise the URL the request came in
on, stage or custom-domain base path included); QBRELAY_MAX_BODY_BYTES (optional);
QBRELAY_PAYLOAD_BUCKET (the claim-check bucket for records too large for one queue message);
QBRELAY_MAX_SESSION_RECORDS, QBRELAY_MAX_DAILY_RECORDS, QBRELAY_MASS_DELETION_MIN,
QBRELAY_MASS_DELETION_SHARE (optional: the containment limits of lambdas/sync/vetting.py);
QBRELAY_EVENT_BUS (session.completed events); QBRELAY_WRITEBACK_TABLE (write-back operations;
without it the function has no write-back).
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from ..http.apigw import to_event_reply, to_request
from ..http.routes import app_router
from ..http.services import Services
from .runtime import ConfigurationError, importer, require_env, snapshot_hooks, start

if TYPE_CHECKING:
    from ..qbwc.soap_service import SoapEndpoint
    from ..store.dynamo import DynamoSyncStateStore, DynamoTenantStore, DynamoWriteBackStore

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
    # Imported here, not at module import: spyne, the relay and the sync engine are most of the
    # function's import time, and the support pages and /health never need them.
    from ..qbwc.relay import QbwcRelay
    from ..qbwc.soap_service import DEFAULT_MAX_BODY, SoapEndpoint
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
    from ..sync.engine import SyncEngine, SyncSettings
    from ..sync.write_handoff import WriteHandOff
    from ..writeback.desktop import DesktopWriteBack
    from ..writeback.runner import before_plan
    from .capture_client import invoke_capture, lambda_client
    from .cloudwatch_metrics import CloudWatchMetrics
    from .events import event_publisher

    require_env(REQUIRED_ENV)
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    counts = CloudWatchMetrics(metrics)
    bucket = os.environ.get("QBRELAY_PAYLOAD_BUCKET")
    mappings = DynamoMappingStore(dynamodb, os.environ["QBRELAY_MAPPINGS_TABLE"])
    queue = SqsRecordQueue(sqs, os.environ["QBRELAY_RECORD_QUEUE_URL"])
    engine = SyncEngine(
        DynamoSyncStateStore(dynamodb, os.environ["QBRELAY_STATE_TABLE"]),
        mappings,
        queue,
        SyncSettings.from_env(os.environ),
        metrics=counts,
        payloads=S3PayloadStore(boto3.client("s3"), bucket) if bucket else None,
    )
    operations = writeback_store()
    capture_function = os.environ.get("QBRELAY_CAPTURE_FUNCTION")
    writer = (
        DesktopWriteBack(
            operations,
            mappings,
            WriteHandOff(engine.hand_off, queue),
            time.time,
            # ZOHO's latest changes first, through the capture function (see capture_client).
            capture=before_plan(invoke_capture(lambda_client(), capture_function))
            if capture_function
            else None,
        )
        if operations is not None
        else None
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
        writeback=writer,
    )
    limit = int(os.environ.get("QBRELAY_MAX_BODY_BYTES") or DEFAULT_MAX_BODY)
    return SoapEndpoint(relay, max_body_bytes=limit, metrics=counts)


@cache
def tenant_store() -> DynamoTenantStore:
    """The tenants table alone, for the support pages."""
    from ..store.dynamo import DynamoTenantStore

    table = os.environ.get("QBRELAY_TENANTS_TABLE")
    if not table:
        raise ConfigurationError("missing environment variables: QBRELAY_TENANTS_TABLE")
    return DynamoTenantStore(boto3.client("dynamodb"), table)


@cache
def sync_state_store() -> DynamoSyncStateStore | None:
    """The sync-state table, for the support pages' "not available" entities (if configured)."""
    from ..store.dynamo import DynamoSyncStateStore

    table = os.environ.get("QBRELAY_STATE_TABLE")
    return DynamoSyncStateStore(boto3.client("dynamodb"), table) if table else None


@cache
def writeback_store() -> DynamoWriteBackStore | None:
    """The write-back operations (QBRELAY_WRITEBACK_TABLE), if the stack has the table."""
    from ..store.dynamo import DynamoWriteBackStore

    table = os.environ.get("QBRELAY_WRITEBACK_TABLE")
    return DynamoWriteBackStore(boto3.client("dynamodb"), table) if table else None


def services() -> Services:
    """This function's ports, each built on first use by the route that needs it."""
    return Services(
        soap=endpoint,
        tenants=tenant_store,
        sync_state=sync_state_store,
        writeback=writeback_store,
        soap_url=lambda: os.environ.get("QBRELAY_PUBLIC_URL") or None,
    )


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway request through the product's router (lambdas/http/routes.py)."""
    return to_event_reply(app_router().dispatch(to_request(event), services()))


# SnapStart: the snapshot holds the router and the SOAP stack (spyne, the relay, the engine);
# every restore builds its own clients.
snapshot_hooks(
    prime=[
        app_router,
        importer("lambdas.qbwc.relay", "lambdas.qbwc.soap_service", "lambdas.sync.engine"),
    ],
    forget=[endpoint, tenant_store, sync_state_store, writeback_store],
)
