"""The relay's stack: ``QbxmlRelay-<env>``, composed of one construct per concern."""

from __future__ import annotations

from collections.abc import Callable

from aws_cdk import Annotations, CfnOutput, Duration, Environment, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import tables
from .api import RelayApi
from .events import EventRouting
from .functions import Functions, FunctionSpec
from .observability import Observability
from .ops_function import add_ops_function
from .payloads import PayloadBucket
from .qbo import QboIntegration
from .queues import RecordQueues
from .secrets import SecretsAccess
from .settings import SERVICE_NAME, Settings
from .tables import Tables

RELAY_HANDLER = "lambdas.handlers.qbwc_api.handler"
FORWARDER_HANDLER = "lambdas.handlers.zoho_forwarder.handler"
STALE_SYNC_HANDLER = "lambdas.handlers.stale_sync.handler"
AUDIT_HANDLER = "lambdas.handlers.audit.handler"
OVERDUE_HANDLER = "lambdas.handlers.overdue.handler"
WEBHOOKS_HANDLER = "lambdas.handlers.event_webhooks.handler"
CAPTURE_HANDLER = "lambdas.handlers.writeback_capture.handler"
CAPTURE_TIMEOUT_SECONDS = 300
# Each bus event fans out to every subscriber, one POST (at most 15 s) after another.
WEBHOOKS_TIMEOUT_SECONDS = 120
# The relay's keys in the state table (lambdas/store/keys.py: SYNC_STATE, and sync_state.py's
# re-read requests); the ZOHO callers' keys there (ZOHO_TOKEN, ZOHO_PAUSE, ZOHO_MAPPING).
RELAY_STATE_KEYS = ("@sync#*", "@refetch#*")
ZOHO_STATE_KEYS = ("@zoho-*",)
# The overdue step makes one COQL query and an update per 100 invoices for each tenant.
OVERDUE_TIMEOUT_SECONDS = 300


def send_to(function: lambda_.IFunction, queue: sqs.IQueue) -> None:
    """sqs:SendMessage on ``queue`` alone (the adapters send batches to the URL they are given,
    so neither GetQueueUrl nor GetQueueAttributes is needed); SQS-managed keys need no KMS."""
    iam.Grant.add_to_principal(
        grantee=function, actions=["sqs:SendMessage"], resource_arns=[queue.queue_arn]
    )


class RelayStack(Stack):
    """API Gateway + Lambda + DynamoDB + SQS + S3 for one environment, with dashboard and alarms."""

    def __init__(
        self, scope: Construct, settings: Settings, *, code: Callable[[], lambda_.Code]
    ) -> None:
        super().__init__(
            scope,
            settings.stack_name,
            env=Environment(account=settings.account, region=settings.region),
            description=f"qbxml-relay ({settings.env}): QuickBooks Web Connector to ZOHO CRM",
        )
        self.settings = settings
        if settings.env == "prod" and not settings.alarm_email:
            Annotations.of(self).add_warning(
                "prod has no alarm_email: alarms reach the SNS topic but nobody is subscribed"
            )
        self.tables = Tables(self, "Tables", retain=settings.retain_data)
        self.queues = RecordQueues(
            self,
            "Queues",
            visibility_timeout_seconds=settings.queue_visibility_seconds,
            max_receive_count=settings.max_receive_count,
            retain=settings.retain_data,
        )
        self.payloads = PayloadBucket(self, "Payloads", retain=settings.retain_data)
        self.secrets = SecretsAccess(self, "Secrets", prefix=settings.secrets_prefix)
        self.events = EventRouting(
            self,
            "Events",
            bus_name=f"qbxml-relay-{settings.env}",
            deliverer_timeout_seconds=WEBHOOKS_TIMEOUT_SECONDS,
            retain=settings.retain_data,
        )
        self.api = RelayApi(self, "Api", settings=settings, retain_logs=settings.retain_data)
        self.functions = Functions(
            self,
            "Functions",
            code=code,
            environment=self._environment(),
            log_retention_days=settings.log_retention_days,
            retain_logs=settings.retain_data,
            snap_start=settings.snap_start,
        )
        t = self.tables

        self.relay = self.functions.add(
            FunctionSpec(
                name="Relay",
                handler=RELAY_HANDLER,
                description="QBWC SOAP relay: /qbwc, /health, /support[/{file_id}]",
                memory_mb=settings.relay_memory_mb,
                timeout_seconds=settings.relay_timeout_seconds,
                reserved_concurrency=settings.relay_reserved_concurrency,
                environment={"QBRELAY_PAYLOAD_BUCKET": self.payloads.bucket_name},
            )
        )
        # Each grant is what the relay's adapters call (lambdas/store/dynamo): tenants (get,
        # find_by_user/find_by_file_id via claim items, ensure_file_id, deployment_owner_id,
        # record_session/record_client); sessions (sessions and locks in transactions, client
        # notes, login-failure counters, the lock deleted on close, a counter on success).
        tables.grant(self.relay, t.tenants, ["GetItem", "PutItem", "UpdateItem"])
        tables.grant(self.relay, t.sessions, ["GetItem", "PutItem", "UpdateItem", "DeleteItem"])
        # The state table: only sync state and re-read requests (get_all, put, pending_refetch,
        # request_refetch, clear_refetch); never the ZOHO token cache, pauses or mapping
        # overrides (``@zoho-*``), which an explicit Deny keeps out of reach of any later grant.
        tables.grant(
            self.relay,
            t.state,
            ["GetItem", "BatchGetItem", "UpdateItem"],
            leading_keys=RELAY_STATE_KEYS,
        )
        tables.deny_leading_keys(self.relay, t.state, ZOHO_STATE_KEYS)
        # Hand-offs: get_many and record_handoffs, by key (no index).
        tables.grant(self.relay, t.mappings, ["BatchGetItem", "UpdateItem"])
        # count, once a session: the tenant's mapped records weigh a mass deletion (vetting).
        tables.grant(self.relay, t.mappings, ["Query"], index="by_tenant")
        tables.grant(self.relay, t.runs, ["PutItem"])
        # Write-back: the Desktop writer in the session (an invoice's customer by its ZOHO
        # account: the by_zoho index).
        tables.grant_writeback(self.relay, t.writeback)
        tables.grant(self.relay, t.mappings, ["Query"], index="by_zoho")
        # A name in use (3100): the recent applied operations say whether another account
        # holds that customer before the forwarder told the mapping (writeback/targets.py).
        tables.grant(self.relay, t.writeback, ["Query"], index=tables.WRITEBACK_STATUS_INDEX)
        send_to(self.relay, self.queues.records)
        # Records too large for one message go to the bucket first (the claim check).
        self.payloads.grant_put(self.relay)
        # session.completed
        self.events.grant_put(self.relay)
        # QuickBooks Online: its own functions, queue and grants (infra/qbo.py).
        self.qbo = QboIntegration(
            self,
            "Qbo",
            settings=settings,
            functions=self.functions,
            t=t,
            records=self.queues.records,
            payloads=self.payloads,
            event_grant=self.events.grant_put,
            retain=settings.retain_data,
        )
        # Every route of the product's router (lambdas/http/routes.py), to the function it
        # names: declared once, served alike by this API and by the local server.
        # The operator routes (function "ops"): their own function and policy.
        self.ops = add_ops_function(
            self,
            self.functions,
            t,
            self.queues,
            self.secrets,
            memory_mb=settings.check_memory_mb,
            audit_repair=settings.audit_repair,
            retain=settings.retain_data,
        )
        self.events.grant_put(self.ops)  # an audit's drift.found
        self.api.add_routes(
            {
                "relay": self.functions.invoked(self.relay),
                "ops": self.functions.invoked(self.ops),
                "qbo-oauth": self.functions.invoked(self.qbo.oauth),
                "qbo-webhook": self.functions.invoked(self.qbo.webhook),
            }
        )

        self.forwarder = self.functions.add(
            FunctionSpec(
                name="Forwarder",
                handler=FORWARDER_HANDLER,
                description="ZOHO forwarder: record queue to ZOHO CRM upserts",
                memory_mb=settings.forwarder_memory_mb,
                timeout_seconds=settings.forwarder_timeout_seconds,
                environment={
                    "QBRELAY_PAYLOAD_BUCKET": self.payloads.bucket_name,
                    # The forwarder parks a record one delivery before SQS would dead-letter it
                    # (without a reason).
                    "QBRELAY_MAX_RECEIVE_COUNT": str(settings.max_receive_count),
                },
            )
        )
        # Tenants' time zones (get); the state table: pauses (put, get), mapping overrides
        # (get), the ZOHO token cache (load, then leases and saves as updates) and re-read
        # requests (update); mappings: get, get_many, claim_many, record_outcomes.
        tables.grant(self.forwarder, t.tenants, ["GetItem"])
        tables.grant(self.forwarder, t.state, ["GetItem", "PutItem", "UpdateItem"])
        tables.grant(self.forwarder, t.mappings, ["GetItem", "BatchGetItem", "UpdateItem"])
        self.secrets.grant_read(self.forwarder)
        self.payloads.grant_get(self.forwarder)
        # Records ZOHO refuses are parked on the dead-letter queue with their reason.
        send_to(self.forwarder, self.queues.dead_letters)
        # failure.parked
        self.events.grant_put(self.forwarder)
        # Triggers invoke the ``live`` alias under SnapStart, as the API's routes do: the
        # unqualified function is $LATEST, which SnapStart never snapshots.
        self.functions.invoked(self.forwarder).add_event_source(
            sources.SqsEventSource(
                self.queues.records,
                batch_size=settings.forwarder_batch_size,
                max_batching_window=Duration.seconds(settings.forwarder_batching_window_seconds),
                report_batch_item_failures=True,
                max_concurrency=settings.forwarder_max_concurrency,
            )
        )

        self.stale_check = self.functions.add(
            FunctionSpec(
                name="StaleSync",
                handler=STALE_SYNC_HANDLER,
                description="Scheduled check: tenants with no completed QBWC session",
                memory_mb=settings.check_memory_mb,
                timeout_seconds=60,
                environment={
                    "QBRELAY_STALE_SYNC_HOURS": f"{settings.stale_sync_hours:g}",
                    # Each run announces the tenants that went stale within its own period.
                    "QBRELAY_STALE_CHECK_MINUTES": str(settings.stale_check_minutes),
                },
            )
        )
        # Every tenant (list: a consistent Scan of the tenants table), and tenant.stale events.
        tables.grant(self.stale_check, t.tenants, ["Scan"])
        self.events.grant_put(self.stale_check)
        self.schedule(
            "StaleSyncSchedule", self.stale_check, Duration.minutes(settings.stale_check_minutes)
        )

        self.audit = self.functions.add(
            FunctionSpec(
                name="Audit",
                handler=AUDIT_HANDLER,
                description="Scheduled audit: ZOHO's records against the mapping store",
                memory_mb=settings.check_memory_mb,
                timeout_seconds=settings.audit_timeout_seconds,
                environment={"QBRELAY_AUDIT_REPAIR": "true" if settings.audit_repair else "false"},
            )
        )
        # Tenants (list), each tenant's mapping override and ZOHO token (get; the token's
        # leases and saves are updates) and its mappings through the by_tenant index (Query).
        tables.grant(self.audit, t.tenants, ["Scan"])
        tables.grant(self.audit, t.mappings, ["Query"], index="by_tenant")
        # Repairs are re-read requests (updates of the state table, like the token cache's)
        # and mappings marked for sending again (record_outcomes): only with audit_repair.
        tables.grant(self.audit, t.state, ["GetItem", "UpdateItem"])
        if settings.audit_repair:
            tables.grant(self.audit, t.mappings, ["UpdateItem"])
        self.secrets.grant_read(self.audit)
        # drift.found
        self.events.grant_put(self.audit)
        # A failed audit is not run again at once: each run spends ZOHO COQL credits, and the
        # next scheduled run (and the failure alarms) follow anyway.
        self.functions.invoked(self.audit).configure_async_invoke(retry_attempts=0)
        self.schedule("AuditSchedule", self.audit, Duration.hours(settings.audit_schedule_hours))

        self.overdue = self.functions.add(
            FunctionSpec(
                name="Overdue",
                handler=OVERDUE_HANDLER,
                description="Scheduled step: ZOHO invoices still Pending past their due date",
                memory_mb=settings.check_memory_mb,
                timeout_seconds=OVERDUE_TIMEOUT_SECONDS,
            )
        )
        # Tenants (list); the mapping override and the ZOHO token cache (get, update).
        tables.grant(self.overdue, t.tenants, ["Scan"])
        tables.grant(self.overdue, t.state, ["GetItem", "UpdateItem"])
        self.secrets.grant_read(self.overdue)
        self.schedule(
            "OverdueSchedule", self.overdue, Duration.hours(settings.overdue_schedule_hours)
        )

        self.capture = self.functions.add(
            FunctionSpec(
                name="WriteBackCapture",
                handler=CAPTURE_HANDLER,
                description="Write-back: ZOHO changes into QuickBooks write operations",
                memory_mb=settings.check_memory_mb,
                timeout_seconds=CAPTURE_TIMEOUT_SECONDS,
            )
        )
        # Tenants (get, list); the ZOHO token cache and QBO connections (get, update); the
        # mappings of ZOHO records (by_zoho) and contact rows (get); the operations; invalid
        # operations' messages for ZOHO on the record queue; ZOHO credentials.
        tables.grant(self.capture, t.tenants, ["GetItem", "Scan"])
        tables.grant(self.capture, t.state, ["GetItem", "UpdateItem"])
        tables.grant(self.capture, t.mappings, ["GetItem", "BatchGetItem"])
        tables.grant(self.capture, t.mappings, ["Query"], index="by_zoho")
        tables.grant_writeback(self.capture, t.writeback)
        send_to(self.capture, self.queues.records)
        self.secrets.grant_read(self.capture)
        self.functions.invoked(self.capture).configure_async_invoke(retry_attempts=0)
        self.schedule(
            "WriteBackCaptureSchedule",
            self.capture,
            Duration.minutes(settings.writeback_capture_minutes),
        )
        # The relay asks the capture for the tenant's latest changes when a session starts
        # (it holds no ZOHO credential itself).
        capture_entry = self.functions.invoked(self.capture)
        # This one function (alias) only: grant_invoke would add every version (":*").
        self.relay.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[capture_entry.function_arn]
            )
        )
        self.relay.add_environment("QBRELAY_CAPTURE_FUNCTION", capture_entry.function_arn)

        self.webhooks = self.functions.add(
            FunctionSpec(
                name="Webhooks",
                handler=WEBHOOKS_HANDLER,
                description="Webhook deliverer: relay events to subscribers, signed, retried",
                memory_mb=settings.check_memory_mb,
                timeout_seconds=WEBHOOKS_TIMEOUT_SECONDS,
                environment={"QBRELAY_WEBHOOK_RETRY_QUEUE_URL": self.events.retries.queue_url},
            )
        )
        # Subscriptions (get, list by Query), deliveries (conditional put, get, attempt
        # updates, list by Query); the signing secrets only (never ZOHO's); its retry queue.
        tables.grant(self.webhooks, t.webhooks, ["GetItem", "PutItem", "UpdateItem", "Query"])
        self.secrets.grant_read_under(self.webhooks, "webhooks")
        send_to(self.webhooks, self.events.retries)
        self.functions.invoked(self.webhooks).add_event_source(
            sources.SqsEventSource(
                self.events.retries, batch_size=10, report_batch_item_failures=True
            )
        )
        self.events.deliver_with(self.functions.invoked(self.webhooks))

        self.observability = Observability(
            self,
            "Observability",
            settings=settings,
            api=self.api.rest_api,
            records=self.queues.records,
            dead_letters=self.queues.dead_letters,
            webhook_dead_letters=self.events.dead_letters,
            functions=self.functions.by_name,
        )
        self.observability.watch_qbo()
        self._outputs()

    def schedule(self, construct_id: str, function: lambda_.IFunction, every: Duration) -> None:
        """Invoke ``function`` at a fixed rate (EventBridge rule)."""
        events.Rule(
            self,
            construct_id,
            schedule=events.Schedule.rate(every),
            targets=[targets.LambdaFunction(self.functions.invoked(function), retry_attempts=2)],
        )

    def _environment(self) -> dict[str, str]:
        """The variables every function gets (names are a contract: see the brief)."""
        t, q, s = self.tables, self.queues, self.settings
        env = {
            "QBRELAY_ENV": s.env,
            "QBRELAY_TENANTS_TABLE": t.tenants.table_name,
            "QBRELAY_SESSIONS_TABLE": t.sessions.table_name,
            "QBRELAY_STATE_TABLE": t.state.table_name,
            "QBRELAY_MAPPINGS_TABLE": t.mappings.table_name,
            "QBRELAY_RUNS_TABLE": t.runs.table_name,
            "QBRELAY_WEBHOOKS_TABLE": t.webhooks.table_name,
            "QBRELAY_WRITEBACK_TABLE": t.writeback.table_name,
            "QBRELAY_EVENT_BUS": self.events.bus.event_bus_name,
            "QBRELAY_RECORD_QUEUE_URL": q.records.queue_url,
            "QBRELAY_DLQ_URL": q.dead_letters.queue_url,
            "QBRELAY_SECRETS_PREFIX": s.secrets_prefix,
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": s.metrics_namespace,
        }
        if s.domain_name:
            # Without a custom domain the handler derives the address from each request (a
            # stage URL here would make the function depend on the API that depends on it).
            env["QBRELAY_PUBLIC_URL"] = f"https://{s.domain_name}/qbwc"
        return env

    def _outputs(self) -> None:
        t, q = self.tables, self.queues
        base = self.api.base_url
        bucket = self.payloads.bucket_name
        for key, value, description in (
            ("ApiUrl", base, "API base URL (stage or custom domain), ending in /"),
            ("QbwcUrl", f"{base}qbwc", "The Web Connector's AppURL"),
            ("SupportUrl", f"{base}support", "The Web Connector's AppSupport URL"),
            ("TenantsTable", t.tenants.table_name, "DynamoDB tenants table"),
            ("SessionsTable", t.sessions.table_name, "DynamoDB sessions table"),
            ("StateTable", t.state.table_name, "DynamoDB state table"),
            ("MappingsTable", t.mappings.table_name, "DynamoDB mappings table"),
            ("RunsTable", t.runs.table_name, "DynamoDB runs table"),
            ("WebhooksTable", t.webhooks.table_name, "DynamoDB webhook subscriptions and log"),
            ("WriteBackTable", t.writeback.table_name, "DynamoDB write-back operations"),
            ("EventBusName", self.events.bus.event_bus_name, "EventBridge bus of relay events"),
            ("RecordQueueUrl", q.records.queue_url, "SQS record queue"),
            ("DeadLetterQueueUrl", q.dead_letters.queue_url, "SQS dead-letter queue"),
            ("PayloadBucket", bucket, "S3 bucket of claim-checked records (records/<key>)"),
            ("SecretsPrefix", self.settings.secrets_prefix, "Secrets Manager name prefix"),
        ):
            CfnOutput(self, key, value=value, description=description)
