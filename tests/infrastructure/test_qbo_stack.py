"""QuickBooks Online in the stack: four functions, the FIFO change queue, the catch-up schedule,
and each function's grants action by action (the pattern of test_least_privilege.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infrastructure.conftest import Synth, invoked_arn, resources
from tests.infrastructure.test_least_privilege import (
    TABLES,
    WRITEBACK_WRITER,
    allowed,
    arn,
    bus_id,
)
from tests.infrastructure.test_stack import actions, bucket_id, policy_statements, table_id

PREFIXES = {
    "oauth": "FunctionsQboOAuthFunction",
    "webhook": "FunctionsQboWebhookFunction",
    "sync": "FunctionsQboSyncFunction",
    "cdc": "FunctionsQboCdcFunction",
}
EXPECTED_TABLES: dict[str, dict[str, set[str]]] = {
    "oauth": {
        "tenants": {"GetItem", "UpdateItem"},
        "sessions": {"PutItem", "DeleteItem"},
        "state": {"GetItem", "PutItem", "UpdateItem", "DeleteItem"},
    },
    "webhook": {"sessions": {"PutItem", "BatchWriteItem"}},
    "sync": {
        "tenants": {"GetItem"},
        "state": {"GetItem", "BatchGetItem", "UpdateItem"},
        "mappings": {"BatchGetItem", "UpdateItem"},
    },
    "cdc": {
        "tenants": {"GetItem"},
        "state": {"GetItem", "BatchGetItem", "UpdateItem", "Scan"},
        "mappings": {"BatchGetItem", "UpdateItem"},
        "writeback": WRITEBACK_WRITER,  # the Online writer runs after the catch-up
    },
}


@pytest.fixture(params=["dev", "prod"])
def synth(request) -> Synth:
    return request.getfixturevalue(request.param)


def qbo_function(synth: Synth, name: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in resources(synth, "AWS::Lambda::Function").items()
        if k.startswith(PREFIXES[name])
    ]
    return found


def statements(synth: Synth, name: str) -> list[dict[str, Any]]:
    return policy_statements(synth, qbo_function(synth, name)[0])


def change_queue_id(synth: Synth) -> str:
    env = qbo_function(synth, "sync")[1]["Properties"]["Environment"]["Variables"]
    return env["QBRELAY_QBO_CHANGE_QUEUE_URL"]["Ref"]


@pytest.mark.parametrize("name", sorted(PREFIXES))
def test_each_qbo_function_has_exactly_its_table_actions(synth: Synth, name: str) -> None:
    want = {arn(table_id(synth, TABLES[t])): a for t, a in EXPECTED_TABLES[name].items()}
    if name == "cdc":
        want[arn(table_id(synth, TABLES["mappings"]), "/index/by_tenant")] = {"Query"}
        want[arn(table_id(synth, TABLES["mappings"]), "/index/by_zoho")] = {"Query"}
        want[arn(table_id(synth, TABLES["writeback"]), "/index/open")] = {"Query"}
        want[arn(table_id(synth, TABLES["writeback"]), "/index/by_status")] = {"Query"}
    assert allowed(statements(synth, name), "dynamodb:") == want


def test_oauth_items_are_limited_to_their_keys(synth: Synth) -> None:
    found = {
        json.dumps(s["Resource"]): s.get("Condition")
        for s in statements(synth, "oauth")
        if any(a.startswith("dynamodb:") for a in actions([s]))
    }
    keys = "dynamodb:LeadingKeys"
    assert found[arn(table_id(synth, "SessionsTable"))] == {
        "ForAllValues:StringLike": {keys: ["@qbo-state#*"]}
    }
    assert found[arn(table_id(synth, "StateTable"))] == {
        "ForAllValues:StringLike": {keys: ["@qbo-conn#*", "@qbo-realm#*"]}
    }


def test_queues_bucket_and_bus_per_function(synth: Synth) -> None:
    changes = arn(change_queue_id(synth))
    records = arn(next(k for k in resources(synth, "AWS::SQS::Queue") if "Records" in k))
    consume = {
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "GetQueueUrl",
    }
    objects = arn(bucket_id(synth), "/records/*")
    bus = {arn(bus_id(synth)): {"PutEvents"}}
    expected = {
        "oauth": ({}, {}, {}),
        "webhook": ({changes: {"SendMessage"}}, {}, {}),
        "sync": ({changes: consume, records: {"SendMessage"}}, {objects: {"PutObject"}}, bus),
        "cdc": ({records: {"SendMessage"}}, {objects: {"PutObject"}}, bus),
    }
    for name, (queues, bucket, events) in expected.items():
        got = statements(synth, name)
        assert allowed(got, "sqs:") == queues, name
        assert allowed(got, "s3:") == bucket, name
        assert allowed(got, "events:") == events, name


def test_secrets_the_app_secret_read_only_tokens_where_written(synth: Synth) -> None:
    prefix = f"secret:qbxml-relay/{synth.env}/"
    read = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    write = read | {
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:RestoreSecret",
        "secretsmanager:DeleteSecret",
    }
    for name in PREFIXES:
        got = {
            s["Resource"]["Fn::Join"][1][-1]: actions([s])
            for s in statements(synth, name)
            if any(a.startswith("secretsmanager:") for a in actions([s]))
        }
        want = {prefix + "qbo-app-*": read}
        if name != "webhook":
            want[prefix + "qbo/*"] = write
        assert got == want, name


def test_change_queue_is_fifo_with_a_fifo_dead_letter_queue(synth: Synth) -> None:
    queues = resources(synth, "AWS::SQS::Queue")
    props = queues[change_queue_id(synth)]["Properties"]
    assert props["FifoQueue"] is True
    dlq = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    assert queues[dlq]["Properties"]["FifoQueue"] is True
    assert props["VisibilityTimeout"] >= 6 * qbo_function(synth, "sync")[1]["Properties"]["Timeout"]
    (mapping,) = [
        m["Properties"]
        for m in resources(synth, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [change_queue_id(synth), "Arn"]}
    ]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_catch_up_runs_every_fifteen_minutes(synth: Synth) -> None:
    cdc = qbo_function(synth, "cdc")[0]
    rules = [
        r["Properties"]
        for r in resources(synth, "AWS::Events::Rule").values()
        if any(t["Arn"] == invoked_arn(synth, cdc) for t in r["Properties"].get("Targets", []))
    ]
    assert [r["ScheduleExpression"] for r in rules] == ["rate(15 minutes)"]


def test_qbo_settings_reach_the_functions(synth: Synth) -> None:
    for name in PREFIXES:
        env = qbo_function(synth, name)[1]["Properties"]["Environment"]["Variables"]
        assert env["QBO_ENVIRONMENT"] == "sandbox"
        assert "QBO_CLIENT_SECRET" not in env and "QBO_WEBHOOK_VERIFIER_TOKEN" not in env
