"""Lambda entry point fed by the QuickBooks Online change queue (SQS FIFO, realm = message
group): the changes webhooks announced, read by id and handed to the record queue.

Messages of a realm whose sync failed (throttled, unavailable, needing a reconnect) are
reported as batch item failures, so SQS delivers them again (and past the receive limit moves
them to the dead-letter queue; the catch-up brings their changes anyway). Environment: see
lambdas/handlers/qbo_aws.py.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from .cloudwatch_metrics import CloudWatchMetrics
from .qbo_aws import CACHED, runtime
from .runtime import importer, snapshot_hooks, start

if TYPE_CHECKING:
    from ..store.qbo_ports import ReceivedChange

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "qbxml-relay"
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "QbxmlRelay", service=SERVICE
)
REQUIRED_ENV = (
    "QBO_CLIENT_ID",
    "QBO_REDIRECT_URI",
    "QBRELAY_SECRETS_PREFIX",
    "QBRELAY_TENANTS_TABLE",
    "QBRELAY_STATE_TABLE",
    "QBRELAY_MAPPINGS_TABLE",
    "QBRELAY_RECORD_QUEUE_URL",
)
start(logger, REQUIRED_ENV)


def received(record: dict[str, Any]) -> ReceivedChange:
    """A change-queue message as the SQS event delivers it (the receipt is its message id)."""
    from ..store.qbo_ports import QueuedChange, ReceivedChange

    attrs = record.get("attributes") or {}
    realm = attrs.get("MessageGroupId") or (
        ((record.get("messageAttributes") or {}).get("realm") or {}).get("stringValue") or ""
    )
    return ReceivedChange(
        QueuedChange(realm, record["body"], attrs.get("MessageDeduplicationId", "")),
        receipt=record["messageId"],
        deliveries=int(attrs.get("ApproximateReceiveCount") or 1),
    )


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sync one batch; the messages not handled come back as batchItemFailures."""
    messages = [received(r) for r in event.get("Records") or []]
    report, done = runtime(CloudWatchMetrics(metrics)).handle(messages)
    handled = set(done)
    failures = [m.receipt for m in messages if m.receipt not in handled]
    logger.info(
        "QuickBooks Online changes synced",
        extra={"queued": report.queued, "failed_realms": sorted(report.failed_realms)},
    )
    return {"batchItemFailures": [{"itemIdentifier": r} for r in failures]}


# SnapStart: the snapshot holds the QBO runtime's modules; every restore builds its own ports.
snapshot_hooks(prime=[importer("lambdas.qbo.runtime", "lambdas.store.dynamo.qbo")], forget=CACHED)
