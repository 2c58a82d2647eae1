"""Lambda entry point of the operator routes behind API Gateway: /health/{zoho,qbo,sync},
/api/v1/..., /openapi.json and /console (the routes whose ``function`` is "ops" in
lambdas/http/routes.py). A function of its own, so the internet-facing relay keeps its small
policy; this one reads status and does what the actions write.

Environment: QBRELAY_TENANTS_TABLE, QBRELAY_SESSIONS_TABLE, QBRELAY_STATE_TABLE,
QBRELAY_MAPPINGS_TABLE, QBRELAY_RUNS_TABLE, QBRELAY_RECORD_QUEUE_URL, QBRELAY_DLQ_URL,
QBRELAY_SECRETS_PREFIX (required); QBRELAY_EVENT_BUS (an audit's drift.found);
QBRELAY_WRITEBACK_TABLE (write-back status, optional).
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger

from ..http.apigw import to_event_reply, to_request
from ..http.routes import app_router
from ..http.services import Services
from .runtime import importer, require_env, snapshot_hooks, start

if TYPE_CHECKING:
    from ..ops.tenant_purge import TenantData
    from ..store.dynamo import DynamoWriteBackStore, SecretsManagerSecretStore

# The adapters and the cores behind them are imported by the builders below, when a route first
# needs the port, not at init (see the cold-start rows of ``make bench``).

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or "qbxml-relay")
REQUIRED_ENV = (
    "QBRELAY_TENANTS_TABLE",
    "QBRELAY_SESSIONS_TABLE",
    "QBRELAY_STATE_TABLE",
    "QBRELAY_MAPPINGS_TABLE",
    "QBRELAY_RUNS_TABLE",
    "QBRELAY_RECORD_QUEUE_URL",
    "QBRELAY_DLQ_URL",
    "QBRELAY_SECRETS_PREFIX",
)
start(logger, REQUIRED_ENV)


def _secrets() -> SecretsManagerSecretStore:
    from ..store.dynamo import SecretsManagerSecretStore

    return SecretsManagerSecretStore(
        boto3.client("secretsmanager"), os.environ["QBRELAY_SECRETS_PREFIX"]
    )


def _tenant_data() -> TenantData:
    from ..ops.tenant_purge import TenantData
    from ..store.dynamo import (
        DynamoAuditResults,
        DynamoForwarderState,
        DynamoMappingStore,
        DynamoRunHistory,
        DynamoSessionStore,
        DynamoSyncStateStore,
        DynamoTenantStore,
        DynamoTokenCache,
    )

    ddb, env = boto3.client("dynamodb"), os.environ
    state = env["QBRELAY_STATE_TABLE"]
    return TenantData(
        tenants=DynamoTenantStore(ddb, env["QBRELAY_TENANTS_TABLE"]),
        sessions=DynamoSessionStore(ddb, env["QBRELAY_SESSIONS_TABLE"]),
        state=DynamoSyncStateStore(ddb, state),
        mappings=DynamoMappingStore(ddb, env["QBRELAY_MAPPINGS_TABLE"]),
        runs=DynamoRunHistory(ddb, env["QBRELAY_RUNS_TABLE"]),
        forwarder=DynamoForwarderState(ddb, state),
        tokens=DynamoTokenCache(ddb, state),
        secrets=_secrets,
        audits=DynamoAuditResults(ddb, state),
        writeback=_writeback(),
    )


@cache
def _writeback() -> DynamoWriteBackStore | None:
    from ..store.dynamo import DynamoWriteBackStore

    table = os.environ.get("QBRELAY_WRITEBACK_TABLE")
    return DynamoWriteBackStore(boto3.client("dynamodb"), table) if table else None


@cache
def _states() -> Any:
    from ..store.dynamo import DynamoOAuthStateStore

    return DynamoOAuthStateStore(boto3.client("dynamodb"), os.environ["QBRELAY_SESSIONS_TABLE"])


@cache
def services() -> Services:
    """This function's ports (lambdas/http/ops_common.py names them), each built on first use
    and kept for the execution environment's life."""
    from ..http.console_session import signing_key
    from ..store.dynamo import (
        DynamoApiKeyStore,
        DynamoQboConnectionStore,
        SqsDeadLetterQueue,
        SqsRecordQueue,
    )
    from .events import event_publisher

    require_env(REQUIRED_ENV)
    env = os.environ
    return Services(
        api_keys=lambda: DynamoApiKeyStore(boto3.client("dynamodb"), env["QBRELAY_TENANTS_TABLE"]),
        tenant_data=_tenant_data,
        qbo_connections=lambda: DynamoQboConnectionStore(
            boto3.client("dynamodb"), env["QBRELAY_STATE_TABLE"]
        ),
        dead_letters=lambda: SqsDeadLetterQueue(boto3.client("sqs"), env["QBRELAY_DLQ_URL"]),
        record_queue=lambda: SqsRecordQueue(boto3.client("sqs"), env["QBRELAY_RECORD_QUEUE_URL"]),
        events=event_publisher,
        writeback=_writeback,
        # The console's Connect button makes one-time QuickBooks Online connect links.
        qbo_states=lambda: _states(),
        # The stack creates the secret; this function only reads it.
        console_key=lambda: signing_key(_secrets(), create=False),
    )


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway request through the product's router."""
    return to_event_reply(app_router().dispatch(to_request(event), services()))


# SnapStart: the snapshot holds the router and its cores; every restore builds its own ports.
snapshot_hooks(
    prime=[app_router, importer("lambdas.ops.tenant_purge")], forget=[services, _writeback]
)
