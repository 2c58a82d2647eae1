"""Lambda entry point of the ZOHO forwarder: SQS record-queue batches, partial batch failures.

Environment: QBRELAY_STATE_TABLE, QBRELAY_MAPPINGS_TABLE, QBRELAY_DLQ_URL,
QBRELAY_SECRETS_PREFIX (required); QBRELAY_TENANTS_TABLE (tenants' time zones),
QBRELAY_PAYLOAD_BUCKET (claim-checked records), QBRELAY_MAX_RECEIVE_COUNT (the record queue's
maxReceiveCount, default 8: a message is parked one delivery before SQS would dead-letter it),
QBRELAY_EVENT_BUS (failure.parked events);
POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE.
Messages the core leaves for later (``retry``) are reported as batch item failures, so SQS
delivers them again; all others are deleted.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .runtime import importer, require_env, snapshot_hooks, start

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from ..zoho.forwarder import ForwardReport, ZohoForwarder

logger = Logger(service="qbxml-relay")
metrics = Metrics(service="qbxml-relay")

REQUIRED_ENV = (
    "QBRELAY_STATE_TABLE",
    "QBRELAY_MAPPINGS_TABLE",
    "QBRELAY_DLQ_URL",
    "QBRELAY_SECRETS_PREFIX",
)
start(logger, REQUIRED_ENV)


class RetryLater(Exception):
    """Marks a record the forwarder left for a later delivery."""


@cache
def processor() -> BatchProcessor:
    """The SQS batch processor, built on the first batch (Powertools' batch utilities import
    asyncio and the event data classes)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    # A batch whose every record waits is an answer too, not a function error.
    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def forwarder() -> ZohoForwarder:
    """The forwarder over DynamoDB, SQS and Secrets Manager, built once per environment (the
    adapters, the ZOHO client and the core are imported here, on the first batch, not at
    init: see the cold-start rows of ``make bench``)."""
    from ..model.tenant import tenant_time_zones
    from ..store.dynamo import (
        DynamoForwarderState,
        DynamoMappingStore,
        DynamoSyncStateStore,
        DynamoTenantStore,
        DynamoTokenCache,
        SecretsManagerSecretStore,
        SqsDeadLetterQueue,
    )
    from ..store.payloads import S3PayloadStore
    from ..zoho.client import client_factory
    from ..zoho.forwarder import ZohoForwarder
    from .cloudwatch_metrics import CloudWatchMetrics
    from .events import event_publisher

    require_env(REQUIRED_ENV)
    dynamodb = boto3.client("dynamodb")
    state_table = os.environ["QBRELAY_STATE_TABLE"]
    bucket = os.environ.get("QBRELAY_PAYLOAD_BUCKET")
    tenants = os.environ.get("QBRELAY_TENANTS_TABLE")
    return ZohoForwarder(
        mappings=DynamoMappingStore(dynamodb, os.environ["QBRELAY_MAPPINGS_TABLE"]),
        state=DynamoForwarderState(dynamodb, state_table),
        dead_letters=SqsDeadLetterQueue(boto3.client("sqs"), os.environ["QBRELAY_DLQ_URL"]),
        clients=client_factory(
            SecretsManagerSecretStore(
                boto3.client("secretsmanager"), os.environ["QBRELAY_SECRETS_PREFIX"]
            ),
            DynamoTokenCache(dynamodb, state_table),
        ),
        max_deliveries=int(os.environ.get("QBRELAY_MAX_RECEIVE_COUNT") or 8) - 1,
        payloads=S3PayloadStore(boto3.client("s3"), bucket) if bucket else None,
        refetch=DynamoSyncStateStore(dynamodb, state_table),
        time_zones=tenant_time_zones(DynamoTenantStore(dynamodb, tenants)) if tenants else None,
        events=event_publisher(CloudWatchMetrics(metrics)),
    )


def _emit(report: ForwardReport) -> None:
    metrics.add_metric("ZohoUpsertsSucceeded", MetricUnit.Count, report.succeeded)
    metrics.add_metric("ZohoUpsertsFailed", MetricUnit.Count, report.failed)
    metrics.add_metric("ZohoCalls", MetricUnit.Count, report.calls + report.token_calls)


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Forward one SQS batch; answer which records SQS should deliver again."""
    from aws_lambda_powertools.utilities.batch import process_partial_response

    from ..zoho.forwarder import Status

    records = event.get("Records") or []
    deliveries = {
        r["messageId"]: int((r.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
        for r in records
    }
    report = forwarder().forward([(r["messageId"], r["body"]) for r in records], deliveries)
    _emit(report)
    logger.info(
        "forwarded batch",
        extra={
            "messages": len(records),
            **{s.value: report.count(s) for s in Status},
        },
    )

    def record_handler(record: SQSRecord) -> None:
        outcome = report.outcomes.get(record.message_id)
        if outcome is None or outcome.status == Status.RETRY:
            raise RetryLater(outcome.reason if outcome else "not handled")

    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor(), context=context
    )


# SnapStart: the snapshot holds the forwarder's modules; every restore builds its own clients.
snapshot_hooks(
    prime=[
        importer(
            "aws_lambda_powertools.utilities.batch",
            "lambdas.store.dynamo.mappings",
            "lambdas.zoho.client",
            "lambdas.zoho.forwarder",
        )
    ],
    forget=[forwarder],
)
