"""Lambda entry point of the webhook deliverer: events from the bus, retries from SQS.

Two triggers, one core (``lambdas.webhooks.delivery.Deliverer``):

- the EventBridge rule on the environment's bus sends each relay event (``detail`` is the event
  document); every matching subscription gets a delivery and its first attempt now. A failure
  of the function itself (a store error) is retried by the rule's retry policy, then lands in
  the rule's dead-letter queue; deliveries already made are not repeated (their ids are
  stable and the log shows them attempted);
- the retry queue brings back a delivery whose attempt failed, after its backoff (a delayed
  message, at most 15 minutes); messages this function fails on are reported as batch item
  failures, and after the queue's maxReceiveCount they go to its dead-letter queue.

Deliveries go only to public https addresses (``PUBLIC_ONLY``): never to this VPC, the instance
metadata service or loopback. Environment: QBRELAY_WEBHOOKS_TABLE, QBRELAY_SECRETS_PREFIX,
QBRELAY_WEBHOOK_RETRY_QUEUE_URL, POWERTOOLS_METRICS_NAMESPACE (required).
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from .runtime import importer, require_env, snapshot_hooks, start

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

    from ..webhooks.delivery import Deliverer

logger = Logger(service="qbxml-relay")
metrics = Metrics(service="qbxml-relay")

REQUIRED_ENV = (
    "QBRELAY_WEBHOOKS_TABLE",
    "QBRELAY_SECRETS_PREFIX",
    "QBRELAY_WEBHOOK_RETRY_QUEUE_URL",
    "POWERTOOLS_METRICS_NAMESPACE",
)
start(logger, REQUIRED_ENV)


@cache
def processor() -> BatchProcessor:
    """The retry queue's batch processor (Powertools' batch utilities load at the first batch)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

    return BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def deliverer() -> Deliverer:
    """The deliverer over the Webhooks table, Secrets Manager and the retry queue (the core and
    its adapters are imported here, at the first event, not at init)."""
    from ..store.dynamo import SecretsManagerSecretStore
    from ..store.dynamo.webhook_retries import SqsRetryQueue
    from ..store.dynamo.webhooks import DynamoDeliveryLog, DynamoSubscriptionStore
    from ..webhooks.delivery import Deliverer
    from ..webhooks.http import PUBLIC_ONLY
    from .cloudwatch_metrics import CloudWatchMetrics

    require_env(REQUIRED_ENV)
    dynamodb = boto3.client("dynamodb")
    table = os.environ["QBRELAY_WEBHOOKS_TABLE"]
    retries = SqsRetryQueue(boto3.client("sqs"), os.environ["QBRELAY_WEBHOOK_RETRY_QUEUE_URL"])
    return Deliverer(
        DynamoSubscriptionStore(dynamodb, table),
        DynamoDeliveryLog(dynamodb, table),
        SecretsManagerSecretStore(
            boto3.client("secretsmanager"), os.environ["QBRELAY_SECRETS_PREFIX"]
        ),
        PUBLIC_ONLY,
        clock=time.time,
        schedule=retries.schedule,
        metrics=CloudWatchMetrics(metrics),
    )


def _retry(record: SQSRecord) -> None:
    from ..store.dynamo.webhook_retries import delivery_of

    core = deliverer()
    delivery_id = delivery_of(record.body)
    if delivery_id is None:
        logger.warning("dropped a retry message that names no delivery")
        return
    found = core.deliveries.get(delivery_id)
    if found is None:
        return  # expired from the log (TTL): nothing left to deliver
    done = core.attempt(found)
    logger.info(
        "webhook retry",
        extra={"delivery": done.id, "status": str(done.status), "attempts": done.attempts},
    )


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Deliver one bus event, or one batch of retries."""
    if "Records" in event:
        from aws_lambda_powertools.utilities.batch import process_partial_response

        return process_partial_response(
            event=event, record_handler=_retry, processor=processor(), context=context
        )
    from ..model.events import Event

    relay_event = Event.from_json(event.get("detail") or {})
    done = deliverer().deliver([relay_event])
    logger.info(
        "webhook deliveries",
        extra={"event": relay_event.id, "type": relay_event.type, "deliveries": len(done)},
    )
    return {"event": relay_event.id, "deliveries": {d.id: str(d.status) for d in done}}


# SnapStart: the snapshot holds the deliverer's modules; every restore builds its own clients.
snapshot_hooks(
    prime=[importer("aws_lambda_powertools.utilities.batch", "lambdas.webhooks.delivery")],
    forget=[deliverer],
)
