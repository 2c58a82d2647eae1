"""The ``snap_start`` setting: SnapStart on published versions, and API routes on the alias."""

from __future__ import annotations

import json

from tests.infrastructure.conftest import Synth, resources
from tests.infrastructure.test_stack import function

RELAY_HANDLER = "lambdas.handlers.qbwc_api.handler"


def _api_invokes(synth: Synth) -> str:
    return json.dumps(
        [
            m["Properties"]["Integration"].get("Uri")
            for m in resources(synth, "AWS::ApiGateway::Method").values()
        ]
    )


def test_dev_has_no_snap_start(dev: Synth) -> None:
    for fn in resources(dev, "AWS::Lambda::Function").values():
        assert "SnapStart" not in fn["Properties"]
    assert not resources(dev, "AWS::Lambda::Alias")


def test_prod_snapshots_every_python_function_and_routes_invoke_the_alias(prod: Synth) -> None:
    functions = resources(prod, "AWS::Lambda::Function")
    python = {k: v for k, v in functions.items() if v["Properties"]["Runtime"].startswith("python")}
    assert python
    for fn in python.values():
        assert fn["Properties"]["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    aliases = resources(prod, "AWS::Lambda::Alias")
    assert {a["Properties"]["FunctionName"]["Ref"] for a in aliases.values()} == set(python)
    assert all(a["Properties"]["Name"] == "live" for a in aliases.values())
    relay_id, _ = function(prod, RELAY_HANDLER)
    (relay_alias,) = [
        k for k, a in aliases.items() if a["Properties"]["FunctionName"]["Ref"] == relay_id
    ]
    uris = _api_invokes(prod)
    assert relay_alias in uris and relay_id not in uris


def _aliases(synth: Synth) -> set[str]:
    return set(resources(synth, "AWS::Lambda::Alias"))


def test_prod_queue_triggers_invoke_the_alias(prod: Synth) -> None:
    # SnapStart snapshots published versions only: a trigger on the bare function runs $LATEST
    # and cold-starts every time.
    mappings = resources(prod, "AWS::Lambda::EventSourceMapping")
    assert mappings
    aliases = _aliases(prod)
    for mapping in mappings.values():
        name = mapping["Properties"]["FunctionName"]
        # CDK names the alias by Ref, or as "<function name>:live".
        assert name.get("Ref") in aliases or json.dumps(name).endswith(':live"]]}'), name


def test_prod_schedules_and_the_event_bus_rule_invoke_the_alias(prod: Synth) -> None:
    aliases = _aliases(prod)
    lambda_targets = [
        target
        for rule in resources(prod, "AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
        if "SqsParameters" not in target and "sqs" not in json.dumps(target["Arn"]).lower()
    ]
    assert lambda_targets
    for target in lambda_targets:
        assert target["Arn"].get("Ref") in aliases, target["Arn"]
    # Each rule may invoke the alias it targets, and only that.
    permissions = resources(prod, "AWS::Lambda::Permission")
    allowed = {
        p["Properties"]["FunctionName"].get("Ref")
        for p in permissions.values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
    }
    assert allowed <= aliases and allowed


def test_the_audit_is_not_retried_on_the_alias_it_runs_as(prod: Synth) -> None:
    configs = resources(prod, "AWS::Lambda::EventInvokeConfig").values()
    # The qualifier is taken from the alias's ARN.
    (config,) = [c for c in configs if "FunctionsAuditLive" in json.dumps(c["Properties"])]
    assert config["Properties"]["MaximumRetryAttempts"] == 0
    assert all("Live" in json.dumps(c["Properties"]["Qualifier"]) for c in configs)
