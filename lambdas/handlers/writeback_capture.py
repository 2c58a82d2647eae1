"""Write-back capture: ZOHO changes into each tenant's write operations (lambdas/writeback).

Invoked two ways: by an EventBridge schedule (every write-back tenant), and synchronously by
the relay when a Web Connector session starts (``{"tenant": name}``: that tenant only, with a
small page budget, so the session's plan holds the latest changes). The relay itself holds no
ZOHO credential or token: it may only invoke this function.

Metrics every run, zeros included: ``WriteBackCaptured`` (operations added) and
``WriteBackCaptureFailures`` (tenants whose capture failed).

Environment: QBRELAY_TENANTS_TABLE, QBRELAY_STATE_TABLE, QBRELAY_SECRETS_PREFIX,
QBRELAY_MAPPINGS_TABLE, QBRELAY_WRITEBACK_TABLE, QBRELAY_RECORD_QUEUE_URL,
POWERTOOLS_METRICS_NAMESPACE (required).
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .runtime import importer, require_env, snapshot_hooks, start
from .zoho_jobs import JOB_ENV, ZohoJobPorts, zoho_job_ports

if TYPE_CHECKING:
    from ..writeback.capture import ZohoCapture

logger = Logger(service="qbxml-relay")
metrics = Metrics(service="qbxml-relay")

REQUIRED_ENV = (
    *JOB_ENV,
    "QBRELAY_MAPPINGS_TABLE",
    "QBRELAY_WRITEBACK_TABLE",
    "QBRELAY_RECORD_QUEUE_URL",
)
start(logger, REQUIRED_ENV)
# Pages per module when a session waits for the capture (the schedule reads the rest).
SESSION_PAGES = 2


@cache
def configuration() -> tuple[ZohoJobPorts, ZohoCapture, ZohoCapture]:
    """The ports and the captures (scheduled, before a session), built once per execution
    environment (imported here, at the first run, not at init)."""
    import boto3

    from ..store.dynamo import (
        DynamoMappingStore,
        DynamoQboConnectionStore,
        DynamoWriteBackStore,
        SqsRecordQueue,
    )
    from ..writeback.capture import ZohoCapture
    from ..writeback.runner import editions

    require_env(REQUIRED_ENV)
    ports = zoho_job_ports()
    parts = (
        DynamoWriteBackStore(ports.dynamodb, os.environ["QBRELAY_WRITEBACK_TABLE"]),
        DynamoMappingStore(ports.dynamodb, os.environ["QBRELAY_MAPPINGS_TABLE"]),
        SqsRecordQueue(boto3.client("sqs"), os.environ["QBRELAY_RECORD_QUEUE_URL"]),
        ports.clients,
        editions(DynamoQboConnectionStore(ports.dynamodb, os.environ["QBRELAY_STATE_TABLE"])),
        time.time,
    )
    return ports, ZohoCapture(*parts), ZohoCapture(*parts, max_pages=SESSION_PAGES)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Capture every write-back tenant's changes, or the one tenant the event names."""
    from ..writeback.runner import capture_tenants

    ports, scheduled, session = configuration()
    name = event.get("tenant") if isinstance(event, dict) else None
    if isinstance(name, str) and name:
        tenant = ports.tenants.get(name)
        run = capture_tenants([tenant] if tenant is not None else [], session)
    else:
        run = capture_tenants(ports.tenants.list(), scheduled)
    for tenant_name, report in run.reports.items():
        logger.info("captured write-back changes", extra={"tenant": tenant_name, **_json(report)})
    metrics.add_metric(name="WriteBackCaptured", unit=MetricUnit.Count, value=run.ops_added)
    metrics.add_metric(
        name="WriteBackCaptureFailures", unit=MetricUnit.Count, value=len(run.failed)
    )
    return {
        "tenants": {n: _json(r) for n, r in run.reports.items()},
        "failed": run.failed,
    }


def _json(report: Any) -> dict[str, Any]:
    return {
        "accounts_seen": report.accounts_seen,
        "deals_seen": report.deals_seen,
        "ops_added": report.ops_added,
        "ops_superseded": report.ops_superseded,
        "echoes_skipped": report.echoes_skipped,
        "invalid": report.invalid,
        "more": report.more,
    }


# SnapStart: the snapshot holds the capture's modules; every restore builds its own clients.
snapshot_hooks(
    prime=[importer("lambdas.writeback.capture", "lambdas.zoho.client")],
    forget=[configuration],
)
