"""QuickBooks Online in the stack: the change queue, four functions, their grants and schedule.

- ``QboOAuth`` serves /qbo/connect, /qbo/callback and /qbo/disconnect; ``QboWebhook`` serves
  /qbo/webhooks (verify, de-duplicate, queue: no QuickBooks or ZOHO call, so it needs neither
  tokens nor the record queue); both run lambdas/handlers/qbo_api.py.
- ``QboSync`` consumes the FIFO change queue (realm = message group: one realm at a time, in
  order, other realms in parallel), with partial batch failures; ``QboCdc`` runs the catch-up
  and the reconnect check on a schedule.
- Secrets: the app's ``<prefix>qbo-app`` (read) and the tenants' ``<prefix>qbo/<tenant>``
  tokens (read and write: the callback stores them, refreshes rotate them, disconnect deletes).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import nag, tables
from .functions import Functions, FunctionSpec
from .settings import Settings

API_HANDLER = "lambdas.handlers.qbo_api.handler"
SYNC_HANDLER = "lambdas.handlers.qbo_sync.handler"
CDC_HANDLER = "lambdas.handlers.qbo_cdc.handler"
SYNC_TIMEOUT_SECONDS = 300  # a 429 pauses a realm 60 s; a batch may meet two
CDC_TIMEOUT_SECONDS = 900
# The QBO items of the state table (lambdas/store/dynamo/qbo.py) and the sync's own.
CONNECTION_KEYS = ("@qbo-conn#*", "@qbo-realm#*")
LIMIT_KEYS = ("@qbo-limit#*",)
SYNC_KEYS = ("@sync#*", "@refetch#*")
STATE_KEYS = ("@qbo-state#*",)


class QboIntegration(Construct):
    """The QuickBooks Online functions of one environment (see the module docstring)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        functions: Functions,
        t: tables.Tables,
        records: sqs.IQueue,
        payloads,
        event_grant,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        self.dead_letters = sqs.Queue(
            self,
            "ChangeDeadLetters",
            fifo=True,
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=removal,
        )
        self.changes = sqs.Queue(
            self,
            "Changes",
            fifo=True,
            # Deduplication ids are the webhook's event-id digests (lambdas/qbo/notices.py).
            content_based_deduplication=False,
            retention_period=Duration.days(4),
            visibility_timeout=Duration.seconds(6 * SYNC_TIMEOUT_SECONDS),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=8),
            removal_policy=removal,
        )
        prefix = settings.secrets_prefix
        env = {
            "QBO_ENVIRONMENT": settings.qbo_environment,
            "QBRELAY_QBO_CHANGE_QUEUE_URL": self.changes.queue_url,
        }
        if settings.qbo_client_id:
            env["QBO_CLIENT_ID"] = settings.qbo_client_id
        redirect = settings.qbo_redirect_uri or (
            f"https://{settings.domain_name}/qbo/callback" if settings.domain_name else ""
        )
        if redirect:
            env["QBO_REDIRECT_URI"] = redirect

        def add(name: str, handler: str, description: str, timeout: int) -> lambda_.Function:
            return functions.add(
                FunctionSpec(
                    name=name,
                    handler=handler,
                    description=description,
                    memory_mb=settings.check_memory_mb,
                    timeout_seconds=timeout,
                    environment={**env, "QBRELAY_PAYLOAD_BUCKET": payloads.bucket_name},
                )
            )

        self.oauth = add("QboOAuth", API_HANDLER, "QBO connect, callback, disconnect", 28)
        self.webhook = add("QboWebhook", API_HANDLER, "QBO webhooks: verify and queue", 10)
        self.sync = add("QboSync", SYNC_HANDLER, "QBO sync: change queue to records", 300)
        self.cdc = add("QboCdc", CDC_HANDLER, "QBO catch-up and reconnect check", 900)

        # OAuth: tenant exists, API keys (get, touch); states (put, consume = delete);
        # connections (get, realm claim put/delete, attribute updates).
        tables.grant(self.oauth, t.tenants, ["GetItem", "UpdateItem"])
        tables.grant(self.oauth, t.sessions, ["PutItem", "DeleteItem"], leading_keys=STATE_KEYS)
        tables.grant(
            self.oauth,
            t.state,
            ["GetItem", "PutItem", "UpdateItem", "DeleteItem"],
            leading_keys=CONNECTION_KEYS,
        )
        self._secrets(self.oauth, prefix, write=True)
        # Webhook: seen event ids (conditional put, batch delete on release); the change queue.
        tables.grant(self.webhook, t.sessions, ["PutItem", "BatchWriteItem"])
        iam.Grant.add_to_principal(
            grantee=self.webhook,
            actions=["sqs:SendMessage"],
            resource_arns=[self.changes.queue_arn],
        )
        self._secrets(self.webhook, prefix, write=False)
        # Sync and catch-up: tenants (paused?), connections (get, scan for the list, updates),
        # limits (get, update), sync state and re-reads, mappings (hand-offs; the full load's
        # sweep reads by_tenant), tokens (rotation), the record queue, claim checks, events.
        for fn in (self.sync, self.cdc):
            tables.grant(fn, t.tenants, ["GetItem"])
            tables.grant(fn, t.state, ["GetItem", "BatchGetItem", "UpdateItem"])
            tables.grant(fn, t.mappings, ["BatchGetItem", "UpdateItem"])
            iam.Grant.add_to_principal(
                grantee=fn, actions=["sqs:SendMessage"], resource_arns=[records.queue_arn]
            )
            payloads.grant_put(fn)
            event_grant(fn)
            self._secrets(fn, prefix, write=True)
        # The Online writer applies write-back operations after the scheduled catch-up; an
        # invoice's customer is found by its ZOHO account (by_zoho).
        tables.grant_writeback(self.cdc, t.writeback)
        tables.grant(self.cdc, t.mappings, ["Query"], index="by_zoho")
        # A name in use (6240): the recent applied operations say whether another account
        # holds that customer before the forwarder told the mapping (writeback/targets.py).
        tables.grant(self.cdc, t.writeback, ["Query"], index=tables.WRITEBACK_STATUS_INDEX)
        # Only the catch-up lists connections (a Scan of the state table) and sweeps mappings.
        tables.grant(self.cdc, t.state, ["Scan"])
        tables.grant(self.cdc, t.mappings, ["Query"], index="by_tenant")
        functions.invoked(self.sync).add_event_source(
            sources.SqsEventSource(self.changes, batch_size=10, report_batch_item_failures=True)
        )
        events.Rule(
            self,
            "CdcSchedule",
            schedule=events.Schedule.rate(Duration.minutes(settings.qbo_cdc_minutes)),
            targets=[targets.LambdaFunction(functions.invoked(self.cdc), retry_attempts=0)],
        )

    @staticmethod
    def _pattern(name: str) -> str:
        return Fn.join(
            ":",
            ["arn", Aws.PARTITION, "secretsmanager", Aws.REGION, Aws.ACCOUNT_ID, f"secret:{name}"],
        )

    def _secrets(self, fn: lambda_.Function, prefix: str, write: bool) -> None:
        """Read ``<prefix>qbo-app``; with ``write``, read and write ``<prefix>qbo/*`` too."""
        role = fn.role
        assert role is not None
        read = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
        iam.Grant.add_to_principal(
            grantee=fn, actions=read, resource_arns=[self._pattern(f"{prefix}qbo-app-*")]
        )
        nag.acknowledge(
            role,
            "IAM5",
            "Secrets Manager appends six random characters to the qbo-app secret's ARN.",
            finding="Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
            f"<AWS::AccountId>:secret:{prefix}qbo-app-*",
        )
        if not write:
            return
        writes = ("CreateSecret", "PutSecretValue", "RestoreSecret", "DeleteSecret")
        actions = [*read, *(f"secretsmanager:{a}" for a in writes)]
        iam.Grant.add_to_principal(
            grantee=fn, actions=actions, resource_arns=[self._pattern(f"{prefix}qbo/*")]
        )
        nag.acknowledge(
            role,
            "IAM5",
            "Tenants' QuickBooks Online tokens (<prefix>qbo/<tenant>) are created at run time by "
            "the OAuth callback and rotated by refreshes: the grant covers that folder only.",
            finding="Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:"
            f"<AWS::AccountId>:secret:{prefix}qbo/*",
        )
