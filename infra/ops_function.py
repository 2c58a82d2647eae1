"""The ``Ops`` function: health details, the status API, /openapi.json and the console.

A function of its own (router ``function="ops"``), so the internet-facing relay keeps its small
policy. This one reads the status (tenants, sessions, sync state, mappings, runs, the ZOHO and
QuickBooks Online metadata in the state table, the secrets health_zoho checks) and writes what
the actions write: tenant pauses, watermark resets, audit summaries and the audit's token
cache, API keys' last use, parked messages moved from the dead-letter to the record queue.
The console's signing key is a secret the stack generates (``<prefix>console/session``).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from . import nag, tables
from .functions import Functions, FunctionSpec
from .qbo import STATE_KEYS as QBO_STATE_KEYS
from .queues import RecordQueues
from .secrets import SecretsAccess
from .tables import Tables

OPS_HANDLER = "lambdas.handlers.ops_api.handler"
# lambdas/http/console_session.py SECRET_NAME, under the environment's prefix.
CONSOLE_SECRET = "console/session"


def add_ops_function(
    scope: Construct,
    functions: Functions,
    t: Tables,
    queues: RecordQueues,
    secrets: SecretsAccess,
    *,
    memory_mb: int,
    audit_repair: bool,
    retain: bool,
) -> lambda_.Function:
    """The Ops function with exactly the grants its adapters call (see test_least_privilege)."""
    secret = secretsmanager.Secret(
        scope,
        "ConsoleSecret",
        secret_name=f"{secrets.prefix}{CONSOLE_SECRET}",
        description="Signs qbxml-relay console sessions and CSRF tokens",
        generate_secret_string=secretsmanager.SecretStringGenerator(
            secret_string_template="{}",
            generate_string_key="key",
            exclude_punctuation=True,
            password_length=64,
        ),
        removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
    )
    nag.acknowledge(
        secret,
        "SMG4",
        "The console's signing key: rotating it only signs every operator out, so it is "
        "replaced by hand (delete and redeploy) rather than on a schedule.",
    )
    ops = functions.add(
        FunctionSpec(
            name="Ops",
            handler=OPS_HANDLER,
            description="Operator routes: /health/*, /api/v1, /openapi.json, /console",
            memory_mb=memory_mb,
            # An audit reads every mapping and pages through ZOHO's COQL.
            timeout_seconds=29,
        )
    )
    # Tenants: get, list (Scan), update (pause/resume); API keys: get, touch (UpdateItem).
    tables.grant(ops, t.tenants, ["GetItem", "Scan", "UpdateItem"])
    # Sessions: lock_until (a resync is refused while a session runs); the console's Connect
    # button writes one-time QuickBooks Online connect links (OAuth state items only).
    tables.grant(ops, t.sessions, ["GetItem"])
    tables.grant(ops, t.sessions, ["PutItem"], leading_keys=QBO_STATE_KEYS)
    # State: sync state (get_all, reset), forwarder pauses and mapping overrides (get), the
    # ZOHO token cache (load; lease and save as updates), audit summaries (get, update), and
    # QuickBooks Online connections (list: Scan).
    tables.grant(ops, t.state, ["GetItem", "BatchGetItem", "UpdateItem", "Scan"])
    # Mappings: get; list by status, scan by tenant, find by ZOHO id (Query on the indexes).
    tables.grant(ops, t.mappings, ["GetItem"] + (["UpdateItem"] if audit_repair else []))
    for index in ("by_tenant", "by_status", "by_zoho"):
        tables.grant(ops, t.mappings, ["Query"], index=index)
    tables.grant(ops, t.runs, ["Query"])
    # Write-back: a tenant's operation counts, recent conflicts and operations (status).
    tables.grant_writeback_status(ops, t.writeback)
    # Re-drive: hold, release and remove dead letters; send them to the record queue.
    iam.Grant.add_to_principal(
        grantee=ops,
        actions=["sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:DeleteMessage"],
        resource_arns=[queues.dead_letters.queue_arn],
    )
    iam.Grant.add_to_principal(
        grantee=ops, actions=["sqs:SendMessage"], resource_arns=[queues.records.queue_arn]
    )
    # ZOHO credentials (health_zoho, audit) and the console key: read only.
    secrets.grant_read(ops)
    return ops
