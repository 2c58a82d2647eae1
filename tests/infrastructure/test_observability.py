"""The dashboard shows the brief's metrics; the alarms reach the SNS topic and its e-mail."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match

from tests.infrastructure.conftest import Synth, resources

RELAY_METRICS = ("SoapCalls", "SoapFaults", "SessionsStarted", "SessionsCompleted")
PER_ENTITY = ("RecordsReceived", "RecordsQueued", "RecordsUnchanged")
FORWARDER_METRICS = ("ZohoUpsertsSucceeded", "ZohoUpsertsFailed", "ZohoCalls")


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
    for name in RELAY_METRICS + FORWARDER_METRICS + ("StaleTenants",):
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
    assert len(lambda_errors[0]["properties"]["metrics"]) == 3
    assert any(w["type"] == "alarm" for w in widgets)


def test_every_alarm_notifies_the_topic(dev: Synth) -> None:
    (topic,) = resources(dev, "AWS::SNS::Topic")
    found = alarms(dev)
    assert len(found) == 7  # DLQ, forwarder error rate, 3 x Lambda errors, API 5xx, stale sync
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
    (rate,) = [a for a in alarms(dev).values() if "Metrics" in a]
    expression = next(m["Expression"] for m in rate["Metrics"] if "Expression" in m)
    assert "100 * FILL(failed, 0)" in expression
    named = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in rate["Metrics"]
        if "MetricStat" in m
    }
    assert named == {"failed": "ZohoUpsertsFailed", "succeeded": "ZohoUpsertsSucceeded"}
    assert rate["Threshold"] == 5 and rate["ComparisonOperator"] == "GreaterThanThreshold"


def test_lambda_and_api_error_alarms(dev: Synth) -> None:
    functions = set(resources(dev, "AWS::Lambda::Function"))
    errors = [a for a in alarms(dev).values() if a.get("MetricName") == "Errors"]
    assert {a["Dimensions"][0]["Value"]["Ref"] for a in errors} == functions
    assert all(a["Threshold"] == 1 for a in errors)
    dev.template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"Namespace": "AWS/ApiGateway", "MetricName": "5XXError", "Threshold": 5},
    )
