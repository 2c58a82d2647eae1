"""Lambda entry point behind API Gateway for the QuickBooks Online routes (lambdas/http/
qbo_routes.py): ``/qbo/connect``, ``/qbo/callback``, ``/qbo/disconnect`` on the ``qbo-oauth``
function, ``/qbo/webhooks`` on ``qbo-webhook``; both run this handler, each with the grants of
its own routes. Environment: see lambdas/handlers/qbo_aws.py (plus QBRELAY_SESSIONS_TABLE).
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics

from ..http.apigw import to_event_reply, to_request
from ..http.routes import app_router
from ..http.services import Services
from .cloudwatch_metrics import CloudWatchMetrics
from .qbo_aws import CACHED, CHANGE_QUEUE_ENV, config, connections, dynamodb, secrets, tenants
from .runtime import importer, snapshot_hooks, start

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "qbxml-relay"
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "QbxmlRelay", service=SERVICE
)
start(logger, ("QBO_CLIENT_ID", "QBO_REDIRECT_URI", "QBRELAY_SECRETS_PREFIX"))


def services() -> Services:
    """The QBO routes' ports, each built on first use by the route that needs it (the adapters
    and the Intuit client are imported here, at the first request, not at init)."""
    from ..qbo.auth_client import IntuitAuthClient
    from ..store.dynamo import (
        DynamoApiKeyStore,
        DynamoOAuthStateStore,
        DynamoSeenEvents,
        SqsChangeQueue,
    )

    sessions = lambda: os.environ["QBRELAY_SESSIONS_TABLE"]  # noqa: E731
    return Services(
        qbo_config=config,
        qbo_states=lambda: DynamoOAuthStateStore(dynamodb(), sessions()),
        qbo_connections=connections,
        qbo_auth=lambda: IntuitAuthClient(config()),
        qbo_seen=lambda: DynamoSeenEvents(dynamodb(), sessions()),
        qbo_changes=lambda: SqsChangeQueue(boto3.client("sqs"), os.environ[CHANGE_QUEUE_ENV]),
        secrets=secrets,
        tenants=tenants,
        api_keys=lambda: DynamoApiKeyStore(dynamodb(), os.environ["QBRELAY_TENANTS_TABLE"]),
        metrics=lambda: CloudWatchMetrics(metrics),
    )


@metrics.log_metrics
@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway request through the product's router."""
    return to_event_reply(app_router().dispatch(to_request(event), services()))


# SnapStart: the snapshot holds the router and the OAuth code; every restore builds its ports.
snapshot_hooks(prime=[app_router, importer("lambdas.qbo.auth_client")], forget=CACHED)
