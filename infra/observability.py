"""One CloudWatch dashboard per environment, and the alarms that page the operator by e-mail.

The relay's own metrics are Powertools EMF in namespace ``QbxmlRelay/<env>`` with dimension
``service``; the per-entity ones add ``entity`` and are graphed with SEARCH expressions, so a new
entity shows up without a deploy.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Aws, Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .settings import SERVICE_NAME, Settings

PERIOD = Duration.minutes(5)
# The stale check publishes every run (zero included); an hour spans several runs.
STALE_PERIOD = Duration.hours(1)
# Graphs of the audit and overdue runs (hours apart): one point per run.
RUN_PERIOD = Duration.hours(1)
_AT_LEAST = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
_ABOVE = cw.ComparisonOperator.GREATER_THAN_THRESHOLD
PER_ENTITY = ("RecordsReceived", "RecordsQueued", "RecordsUnchanged")


class Observability(Construct):
    """Dashboard, SNS topic (with the configured e-mail) and alarms."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings,
        api: apigw.RestApi,
        records: sqs.IQueue,
        dead_letters: sqs.IQueue,
        webhook_dead_letters: sqs.IQueue,
        functions: Mapping[str, lambda_.IFunction],
    ) -> None:
        super().__init__(scope, construct_id)
        self._namespace = settings.metrics_namespace
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name=f"qbxml-relay {settings.env} alarms", enforce_ssl=True
        )
        if settings.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
        self.alarms: list[cw.Alarm] = []

        self._alarm(
            "DeadLettersAlarm",
            "Records failed to reach ZOHO and sit in the dead-letter queue: inspect and redrive.",
            dead_letters.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            threshold=1,
        )
        self._alarm(
            "WebhookFailuresAlarm",
            "Webhook deliveries were given up on (every retry failed, or the URL was refused): "
            "`qbrelay webhooks deliveries --aws --env ENV` shows which and why.",
            self.metric("WebhookDeliveriesFailed"),
            threshold=1,
        )
        self._alarm(
            "WebhookDeadLettersAlarm",
            "Relay events or webhook retries the deliverer could not handle sit in the webhook "
            "dead-letter queue: see the Webhooks function's logs.",
            webhook_dead_letters.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            threshold=1,
        )
        self._alarm(
            "EventPublishFailuresAlarm",
            "Functions could not publish events to the bus (subscribers miss them): see the "
            "functions' 'could not publish' log lines.",
            self.metric("EventsPublishFailed"),
            threshold=1,
        )
        failed, succeeded = self.metric("ZohoUpsertsFailed"), self.metric("ZohoUpsertsSucceeded")
        self._alarm(
            "ForwarderErrorRateAlarm",
            f"More than {settings.forwarder_error_rate_percent:g}% of ZOHO upserts failed in two "
            "of three 5-minute periods.",
            cw.MathExpression(
                # FILL: the forwarder publishes only the counters it touched in a period.
                expression=(
                    "IF(FILL(failed, 0) + FILL(succeeded, 0) > 0, "
                    "100 * FILL(failed, 0) / (FILL(failed, 0) + FILL(succeeded, 0)), 0)"
                ),
                using_metrics={"failed": failed, "succeeded": succeeded},
                label="ZOHO upsert failure %",
                period=PERIOD,
            ),
            threshold=settings.forwarder_error_rate_percent,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            periods=3,
            datapoints=2,
        )
        for name, function in functions.items():
            self._alarm(
                f"{name}ErrorsAlarm",
                f"The {name} function failed (error, crash or timeout).",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                threshold=1,
            )
        # SOAP 1.1 answers every fault with HTTP 500, a caller's mistake included, so the
        # gateway's 5xx count less the relay's Client faults is what the relay got wrong: its
        # Server faults plus any 5xx that was no SOAP fault at all (a crash or a timeout).
        self._alarm(
            "Api5xxAlarm",
            f"The API answered {settings.api_5xx_threshold} or more 5xx in 5 minutes that were "
            "not the caller's fault (SOAP Server faults, crashes, timeouts): check "
            "SoapServerFaults and the relay's logs.",
            cw.MathExpression(
                # FILL: the relay publishes SoapClientFaults only in periods that had one.
                expression="FILL(errors, 0) - FILL(client, 0)",
                using_metrics={
                    "errors": api.metric_server_error(period=PERIOD, statistic="Sum"),
                    "client": self.metric("SoapClientFaults"),
                },
                label="API 5xx that were not Client faults",
                period=PERIOD,
            ),
            threshold=settings.api_5xx_threshold,
        )
        self._alarm(
            "AuthFailuresAlarm",
            f"{settings.auth_failures_threshold} or more Web Connector logins were rejected in 5 "
            "minutes (password guessing, or a QBWC with an old password): the relay's "
            "'authenticate: rejected' log lines name the user and source address.",
            self.metric("AuthFailures"),
            threshold=settings.auth_failures_threshold,
        )
        self._alarm(
            "StaleSyncAlarm",
            f"A tenant has had no completed Web Connector session for {settings.stale_sync_hours:g}"
            " hours (QuickBooks PC off, QBWC closed or failing). Missing data alarms too: the "
            "check itself did not run.",
            self.metric("StaleTenants", statistic="Maximum", period=STALE_PERIOD),
            threshold=1,
            missing=cw.TreatMissingData.BREACHING,
        )
        # The scheduled jobs publish once per run: their alarms look at one schedule period.
        # Missing data is no alarm (a run that crashed or timed out raises its Errors alarm).
        audit_period = Duration.hours(settings.audit_schedule_hours)
        overdue_period = Duration.hours(settings.overdue_schedule_hours)
        self._alarm(
            "DriftAlarm",
            "The audit found records where ZOHO and the mapping store disagree (missing, stale, "
            "deleted but active, or unknown): see the Audit function's per-tenant log lines"
            + ("; repairs were requested." if settings.audit_repair else "."),
            self.metric("DriftRecords", statistic="Maximum", period=audit_period),
            threshold=0,
            comparison=_ABOVE,
        )
        self._alarm(
            "AuditFailuresAlarm",
            "The audit could not check a tenant (ZOHO or store error, or out of time): see the "
            "Audit function's logs.",
            self.metric("AuditFailures", period=audit_period),
            threshold=1,
        )
        self._alarm(
            "OverdueFailuresAlarm",
            "The overdue step could not update a tenant's invoices (ZOHO or store error): see "
            "the Overdue function's logs.",
            self.metric("OverdueFailures", period=overdue_period),
            threshold=1,
        )
        # Three failed captures in a row: ZOHO changes wait for QuickBooks until it is fixed.
        capture_period = Duration.minutes(settings.writeback_capture_minutes)
        self._alarm(
            "WriteBackCaptureFailuresAlarm",
            "The write-back capture could not read a tenant's ZOHO changes three runs in a row "
            "(ZOHO credentials, scope or store error): see the WriteBackCapture function's logs.",
            self.metric("WriteBackCaptureFailures", period=capture_period),
            threshold=1,
            periods=3,
            datapoints=3,
        )

        self.dashboard = cw.Dashboard(
            self,
            "Dashboard",
            # Dashboard names are unique per account, across regions.
            dashboard_name=f"{settings.stack_name}-{Aws.REGION}",
            default_interval=Duration.days(1),
        )
        fns = list(functions.items())
        self.dashboard.add_widgets(
            self._graph(
                "SOAP calls and faults",
                [
                    self.metric("SoapCalls"),
                    self.metric("SoapFaults"),
                    self.metric("SoapClientFaults"),
                    self.metric("SoapServerFaults"),
                ],
            ),
            self._graph(
                "Sessions and rejected logins",
                [
                    self.metric("SessionsStarted"),
                    self.metric("SessionsCompleted"),
                    self.metric("AuthFailures"),
                ],
            ),
            self._graph(
                "Stale tenants",
                [self.metric("StaleTenants", statistic="Maximum", period=STALE_PERIOD)],
            ),
        )
        self.dashboard.add_widgets(
            *(self._graph(f"{name} per entity", [self._per_entity(name)]) for name in PER_ENTITY)
        )
        self.dashboard.add_widgets(
            self._graph(
                "ZOHO upserts",
                [succeeded, failed, self.metric("ZohoCalls")],
            ),
            self._graph(
                "Record queue: depth (left), oldest message age in s (right)",
                [records.metric_approximate_number_of_messages_visible(period=PERIOD)],
                right=[records.metric_approximate_age_of_oldest_message(period=PERIOD)],
            ),
            self._graph(
                "Dead-letter queue: depth (left), oldest message age in s (right)",
                [dead_letters.metric_approximate_number_of_messages_visible(period=PERIOD)],
                right=[dead_letters.metric_approximate_age_of_oldest_message(period=PERIOD)],
            ),
        )
        self.dashboard.add_widgets(
            self._graph(
                "API requests and errors",
                [
                    api.metric_count(period=PERIOD),
                    api.metric_client_error(period=PERIOD),
                    api.metric_server_error(period=PERIOD),
                ],
            ),
            self._graph(
                "API latency",
                [
                    api.metric_latency(period=PERIOD, statistic="p50"),
                    api.metric_latency(period=PERIOD, statistic="p99"),
                    api.metric_integration_latency(period=PERIOD, statistic="p99"),
                ],
            ),
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=8, height=6),
        )
        self.dashboard.add_widgets(
            self._graph(
                "Audit: drift records and failed tenants (left), COQL credits (right)",
                [
                    self.metric("DriftRecords", statistic="Maximum", period=RUN_PERIOD),
                    self.metric("AuditFailures", period=RUN_PERIOD),
                ],
                right=[self.metric("AuditCredits", period=RUN_PERIOD)],
            ),
            self._graph(
                "Events and webhooks",
                [
                    self.metric("EventsPublished"),
                    self.metric("EventsPublishFailed"),
                    self.metric("WebhookDeliveries"),
                    self.metric("WebhookRetries"),
                    self.metric("WebhookDeliveriesFailed"),
                ],
            ),
            self._graph(
                "Write-back: operations captured, failed captures; Online applied, refused",
                [
                    self.metric("WriteBackCaptured", period=RUN_PERIOD),
                    self.metric("WriteBackCaptureFailures", period=RUN_PERIOD),
                    self.metric("QboWriteBackApplied", period=RUN_PERIOD),
                    self.metric("QboWriteBackNotApplied", period=RUN_PERIOD),
                ],
            ),
            self._graph(
                "Invoices marked overdue, failed tenants",
                [
                    self.metric("InvoicesMarkedOverdue", period=RUN_PERIOD),
                    self.metric("OverdueFailures", period=RUN_PERIOD),
                ],
            ),
        )
        self.dashboard.add_widgets(
            self._graph(
                "Lambda errors",
                [f.metric_errors(period=PERIOD, label=n) for n, f in fns],
            ),
            self._graph(
                "Lambda duration p99",
                [f.metric_duration(period=PERIOD, statistic="p99", label=n) for n, f in fns],
            ),
            self._graph(
                "Lambda throttles",
                [f.metric_throttles(period=PERIOD, label=n) for n, f in fns],
            ),
        )

    def watch_qbo(self) -> None:
        """QuickBooks Online: a dashboard row and alarms for webhook signature failures,
        connections needing (or soon needing) a reconnect, and throttled realms."""
        self.dashboard.add_widgets(
            self._graph(
                "QBO webhooks, signature failures",
                [self.metric("QboWebhooks"), self.metric("QboWebhookSignatureFailures")],
            ),
            self._graph(
                "QBO records queued, API calls, throttled realms",
                [self.metric("QboRecordsQueued"), self.metric("QboApiCalls")],
                right=[self.metric("QboThrottled"), self.metric("QboSyncFailures")],
            ),
            self._graph(
                "QBO reconnects: waiting, due soon, fewest days left",
                [
                    self.metric("QboNeedsReconnectTenants", statistic="Maximum", period=RUN_PERIOD),
                    self.metric("QboReconnectSoon", statistic="Maximum", period=RUN_PERIOD),
                ],
                right=[self.metric("QboReconnectDaysLeft", statistic="Minimum", period=RUN_PERIOD)],
            ),
        )
        self._alarm(
            "QboWebhookSignatureAlarm",
            "5 or more QuickBooks Online webhook deliveries in 5 minutes had no valid "
            "intuit-signature: a wrong verifier token in the qbo-app secret, or forged posts.",
            self.metric("QboWebhookSignatureFailures"),
            threshold=5,
        )
        self._alarm(
            "QboNeedsReconnectAlarm",
            "A QuickBooks Online connection needs a reconnect (invalid_grant, revoked, expired): "
            "qbrelay qbo status names it; qbrelay qbo connect --tenant NAME fixes it.",
            self.metric("QboNeedsReconnectTenants", statistic="Maximum", period=RUN_PERIOD),
            threshold=1,
        )
        self._alarm(
            "QboReconnectSoonAlarm",
            "A QuickBooks Online connection reaches Intuit's refresh-token limit within 30 days: "
            "a company admin must connect it again before then (qbrelay qbo status).",
            self.metric("QboReconnectSoon", statistic="Maximum", period=RUN_PERIOD),
            threshold=1,
        )
        self._alarm(
            "QboThrottledAlarm",
            "QuickBooks Online kept throttling (HTTP 429) realms 10 or more times in 5 minutes: "
            "another app of the company may be using its limit; the sync retries.",
            self.metric("QboThrottled"),
            threshold=10,
        )

    def metric(self, name: str, *, statistic: str = "Sum", period: Duration = PERIOD) -> cw.Metric:
        """One of the relay's own metrics (dimension ``service``)."""
        return cw.Metric(
            namespace=self._namespace,
            metric_name=name,
            dimensions_map={"service": SERVICE_NAME},
            statistic=statistic,
            period=period,
        )

    def _per_entity(self, name: str) -> cw.MathExpression:
        search = (
            f'SEARCH(\'{{{self._namespace},entity,service}} MetricName="{name}" '
            f"service=\"{SERVICE_NAME}\"', 'Sum', {int(PERIOD.to_seconds())})"
        )
        return cw.MathExpression(expression=search, using_metrics={}, label="", period=PERIOD)

    @staticmethod
    def _graph(
        title: str, left: list[cw.IMetric], *, right: list[cw.IMetric] | None = None
    ) -> cw.GraphWidget:
        return cw.GraphWidget(title=title, left=left, right=right or [], width=8, height=6)

    def _alarm(
        self,
        construct_id: str,
        description: str,
        metric: cw.IMetric,
        *,
        threshold: float,
        comparison: cw.ComparisonOperator = _AT_LEAST,
        periods: int = 1,
        datapoints: int = 1,
        missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
    ) -> cw.Alarm:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=periods,
            datapoints_to_alarm=datapoints,
            treat_missing_data=missing,
        )
        action = cw_actions.SnsAction(self.topic)
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        self.alarms.append(alarm)
        return alarm
