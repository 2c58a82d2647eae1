"""The dashboard shows the brief's metrics; the alarms reach the SNS topic and its e-mail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infrastructure.conftest import Synth, resources, synthesize

RELAY_METRICS = (
    "SoapCalls",
    "SoapFaults",
    "SoapClientFaults",
    "SoapServerFaults",
    "SessionsStarted",
    "SessionsCompleted",
    "AuthFailures",
)
PER_ENTITY = ("RecordsReceived", "RecordsQueued", "RecordsUnchanged")
FORWARDER_METRICS = ("ZohoUpsertsSucceeded", "ZohoUpsertsFailed", "ZohoCalls")
JOB_METRICS = (
    "DriftRecords",
    "AuditCredits",
    "AuditFailures",
    "InvoicesMarkedOverdue",
    "OverdueFailures",
)


def dashboard_widgets(synth: Synth) -> list[dict[str, Any]]:
    """The dashboard body with every CloudFormation reference replaced by a placeholder."""
    (dashboard,) = resources(synth, "AWS::CloudWatch::Dashboard").values()
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    body = "".join(p if isinstance(p, str) else "REF" for p in parts)
    return json.loads(body)["widgets"]


def alarms(synth: Synth) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in resources(synth, "AWS::CloudWatch::Alarm").items()}


def test_dashboard_has_every_metric_of_the_brief(dev: Synth) -> None:
    widgets = dashboard_widgets(dev)
    text = json.dumps(widgets)
    for name in RELAY_METRICS + FORWARDER_METRICS + JOB_METRICS + ("StaleTenants",):
        assert f'["QbxmlRelay/dev", "{name}", "service", "qbxml-relay"' in text
    for name in PER_ENTITY:
        search = (
            f'SEARCH(\'{{QbxmlRelay/dev,entity,service}} MetricName=\\"{name}\\" '
            f"service=\\\"qbxml-relay\\\"', 'Sum', 300)"
        )
        assert search in text
    for namespace, name in (
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage"),
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Throttles"),
    ):
        assert f'["{namespace}", "{name}"' in text
    lambda_errors = [w for w in widgets if w["properties"].get("title") == "Lambda errors"]
    assert len(lambda_errors[0]["properties"]["metrics"]) == 12  # one per function
    for name in (
        "QboWebhookSignatureFailures",
        "QboNeedsReconnectTenants",
        "QboReconnectSoon",
        "QboReconnectDaysLeft",
        "QboThrottled",
    ):
        assert f'["QbxmlRelay/dev", "{name}", "service", "qbxml-relay"' in text
    for name in ("EventsPublished", "EventsPublishFailed", "WebhookDeliveriesFailed"):
        assert f'["QbxmlRelay/dev", "{name}", "service", "qbxml-relay"' in text
    assert any(w["type"] == "alarm" for w in widgets)


def test_every_alarm_notifies_the_topic(dev: Synth) -> None:
    (topic,) = resources(dev, "AWS::SNS::Topic")
    found = alarms(dev)
    # DLQ, forwarder error rate, 6 x Lambda errors, API 5xx, auth failures, stale sync, drift,
    # audit and overdue failures; failed webhooks, the webhook DLQ, failed event publishing.
    # QuickBooks Online: 4 x Lambda errors, webhook signatures, reconnect now and soon, 429s.
    # The operator API's function: its Lambda errors.
    assert len(found) == 28
    for alarm in found.values():
        assert alarm["AlarmActions"] == [{"Ref": topic}]
        assert alarm["OKActions"] == [{"Ref": topic}]


def test_email_subscription_only_when_configured(dev: Synth, prod: Synth) -> None:
    dev.template.resource_count_is("AWS::SNS::Subscription", 0)
    prod.template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"}
    )


def test_dead_letter_alarm(dev: Synth) -> None:
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [
                {"Name": "QueueName", "Value": Match.object_like({"Fn::GetAtt": Match.any_value()})}
            ],
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )
    (dlq,) = [
        a
        for a in alarms(dev).values()
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and "webhook" not in a["AlarmDescription"]
    ]
    dlq_id = dev.raw["Outputs"]["DeadLetterQueueUrl"]["Value"]["Ref"]
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": [dlq_id, "QueueName"]}


def test_stale_sync_alarm_treats_silence_as_a_failure(dev: Synth) -> None:
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "QbxmlRelay/dev",
            "MetricName": "StaleTenants",
            "Dimensions": [{"Name": "service", "Value": "qbxml-relay"}],
            "Statistic": "Maximum",
            "Period": 3600,
            "Threshold": 1,
            "TreatMissingData": "breaching",
        },
    )


def test_forwarder_error_rate_alarm(dev: Synth) -> None:
    (rate,) = [a for a in alarms(dev).values() if "ZOHO upsert" in a.get("AlarmDescription", "")]
    expression = next(m["Expression"] for m in rate["Metrics"] if "Expression" in m)
    assert "100 * FILL(failed, 0)" in expression
    named = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in rate["Metrics"]
        if "MetricStat" in m
    }
    assert named == {"failed": "ZohoUpsertsFailed", "succeeded": "ZohoUpsertsSucceeded"}
    assert rate["Threshold"] == 5 and rate["ComparisonOperator"] == "GreaterThanThreshold"


def test_failed_webhook_deliveries_alarm(dev: Synth) -> None:
    found = alarms(dev).values()
    (failed,) = [a for a in found if a.get("MetricName") == "WebhookDeliveriesFailed"]
    assert failed["Threshold"] == 1 and failed["Namespace"] == "QbxmlRelay/dev"
    assert failed["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    (published,) = [a for a in found if a.get("MetricName") == "EventsPublishFailed"]
    assert published["Threshold"] == 1
    depth = [
        a
        for a in found
        if a.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        and "webhook" in a["AlarmDescription"]
    ]
    assert len(depth) == 1


def test_lambda_and_api_error_alarms(dev: Synth) -> None:
    functions = set(resources(dev, "AWS::Lambda::Function"))
    errors = [a for a in alarms(dev).values() if a.get("MetricName") == "Errors"]
    assert {a["Dimensions"][0]["Value"]["Ref"] for a in errors} == functions
    assert all(a["Threshold"] == 1 for a in errors)
    (api,) = [a for a in alarms(dev).values() if "5xx" in a.get("AlarmDescription", "")]
    assert api["Threshold"] == 5
    assert api["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_api_5xx_alarm_leaves_out_client_faults(dev: Synth) -> None:
    """SOAP faults are all HTTP 500: the alarm subtracts the caller's faults from the 5xx."""
    (api,) = [a for a in alarms(dev).values() if "5xx" in a.get("AlarmDescription", "")]
    expression = next(m["Expression"] for m in api["Metrics"] if "Expression" in m)
    assert expression == "FILL(errors, 0) - FILL(client, 0)"
    named = {
        m["Id"]: (m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
        for m in api["Metrics"]
        if "MetricStat" in m
    }
    assert named == {
        "errors": ("AWS/ApiGateway", "5XXError"),
        "client": ("QbxmlRelay/dev", "SoapClientFaults"),
    }
    assert all(m["MetricStat"]["Stat"] == "Sum" for m in api["Metrics"] if "MetricStat" in m)


@pytest.mark.parametrize(("env", "hours"), [("dev", 24), ("prod", 12)])
def test_drift_alarm_fires_on_any_drift_in_one_audit_period(env: str, hours: int, request) -> None:
    synth = request.getfixturevalue(env)
    (drift,) = [a for a in alarms(synth).values() if a.get("MetricName") == "DriftRecords"]
    assert drift["Namespace"] == f"QbxmlRelay/{env}"
    # The service dimension only: per-tenant drift is in the logs, not in metrics.
    assert drift["Dimensions"] == [{"Name": "service", "Value": "qbxml-relay"}]
    assert (drift["Statistic"], drift["Period"]) == ("Maximum", hours * 3600)
    assert (drift["Threshold"], drift["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert drift["EvaluationPeriods"] == 1
    assert drift["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize(
    ("metric", "dev_hours", "prod_hours"),
    [("AuditFailures", 24, 12), ("OverdueFailures", 6, 3)],
)
def test_a_failed_tenant_alarms(dev: Synth, prod: Synth, metric, dev_hours, prod_hours) -> None:
    for synth, hours in ((dev, dev_hours), (prod, prod_hours)):
        (alarm,) = [a for a in alarms(synth).values() if a.get("MetricName") == metric]
        assert alarm["Dimensions"] == [{"Name": "service", "Value": "qbxml-relay"}]
        assert (alarm["Statistic"], alarm["Period"]) == ("Sum", hours * 3600)
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_auth_failures_alarm_and_its_threshold_setting(dev: Synth, tmp_path) -> None:
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "QbxmlRelay/dev",
            "MetricName": "AuthFailures",
            "Dimensions": [{"Name": "service", "Value": "qbxml-relay"}],
            "Statistic": "Sum",
            "Period": 300,
            "Threshold": 20,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
        },
    )
    stricter = synthesize("dev", tmp_path, auth_failures_threshold=5)
    (alarm,) = [a for a in alarms(stricter).values() if a.get("MetricName") == "AuthFailures"]
    assert alarm["Threshold"] == 5
