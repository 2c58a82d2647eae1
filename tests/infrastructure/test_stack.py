"""CDK assertions on the synthesized stacks (dev as cloned, prod with every option set)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match

from tests.infrastructure.conftest import Synth, invoked_arn, invoked_name, resources
from tests.infrastructure.test_routes import README, api_routes, normal_path, readme_table

BRIEF_ENVIRONMENT = {
    "QBRELAY_ENV",
    "QBRELAY_TENANTS_TABLE",
    "QBRELAY_SESSIONS_TABLE",
    "QBRELAY_STATE_TABLE",
    "QBRELAY_MAPPINGS_TABLE",
    "QBRELAY_RUNS_TABLE",
    "QBRELAY_WEBHOOKS_TABLE",
    "QBRELAY_WRITEBACK_TABLE",
    "QBRELAY_EVENT_BUS",
    "QBRELAY_RECORD_QUEUE_URL",
    "QBRELAY_DLQ_URL",
    "QBRELAY_SECRETS_PREFIX",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
}
HANDLERS = {
    "relay": "lambdas.handlers.qbwc_api.handler",
    "forwarder": "lambdas.handlers.zoho_forwarder.handler",
    "stale": "lambdas.handlers.stale_sync.handler",
    "audit": "lambdas.handlers.audit.handler",
    "overdue": "lambdas.handlers.overdue.handler",
    "webhooks": "lambdas.handlers.event_webhooks.handler",
    "ops": "lambdas.handlers.ops_api.handler",
    "capture": "lambdas.handlers.writeback_capture.handler",
}
# Per-function variables on top of BRIEF_ENVIRONMENT (names are a contract: add, never rename).
FUNCTION_ENVIRONMENT = {
    "relay": {"QBRELAY_PAYLOAD_BUCKET", "QBRELAY_CAPTURE_FUNCTION"},
    "forwarder": {"QBRELAY_PAYLOAD_BUCKET", "QBRELAY_MAX_RECEIVE_COUNT"},
    "stale": {"QBRELAY_STALE_SYNC_HOURS", "QBRELAY_STALE_CHECK_MINUTES"},
    "audit": {"QBRELAY_AUDIT_REPAIR"},
    "overdue": set(),
    "webhooks": {"QBRELAY_WEBHOOK_RETRY_QUEUE_URL"},
    "ops": set(),
    "capture": set(),
}
WRITES = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
}
OUTPUTS = {
    "ApiUrl",
    "QbwcUrl",
    "SupportUrl",
    "TenantsTable",
    "SessionsTable",
    "StateTable",
    "MappingsTable",
    "RunsTable",
    "WebhooksTable",
    "WriteBackTable",
    "EventBusName",
    "RecordQueueUrl",
    "DeadLetterQueueUrl",
    "SecretsPrefix",
    "PayloadBucket",
}


@pytest.fixture(params=["dev", "prod"])
def synth(request) -> Synth:
    return request.getfixturevalue(request.param)


def function(synth: Synth, handler: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in resources(synth, "AWS::Lambda::Function").items()
        if v["Properties"]["Handler"] == handler
    ]
    return found


def policy_statements(synth: Synth, function_id: str) -> list[dict[str, Any]]:
    """Every statement of the policies attached to the function's role."""
    role = synth.raw["Resources"][function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in resources(synth, "AWS::IAM::Policy").values()
        if {"Ref": role} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statements: list[dict[str, Any]]) -> set[str]:
    out: set[str] = set()
    for s in statements:
        out.update([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    return out


def table_id(synth: Synth, output: str) -> str:
    return synth.raw["Outputs"][output]["Value"]["Ref"]


def bucket_id(synth: Synth) -> str:
    return synth.raw["Outputs"]["PayloadBucket"]["Value"]["Ref"]


def table_access(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """DynamoDB actions by resource (JSON of the resource), across ``statements``."""
    out: dict[str, set[str]] = {}
    for s in statements:
        ddb = {a for a in actions([s]) if a.startswith("dynamodb:")}
        if ddb:
            for resource in s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]:
                out.setdefault(json.dumps(resource), set()).update(ddb)
    return out


def table_arn(synth: Synth, output: str) -> str:
    return json.dumps({"Fn::GetAtt": [table_id(synth, output), "Arn"]})


def queue_id(synth: Synth, output: str) -> str:
    """The logical id of the queue whose URL the stack output ``<output>QueueUrl`` is."""
    return synth.raw["Outputs"][f"{output}QueueUrl"]["Value"]["Ref"]


# --- tables -------------------------------------------------------------------------------


def test_seven_on_demand_tables_with_recovery_and_encryption(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::DynamoDB::Table", 7)
    synth.template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "KeySchema": Match.array_with([{"AttributeName": "pk", "KeyType": "HASH"}]),
        },
    )


def test_table_keys_ttl_and_indexes(synth: Synth) -> None:
    tables = synth.raw["Resources"]
    sessions = tables[table_id(synth, "SessionsTable")]["Properties"]
    assert sessions["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    runs = tables[table_id(synth, "RunsTable")]["Properties"]
    assert runs["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    webhooks = tables[table_id(synth, "WebhooksTable")]["Properties"]
    assert webhooks["KeySchema"] == runs["KeySchema"]
    assert webhooks["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    mappings = tables[table_id(synth, "MappingsTable")]["Properties"]
    indexes = {i["IndexName"]: i["KeySchema"] for i in mappings["GlobalSecondaryIndexes"]}
    assert indexes == {
        "by_zoho": [{"AttributeName": "zoho_key", "KeyType": "HASH"}],
        "by_status": [
            {"AttributeName": "tenant_status", "KeyType": "HASH"},
            {"AttributeName": "pk", "KeyType": "RANGE"},
        ],
        # The audit's scan of one tenant. CloudFormation adds one GSI per update: the template
        # must never gain two at once over what is deployed (by_zoho and by_status).
        "by_tenant": [
            {"AttributeName": "tenant", "KeyType": "HASH"},
            {"AttributeName": "pk", "KeyType": "RANGE"},
        ],
    }
    projections = {i["Projection"]["ProjectionType"] for i in mappings["GlobalSecondaryIndexes"]}
    assert projections == {"ALL"}
    types = {a["AttributeName"]: a["AttributeType"] for a in mappings["AttributeDefinitions"]}
    assert types == {"pk": "S", "zoho_key": "S", "tenant_status": "S", "tenant": "S"}
    # Write-back (lambdas/store/dynamo/writeback.py, tests/aws_tables.py): final operations
    # expire; the open index is sparse and keys-only; the status index serves views.
    writeback = tables[table_id(synth, "WriteBackTable")]["Properties"]
    assert writeback["KeySchema"] == runs["KeySchema"]
    assert writeback["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    indexes = {
        i["IndexName"]: (i["KeySchema"], i["Projection"]["ProjectionType"])
        for i in writeback["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        "open": (
            [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "open_seq", "KeyType": "RANGE"},
            ],
            "KEYS_ONLY",
        ),
        "by_status": (
            [
                {"AttributeName": "status_key", "KeyType": "HASH"},
                {"AttributeName": "seq_key", "KeyType": "RANGE"},
            ],
            "ALL",
        ),
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in writeback["AttributeDefinitions"]}
    assert types == dict.fromkeys(("pk", "sk", "open_seq", "status_key", "seq_key"), "S")


def test_production_data_is_retained_and_dev_data_is_not(dev: Synth, prod: Synth) -> None:
    for kind in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::S3::Bucket"):
        assert {r["DeletionPolicy"] for r in resources(prod, kind).values()} == {"Retain"}
        assert {r["DeletionPolicy"] for r in resources(dev, kind).values()} == {"Delete"}
    for table in resources(prod, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True


# --- functions ------------------------------------------------------------------------------


def test_functions_runtime_architecture_tracing_and_handlers(synth: Synth) -> None:
    # Six, the operator API, and QuickBooks Online's four (test_qbo_stack.py).
    synth.template.resource_count_is("AWS::Lambda::Function", 12)
    synth.template.all_resources_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "TracingConfig": {"Mode": "Active"},
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )
    for handler in HANDLERS.values():
        function(synth, handler)


def test_environment_is_exactly_the_contract(synth: Synth) -> None:
    for name, handler in HANDLERS.items():
        env = function(synth, handler)[1]["Properties"]["Environment"]["Variables"]
        expected = BRIEF_ENVIRONMENT | FUNCTION_ENVIRONMENT[name]
        if synth.env == "prod":
            expected.add("QBRELAY_PUBLIC_URL")
        assert set(env) == expected, name
        assert env["QBRELAY_ENV"] == synth.env
        assert env["POWERTOOLS_SERVICE_NAME"] == "qbxml-relay"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == f"QbxmlRelay/{synth.env}"
        assert env["QBRELAY_SECRETS_PREFIX"] == f"qbxml-relay/{synth.env}/"
        assert env["QBRELAY_TENANTS_TABLE"] == {"Ref": table_id(synth, "TenantsTable")}
    if synth.env == "prod":
        relay_env = function(synth, HANDLERS["relay"])[1]["Properties"]["Environment"]
        assert relay_env["Variables"]["QBRELAY_PUBLIC_URL"] == "https://qb.example.com/qbwc"


def test_relay_answers_within_api_gateway_timeout(synth: Synth) -> None:
    relay = function(synth, HANDLERS["relay"])[1]["Properties"]
    assert relay["Timeout"] <= 29


def test_least_privilege_per_function(synth: Synth) -> None:
    by_name = {n: policy_statements(synth, function(synth, h)[0]) for n, h in HANDLERS.items()}
    relay, forwarder, stale = by_name["relay"], by_name["forwarder"], by_name["stale"]
    for statements in by_name.values():
        assert not any(a.endswith(":*") or a == "*" for a in actions(statements))
        # The one "*" resource (acknowledged for cdk-nag) is X-Ray's, which has no other.
        anywhere = [s for s in statements if s["Resource"] == "*"]
        assert actions(anywhere) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    # The ZOHO callers read secrets, and never write them; the relay and stale check never.
    assert not any(a.startswith("secretsmanager:") for a in actions(relay) | actions(stale))
    for name in ("forwarder", "audit", "overdue", "ops"):
        assert {a for a in actions(by_name[name]) if a.startswith("secretsmanager:")} == {
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
        }, name
    # The stale check only reads the tenants table.
    assert table_access(stale).keys() == {table_arn(synth, "TenantsTable")}
    assert not set().union(*table_access(stale).values()) & WRITES
    # The relay sends to the record queue; the forwarder consumes it and parks refused records
    # on the dead-letter queue, the only queue it sends to; the scheduled jobs use no queue.
    assert "sqs:SendMessage" in actions(relay)
    assert {"sqs:ReceiveMessage", "sqs:DeleteMessage"} <= actions(forwarder)
    sends = [s for s in forwarder if "sqs:SendMessage" in actions([s])]
    assert [json.dumps(s["Resource"]) for s in sends] == [
        json.dumps({"Fn::GetAtt": [queue_id(synth, "DeadLetter"), "Arn"]})
    ]
    for name in ("stale", "audit", "overdue"):
        assert not any(a.startswith(("sqs:", "s3:")) for a in actions(by_name[name])), name


@pytest.mark.parametrize("name", ["forwarder", "audit", "overdue", "ops"])
def test_secrets_grant_is_the_environment_prefix(synth: Synth, name: str) -> None:
    statements = policy_statements(synth, function(synth, HANDLERS[name])[0])
    (grant,) = [s for s in statements if "secretsmanager:GetSecretValue" in actions([s])]
    assert grant["Resource"] == {
        "Fn::Join": [
            ":",
            [
                "arn",
                {"Ref": "AWS::Partition"},
                "secretsmanager",
                {"Ref": "AWS::Region"},
                {"Ref": "AWS::AccountId"},
                f"secret:qbxml-relay/{synth.env}/*",
            ],
        ]
    }


# --- queues and schedule ----------------------------------------------------------------------


def test_record_queue_redrives_and_outlasts_the_forwarder(synth: Synth) -> None:
    forwarder = function(synth, HANDLERS["forwarder"])[1]["Properties"]
    queue = synth.raw["Resources"][synth.raw["Outputs"]["RecordQueueUrl"]["Value"]["Ref"]]
    props = queue["Properties"]
    assert props["VisibilityTimeout"] >= 6 * forwarder["Timeout"]
    assert props["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": [synth.raw["Outputs"]["DeadLetterQueueUrl"]["Value"]["Ref"], "Arn"]
    }
    assert props["RedrivePolicy"]["maxReceiveCount"] == 8
    synth.template.all_resources_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})


def test_forwarder_consumes_with_partial_batch_failures(synth: Synth) -> None:
    forwarder_id = function(synth, HANDLERS["forwarder"])[0]
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": invoked_name(synth, forwarder_id),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 5,
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )


def test_the_bus_and_its_rule_reach_the_deliverer(synth: Synth) -> None:
    from lambdas.model.events import EVENT_TYPES

    bus = synth.raw["Outputs"]["EventBusName"]["Value"]["Ref"]
    assert synth.raw["Resources"][bus]["Properties"]["Name"] == f"qbxml-relay-{synth.env}"
    webhooks_id = function(synth, HANDLERS["webhooks"])[0]
    (rule,) = [
        r["Properties"]
        for r in resources(synth, "AWS::Events::Rule").values()
        if r["Properties"].get("EventBusName") == {"Ref": bus}
    ]
    assert rule["EventPattern"] == {"source": ["qbxml-relay"], "detail-type": list(EVENT_TYPES)}
    (target,) = rule["Targets"]
    assert target["Arn"] == invoked_arn(synth, webhooks_id)
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 4, "MaximumEventAgeInSeconds": 7200}
    dlq = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    env = function(synth, HANDLERS["webhooks"])[1]["Properties"]["Environment"]["Variables"]
    retries = synth.raw["Resources"][env["QBRELAY_WEBHOOK_RETRY_QUEUE_URL"]["Ref"]]["Properties"]
    # The rule's dead letters and the retries the deliverer keeps failing go to one queue.
    assert retries["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq, "Arn"]}
    assert retries["VisibilityTimeout"] >= 6 * 120
    synth.template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionName": invoked_name(synth, webhooks_id),
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    # Every function knows the bus by name.
    for handler in HANDLERS.values():
        variables = function(synth, handler)[1]["Properties"]["Environment"]["Variables"]
        assert variables["QBRELAY_EVENT_BUS"] == {"Ref": bus}


def test_stale_check_runs_every_fifteen_minutes(synth: Synth) -> None:
    stale_id = function(synth, HANDLERS["stale"])[0]
    synth.template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(15 minutes)",
            "Targets": [Match.object_like({"Arn": invoked_arn(synth, stale_id)})],
        },
    )


# Dev as cloned (the defaults), prod with conftest's PROD_OVERRIDES for the scheduled jobs.
SCHEDULES = {
    "dev": {"audit": "rate(1 day)", "overdue": "rate(6 hours)", "repair": "false", "timeout": 900},
    "prod": {
        "audit": "rate(12 hours)",
        "overdue": "rate(3 hours)",
        "repair": "true",
        "timeout": 600,
    },
}


def test_audit_and_overdue_run_on_their_schedules(synth: Synth) -> None:
    expected = SCHEDULES[synth.env]
    for name in ("audit", "overdue"):
        function_id = function(synth, HANDLERS[name])[0]
        synth.template.has_resource_properties(
            "AWS::Events::Rule",
            {
                "ScheduleExpression": expected[name],
                "Targets": [Match.object_like({"Arn": invoked_arn(synth, function_id)})],
            },
        )


def test_audit_settings_reach_the_function(synth: Synth) -> None:
    expected = SCHEDULES[synth.env]
    audit_id, audit = function(synth, HANDLERS["audit"])
    props = audit["Properties"]
    assert props["Environment"]["Variables"]["QBRELAY_AUDIT_REPAIR"] == expected["repair"]
    assert props["Timeout"] == expected["timeout"]
    stale = function(synth, HANDLERS["stale"])[1]["Properties"]
    assert props["MemorySize"] == stale["MemorySize"] == 256  # check_memory_mb
    # A failed audit waits for the next schedule: no asynchronous retry spends credits again.
    synth.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": audit_id}, "MaximumRetryAttempts": 0},
    )
    overdue = function(synth, HANDLERS["overdue"])[1]["Properties"]
    assert overdue["MemorySize"] == 256 and overdue["Timeout"] <= 900


# --- claim-check bucket ------------------------------------------------------------------------


def test_payload_bucket_is_private_encrypted_and_expires_with_the_queue(synth: Synth) -> None:
    synth.template.resource_count_is("AWS::S3::Bucket", 1)
    bucket = synth.raw["Resources"][bucket_id(synth)]["Properties"]
    assert bucket["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and "Prefix" not in rule and "Filter" not in rule
    records = synth.raw["Resources"][queue_id(synth, "Record")]["Properties"]
    assert rule["ExpirationInDays"] * 86400 == records["MessageRetentionPeriod"] == 14 * 86400


def test_payload_bucket_refuses_plain_http(synth: Synth) -> None:
    (policy,) = resources(synth, "AWS::S3::BucketPolicy").values()
    assert policy["Properties"]["Bucket"] == {"Ref": bucket_id(synth)}
    arn = {"Fn::GetAtt": [bucket_id(synth), "Arn"]}
    objects = {"Fn::Join": ["", [arn, "/*"]]}
    (deny,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert deny["Effect"] == "Deny" and deny["Principal"] == {"AWS": "*"}
    assert deny["Action"] == "s3:*" and deny["Resource"] == [arn, objects]


def test_relay_puts_and_forwarder_gets_claim_checks_only(synth: Synth) -> None:
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id(synth), "Arn"]}, "/records/*"]]}
    for name, action in (("relay", "s3:PutObject"), ("forwarder", "s3:GetObject")):
        statements = policy_statements(synth, function(synth, HANDLERS[name])[0])
        s3 = [s for s in statements if any(a.startswith("s3:") for a in actions([s]))]
        assert [(actions(s3), s["Resource"]) for s in s3] == [({action}, objects)], name
    for handler in HANDLERS.values():  # no function lists or deletes claim checks
        statements = policy_statements(synth, function(synth, handler)[0])
        assert not {"s3:ListBucket", "s3:DeleteObject"} & actions(statements)


def test_payload_bucket_and_receive_count_reach_their_functions(synth: Synth) -> None:
    bucket = {"Ref": bucket_id(synth)}
    for name in ("relay", "forwarder"):
        env = function(synth, HANDLERS[name])[1]["Properties"]["Environment"]["Variables"]
        assert env["QBRELAY_PAYLOAD_BUCKET"] == bucket
    assert synth.raw["Outputs"]["PayloadBucket"]["Value"] == bucket
    forwarder = function(synth, HANDLERS["forwarder"])[1]["Properties"]["Environment"]
    records = synth.raw["Resources"][queue_id(synth, "Record")]["Properties"]
    # What SQS dead-letters after is what the forwarder parks one delivery before.
    assert forwarder["Variables"]["QBRELAY_MAX_RECEIVE_COUNT"] == str(
        records["RedrivePolicy"]["maxReceiveCount"]
    )


# --- API ----------------------------------------------------------------------------------


# The function each router ``function`` name is deployed as (logical id prefix).
ROUTE_FUNCTIONS = {
    "relay": "FunctionsRelayFunction",
    "qbo-oauth": "FunctionsQboOAuthFunction",
    "qbo-webhook": "FunctionsQboWebhookFunction",
    "ops": "FunctionsOpsFunction",
}


def test_routes_go_to_the_function_the_router_names(synth: Synth) -> None:
    from lambdas.http.routes import app_router

    named = {(m, normal_path(r.path)): r.function for r in app_router().routes for m in r.methods}
    routes = set()
    for path, methods in api_routes(synth).items():
        for method, uri in methods.items():
            key = (method, normal_path(path))
            # Under snap_start (prod) the route invokes the function's ``live`` alias.
            target = ROUTE_FUNCTIONS[named[key]]
            if synth.env == "prod":
                target = target.removesuffix("Function") + "Live"
            assert f'"{target}' in uri, f"{method} {path}"
            routes.add(key)
    # Exactly the documented routes: none missing (test_routes.py) and no undocumented one.
    assert routes == readme_table(README.read_text(encoding="utf-8"))


def test_stage_throttles_and_logs(synth: Synth) -> None:
    synth.template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "StageName": synth.env,
            "TracingEnabled": True,
            "AccessLogSetting": {
                "DestinationArn": Match.any_value(),
                "Format": Match.string_like_regexp(r"\$context\.requestId"),
            },
            "MethodSettings": [
                Match.object_like(
                    {
                        "ThrottlingRateLimit": 50 if synth.env == "prod" else 20,
                        "ThrottlingBurstLimit": 100 if synth.env == "prod" else 40,
                        "LoggingLevel": "ERROR",
                        "MetricsEnabled": True,
                    }
                )
            ],
        },
    )
    fmt = resources(synth, "AWS::ApiGateway::Stage").popitem()[1]["Properties"]
    json.loads(fmt["AccessLogSetting"]["Format"].replace("$context.error.messageString", '"x"'))


def test_custom_domain_only_when_configured(dev: Synth, prod: Synth) -> None:
    dev.template.resource_count_is("AWS::ApiGateway::DomainName", 0)
    prod.template.has_resource_properties(
        "AWS::ApiGateway::DomainName",
        {"DomainName": "qb.example.com", "SecurityPolicy": "TLS_1_2"},
    )
    prod.template.resource_count_is("AWS::ApiGateway::BasePathMapping", 1)
    prod.template.has_resource_properties(
        "AWS::Route53::RecordSet", {"Name": "qb.example.com.", "Type": "A"}
    )


# --- outputs ---------------------------------------------------------------------------------


def test_outputs_are_exactly_the_contract(synth: Synth) -> None:
    outputs = synth.raw["Outputs"]
    assert set(outputs) == OUTPUTS
    assert outputs["SecretsPrefix"]["Value"] == f"qbxml-relay/{synth.env}/"


def test_urls(dev: Synth, prod: Synth) -> None:
    assert prod.raw["Outputs"]["ApiUrl"]["Value"] == "https://qb.example.com/"
    assert prod.raw["Outputs"]["QbwcUrl"]["Value"] == "https://qb.example.com/qbwc"
    assert prod.raw["Outputs"]["SupportUrl"]["Value"] == "https://qb.example.com/support"
    # The stage's URL: https://<api>.execute-api.<region>.<suffix>/<stage>/ (stage named "dev").
    api_url = dev.raw["Outputs"]["ApiUrl"]["Value"]["Fn::Join"][1]
    stage = [k for k in resources(dev, "AWS::ApiGateway::Stage")]
    assert api_url[2] == ".execute-api." and api_url[-2:] == [{"Ref": stage[0]}, "/"]
    qbwc_url = dev.raw["Outputs"]["QbwcUrl"]["Value"]["Fn::Join"][1]
    assert qbwc_url[-2:] == [{"Ref": stage[0]}, "/qbwc"]
