"""The QuickBooks Online functions' adapters, built from their environment (one place for the
three handlers: qbo_api, qbo_sync, qbo_cdc).

Environment: QBO_CLIENT_ID, QBO_REDIRECT_URI, QBO_ENVIRONMENT, QBO_AUTH_BASE_URL and
QBO_API_BASE_URL (optional overrides); the client secret and the webhook verifier token come
from the ``qbo-app`` secret (``<QBRELAY_SECRETS_PREFIX>qbo-app``), never the environment.
Tables: QBRELAY_TENANTS_TABLE, QBRELAY_SESSIONS_TABLE (OAuth states, webhook event ids),
QBRELAY_STATE_TABLE (connections, realm limits, sync state), QBRELAY_MAPPINGS_TABLE,
QBRELAY_WRITEBACK_TABLE (write-back operations, optional);
QBRELAY_QBO_CHANGE_QUEUE_URL (the FIFO change queue), QBRELAY_RECORD_QUEUE_URL,
QBRELAY_PAYLOAD_BUCKET.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from ..metrics import Metrics
    from ..qbo.config import QboConfig
    from ..qbo.runtime import QboRuntime
    from ..store.dynamo import (
        DynamoQboConnectionStore,
        DynamoTenantStore,
        DynamoWriteBackStore,
        SecretsManagerSecretStore,
    )

# Each builder imports what it builds, at the first event that needs it: the QBO runtime (and
# through it requests and the canonical model) is not part of the functions' init.

CHANGE_QUEUE_ENV = "QBRELAY_QBO_CHANGE_QUEUE_URL"


@cache
def dynamodb():
    return boto3.client("dynamodb")


@cache
def secrets() -> SecretsManagerSecretStore:
    """The environment's secrets (tenants' QBO tokens, the qbo-app secret)."""
    from ..store.dynamo import SecretsManagerSecretStore

    return SecretsManagerSecretStore(
        boto3.client("secretsmanager"), os.environ["QBRELAY_SECRETS_PREFIX"]
    )


@cache
def config() -> QboConfig:
    """The Intuit app's settings (secrets from Secrets Manager only)."""
    from ..qbo.config import load_config

    return load_config(os.environ, secrets(), on_aws=True)


@cache
def connections() -> DynamoQboConnectionStore:
    from ..store.dynamo import DynamoQboConnectionStore

    return DynamoQboConnectionStore(dynamodb(), os.environ["QBRELAY_STATE_TABLE"])


@cache
def tenants() -> DynamoTenantStore:
    from ..store.dynamo import DynamoTenantStore

    return DynamoTenantStore(dynamodb(), os.environ["QBRELAY_TENANTS_TABLE"])


@cache
def writeback() -> DynamoWriteBackStore | None:
    """The write-back operations (QBRELAY_WRITEBACK_TABLE), if the stack has the table."""
    from ..store.dynamo import DynamoWriteBackStore

    table = os.environ.get("QBRELAY_WRITEBACK_TABLE")
    return DynamoWriteBackStore(dynamodb(), table) if table else None


def runtime(metrics: Metrics) -> QboRuntime:
    """A sync runtime over DynamoDB, SQS, S3 and Secrets Manager (one per invocation)."""
    from ..qbo.runtime import QboPorts, QboRuntime
    from ..store.dynamo import (
        DynamoMappingStore,
        DynamoRealmLimitStore,
        DynamoSyncStateStore,
        SqsRecordQueue,
    )
    from ..store.payloads import S3PayloadStore
    from .events import event_publisher

    ddb = dynamodb()
    state_table = os.environ["QBRELAY_STATE_TABLE"]
    bucket = os.environ.get("QBRELAY_PAYLOAD_BUCKET")
    return QboRuntime(
        QboPorts(
            config=config(),
            secrets=secrets(),
            connections=connections(),
            limits=DynamoRealmLimitStore(ddb, state_table),
            tenants=tenants(),
            mappings=DynamoMappingStore(ddb, os.environ["QBRELAY_MAPPINGS_TABLE"]),
            records=SqsRecordQueue(boto3.client("sqs"), os.environ["QBRELAY_RECORD_QUEUE_URL"]),
            state=DynamoSyncStateStore(ddb, state_table),
            payloads=S3PayloadStore(boto3.client("s3"), bucket) if bucket else None,
            events=event_publisher(metrics),
            metrics=metrics,
            writeback=writeback(),
        )
    )


# The builders a SnapStart restore must forget (clients, and the app secret read through them).
CACHED = (dynamodb, secrets, config, connections, tenants, writeback)
