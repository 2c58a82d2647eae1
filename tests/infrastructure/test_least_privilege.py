"""Each function's IAM policy, action by action and resource by resource (security point 7).

The expected grants are what the adapters in lambdas/store/dynamo call for each handler: a
change there that needs another action fails here first, and so does a grant nobody uses.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infrastructure.conftest import PROD_OVERRIDES, Synth, resources, synthesize
from tests.infrastructure.test_stack import (
    HANDLERS,
    actions,
    bucket_id,
    function,
    policy_statements,
    queue_id,
    table_id,
)

TABLES = {
    "tenants": "TenantsTable",
    "sessions": "SessionsTable",
    "state": "StateTable",
    "mappings": "MappingsTable",
    "runs": "RunsTable",
    "webhooks": "WebhooksTable",
    "writeback": "WriteBackTable",
}
# The capture's and the writers' calls on the WriteBack table (plus Query on its open index).
WRITEBACK_WRITER = {"GetItem", "BatchGetItem", "PutItem", "UpdateItem"}
# Function -> table -> the DynamoDB actions it is allowed (without the "dynamodb:" prefix).
# Transactions are authorized per item as PutItem/UpdateItem/DeleteItem.
EXPECTED_TABLES: dict[str, dict[str, set[str]]] = {
    "relay": {
        "tenants": {"GetItem", "PutItem", "UpdateItem"},
        "sessions": {"GetItem", "PutItem", "UpdateItem", "DeleteItem"},
        "state": {"GetItem", "BatchGetItem", "UpdateItem"},
        "mappings": {"BatchGetItem", "UpdateItem"},
        "runs": {"PutItem"},
        "writeback": WRITEBACK_WRITER,
    },
    "forwarder": {
        "tenants": {"GetItem"},
        "state": {"GetItem", "PutItem", "UpdateItem"},
        "mappings": {"GetItem", "BatchGetItem", "UpdateItem"},
    },
    "stale": {"tenants": {"Scan"}},
    "audit": {"tenants": {"Scan"}, "state": {"GetItem", "UpdateItem"}},
    "overdue": {"tenants": {"Scan"}, "state": {"GetItem", "UpdateItem"}},
    # Subscriptions: get, list (Query); deliveries: conditional put, get, updates, recent.
    "webhooks": {"webhooks": {"GetItem", "PutItem", "UpdateItem", "Query"}},
    # The operator routes: status reads, pauses, resets, audit summaries and tokens, key use.
    "ops": {
        "tenants": {"GetItem", "Scan", "UpdateItem"},
        "sessions": {"GetItem", "PutItem"},
        "state": {"GetItem", "BatchGetItem", "UpdateItem", "Scan"},
        "mappings": {"GetItem"},
        "runs": {"Query"},
        "writeback": {"GetItem"},
    },
    # Write-back capture: tenants, the ZOHO token cache and QBO connections, the mappings of
    # ZOHO records, the operations.
    "capture": {
        "tenants": {"GetItem", "Scan"},
        "state": {"GetItem", "UpdateItem"},
        "mappings": {"GetItem", "BatchGetItem"},
        "writeback": WRITEBACK_WRITER,
    },
}
# Scan and DeleteItem, and by whom (nobody else may have them anywhere).
SCANS = {
    "stale": {"tenants"},
    "audit": {"tenants"},
    "overdue": {"tenants"},
    # Tenant listings, and QuickBooks Online connections (state-table items) for /health/qbo.
    "ops": {"tenants", "state"},
    "capture": {"tenants"},
}
DELETES = {"relay": {"sessions"}}


@pytest.fixture(params=["dev", "prod"])
def synth(request) -> Synth:
    return request.getfixturevalue(request.param)


def statements_of(synth: Synth, name: str) -> list[dict[str, Any]]:
    return policy_statements(synth, function(synth, HANDLERS[name])[0])


def arn(logical_id: str, suffix: str = "") -> str:
    ref: Any = {"Fn::GetAtt": [logical_id, "Arn"]}
    return json.dumps({"Fn::Join": ["", [ref, suffix]]} if suffix else ref)


def allowed(statements: list[dict[str, Any]], prefix: str) -> dict[str, set[str]]:
    """Allowed actions of one service (prefix stripped) by resource JSON."""
    out: dict[str, set[str]] = {}
    for s in statements:
        if s["Effect"] != "Allow":
            continue
        found = {a.removeprefix(prefix) for a in actions([s]) if a.startswith(prefix)}
        if found:
            for r in s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]:
                out.setdefault(json.dumps(r), set()).update(found)
    return out


def expected_tables(synth: Synth, name: str, repair: bool) -> dict[str, set[str]]:
    out = {arn(table_id(synth, TABLES[t])): set(a) for t, a in EXPECTED_TABLES[name].items()}
    mappings = table_id(synth, TABLES["mappings"])
    writeback = table_id(synth, TABLES["writeback"])
    if name == "relay":  # counts a tenant's mappings (the base of the mass deletion share)
        out[arn(mappings, "/index/by_tenant")] = {"Query"}
        out[arn(writeback, "/index/open")] = {"Query"}
        # The Desktop writer finds an invoice's customer by the deal's account, and after a
        # 3100 whether a recent operation gave that customer to another account.
        out[arn(mappings, "/index/by_zoho")] = {"Query"}
        out[arn(writeback, "/index/by_status")] = {"Query"}
    if name == "capture":
        out[arn(mappings, "/index/by_zoho")] = {"Query"}
        out[arn(writeback, "/index/open")] = {"Query"}
    if name == "audit":
        out[arn(mappings, "/index/by_tenant")] = {"Query"}
        if repair:  # record_outcomes marks the drifted mappings for sending again
            out[arn(mappings)] = {"UpdateItem"}
    if name == "ops":
        for index in ("by_tenant", "by_status", "by_zoho"):
            out[arn(mappings, f"/index/{index}")] = {"Query"}
        out[arn(writeback, "/index/by_status")] = {"Query"}  # counts and lists of status
        if repair:  # an audit through the status API repairs like the scheduled one
            out[arn(mappings)] = {"GetItem", "UpdateItem"}
    return out


@pytest.mark.parametrize("name", sorted(HANDLERS))
def test_each_function_has_exactly_its_table_actions(synth: Synth, name: str) -> None:
    repair = synth.env == "prod"  # PROD_OVERRIDES turns audit_repair on
    assert PROD_OVERRIDES["audit_repair"] is True
    got = allowed(statements_of(synth, name), "dynamodb:")
    assert got == expected_tables(synth, name, repair), name


def test_scan_and_delete_only_where_an_adapter_calls_them(synth: Synth) -> None:
    for name in HANDLERS:
        got = allowed(statements_of(synth, name), "dynamodb:")
        for action, holders in (("Scan", SCANS), ("DeleteItem", DELETES)):
            want = {arn(table_id(synth, TABLES[t])) for t in holders.get(name, set())}
            assert {r for r, a in got.items() if action in a} == want, (name, action)
        # Nobody batch-writes or uses PartiQL: those are the CLI's (tenant purge) or nobody's.
        every = set().union(*got.values())
        assert not every & {"BatchWriteItem", "DescribeTable"}, name
        assert not any(a.startswith("PartiQL") for a in every), name


def test_the_relay_cannot_touch_the_zoho_items_of_the_state_table(synth: Synth) -> None:
    statements = statements_of(synth, "relay")
    state = arn(table_id(synth, "StateTable"))
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert json.dumps(deny["Resource"]) == state
    assert deny["Condition"] == {"ForAnyValue:StringLike": {"dynamodb:LeadingKeys": ["@zoho-*"]}}
    # Every action that could reach a @zoho- item is denied, whatever else is granted later;
    # Scan carries no leading key, so the relay must not (and does not) have it anywhere.
    denied = actions([deny])
    assert {f"dynamodb:{a}" for a in EXPECTED_TABLES["relay"]["state"]} <= denied
    for a in ("PutItem", "DeleteItem", "Query", "BatchWriteItem", "ConditionCheckItem"):
        assert f"dynamodb:{a}" in denied
    assert "dynamodb:Scan" not in set().union(*allowed(statements, "dynamodb:").values())
    # And the Allow itself names only the relay's own keys (sync state, re-read requests).
    (allow,) = [
        s for s in statements if s["Effect"] == "Allow" and json.dumps(s["Resource"]) == state
    ]
    assert allow["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["@sync#*", "@refetch#*"]}
    }


def test_only_the_relay_has_a_deny(synth: Synth) -> None:
    for name in HANDLERS:
        denies = [s for s in statements_of(synth, name) if s["Effect"] == "Deny"]
        assert len(denies) == (1 if name == "relay" else 0), name


def test_queue_and_bucket_actions_per_function(synth: Synth) -> None:
    records, dlq = queue_id(synth, "Record"), queue_id(synth, "DeadLetter")
    retries = webhook_retries_id(synth)
    objects = arn(bucket_id(synth), "/records/*")
    consume = {
        "ReceiveMessage",
        "DeleteMessage",
        "ChangeMessageVisibility",
        "GetQueueAttributes",
        "GetQueueUrl",
    }
    expected = {
        "relay": ({arn(records): {"SendMessage"}}, {objects: {"PutObject"}}),
        # The event source mapping consumes with the function's role.
        "forwarder": (
            {arn(records): consume, arn(dlq): {"SendMessage"}},
            {objects: {"GetObject"}},
        ),
        "stale": ({}, {}),
        "audit": ({}, {}),
        "overdue": ({}, {}),
        # An invalid operation's message for ZOHO goes on the record queue.
        "capture": ({arn(records): {"SendMessage"}}, {}),
        # The deliverer's retries: sent delayed to itself, consumed by its event source.
        "webhooks": ({arn(retries): consume | {"SendMessage"}}, {}),
        # A re-drive holds, releases and removes dead letters, and sends them on.
        "ops": (
            {
                arn(dlq): {"ReceiveMessage", "ChangeMessageVisibility", "DeleteMessage"},
                arn(records): {"SendMessage"},
            },
            {},
        ),
    }
    for name, (queues, bucket) in expected.items():
        statements = statements_of(synth, name)
        assert allowed(statements, "sqs:") == queues, name
        assert allowed(statements, "s3:") == bucket, name


def webhook_retries_id(synth: Synth) -> str:
    """The logical id of the deliverer's retry queue (named by its environment variable)."""
    env = function(synth, HANDLERS["webhooks"])[1]["Properties"]["Environment"]["Variables"]
    return env["QBRELAY_WEBHOOK_RETRY_QUEUE_URL"]["Ref"]


def bus_id(synth: Synth) -> str:
    return synth.raw["Outputs"]["EventBusName"]["Value"]["Ref"]


def test_publishers_may_put_events_on_the_bus_only(synth: Synth) -> None:
    publishers = {"relay", "forwarder", "stale", "audit", "ops"}
    for name in HANDLERS:
        got = allowed(statements_of(synth, name), "events:")
        want = {arn(bus_id(synth)): {"PutEvents"}} if name in publishers else {}
        assert got == want, name


def test_the_deliverer_reads_only_the_webhook_secrets(synth: Synth) -> None:
    statements = statements_of(synth, "webhooks")
    (grant,) = [s for s in statements if "secretsmanager:GetSecretValue" in actions([s])]
    assert actions([grant]) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    pattern = grant["Resource"]["Fn::Join"][1][-1]
    assert pattern == f"secret:qbxml-relay/{synth.env}/webhooks/*"
    assert not [a for a in actions(statements) if a.startswith(("s3:", "kms:"))]


def test_audit_without_repair_cannot_write_mappings(tmp_path) -> None:
    synth = synthesize("prod", tmp_path, **{**PROD_OVERRIDES, "audit_repair": False})
    got = allowed(statements_of(synth, "audit"), "dynamodb:")
    assert got == expected_tables(synth, "audit", repair=False)


# --- reserved concurrency and WAF ------------------------------------------------------------


def relay_props(synth: Synth) -> dict[str, Any]:
    return function(synth, HANDLERS["relay"])[1]["Properties"]


def test_relay_reserved_concurrency_on_in_prod_only(dev: Synth, prod: Synth) -> None:
    from infra.settings import RELAY_RESERVED_CONCURRENCY_PROD

    assert "ReservedConcurrentExecutions" not in relay_props(dev)
    assert relay_props(prod)["ReservedConcurrentExecutions"] == RELAY_RESERVED_CONCURRENCY_PROD
    # Only the relay: the other functions share the account's unreserved pool.
    for name in ("forwarder", "stale", "audit", "overdue"):
        for s in (dev, prod):
            props = function(s, HANDLERS[name])[1]["Properties"]
            assert "ReservedConcurrentExecutions" not in props, name


def test_reserved_concurrency_follows_the_setting(tmp_path) -> None:
    synth = synthesize("dev", tmp_path, relay_reserved_concurrency=7)
    assert relay_props(synth)["ReservedConcurrentExecutions"] == 7


def test_no_web_acl_without_the_setting(dev: Synth) -> None:
    assert not resources(dev, "AWS::WAFv2::WebACL")
    assert not resources(dev, "AWS::WAFv2::WebACLAssociation")


def web_acl_of(synth: Synth, limit: int) -> None:
    ((acl_id, acl),) = resources(synth, "AWS::WAFv2::WebACL").items()
    props = acl["Properties"]
    assert props["Scope"] == "REGIONAL"
    assert props["DefaultAction"] == {"Allow": {}}
    (rule,) = props["Rules"]
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"] == {
        "RateBasedStatement": {"AggregateKeyType": "IP", "EvaluationWindowSec": 300, "Limit": limit}
    }
    assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    (association,) = resources(synth, "AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    (stage_id,) = resources(synth, "AWS::ApiGateway::Stage")
    target = json.dumps(association["Properties"]["ResourceArn"])
    assert f'"/stages/", {{"Ref": "{stage_id}"}}' in target and ":apigateway:" in target


def test_web_acl_on_in_prod(prod: Synth) -> None:
    from infra.settings import WAF_RATE_LIMIT_PROD

    web_acl_of(prod, WAF_RATE_LIMIT_PROD)


def test_web_acl_follows_the_setting(tmp_path) -> None:
    web_acl_of(synthesize("dev", tmp_path, waf_rate_limit=300), 300)


def test_the_relay_may_invoke_the_capture_and_nothing_else(synth: Synth) -> None:
    capture_id = function(synth, HANDLERS["capture"])[0]
    got = allowed(statements_of(synth, "relay"), "lambda:")
    assert set().union(*got.values()) == {"InvokeFunction"}
    # The capture function (its live alias under SnapStart), and nothing else.
    assert all(capture_id in r or "Live" in r for r in got), got
    variables = function(synth, HANDLERS["relay"])[1]["Properties"]["Environment"]["Variables"]
    assert capture_id in json.dumps(variables["QBRELAY_CAPTURE_FUNCTION"]) or "Live" in json.dumps(
        variables["QBRELAY_CAPTURE_FUNCTION"]
    )
    for name in set(HANDLERS) - {"relay"}:
        assert not allowed(statements_of(synth, name), "lambda:"), name
