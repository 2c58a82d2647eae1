"""Synthesized stacks for the infrastructure tests: dev as a fresh clone has it, prod fully set.

Both use the code-only asset (``-c asset=code``): the tests check templates, not the package,
and must not need the network. Synthesis runs the cdk-nag gate, so a fixture that builds is
already a nag-clean stack.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# jsii prints a banner on every start while the machine's Node is 20 (end of life).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

PROD_OVERRIDES = {
    "account": "123456789012",
    "region": "eu-west-1",
    "alarm_email": "ops@example.com",
    "domain_name": "qb.example.com",
    "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/"
    "0f1e2d3c-aaaa-bbbb-cccc-1234567890ab",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "hosted_zone_name": "example.com",
    "audit_schedule_hours": 12,
    "audit_repair": True,
    "audit_timeout_seconds": 600,
    "overdue_schedule_hours": 3,
}


@dataclass
class Synth:
    """One environment's synthesized stack."""

    env: str
    template: Any  # aws_cdk.assertions.Template
    raw: dict[str, Any]
    outdir: Path

    @property
    def template_file(self) -> Path:
        return self.outdir / f"QbxmlRelay-{self.env}.template.json"


def synthesize(env: str, outdir: Path, **context: Any) -> Synth:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from infra.app import build, project_context

    app = App(outdir=str(outdir), context=project_context(env=env, asset="code", **context))
    (stack,) = build(app)
    assembly = app.synth()
    raw = assembly.get_stack_artifact(stack.artifact_id).template
    return Synth(env, Template.from_json(raw), raw, outdir)


@pytest.fixture(scope="session")
def dev(tmp_path_factory) -> Synth:
    return synthesize("dev", tmp_path_factory.mktemp("cdk-dev"))


@pytest.fixture(scope="session")
def prod(tmp_path_factory) -> Synth:
    return synthesize("prod", tmp_path_factory.mktemp("cdk-prod"), **PROD_OVERRIDES)


def resources(synth: Synth, kind: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of CloudFormation type ``kind``."""
    return {k: v for k, v in synth.raw["Resources"].items() if v["Type"] == kind}


def _live_alias(synth: Synth, function_id: str) -> str | None:
    for alias_id, alias in resources(synth, "AWS::Lambda::Alias").items():
        if alias["Properties"]["FunctionName"] == {"Ref": function_id}:
            return alias_id
    return None


def invoked_arn(synth: Synth, function_id: str) -> dict[str, Any]:
    """What a rule's target names to invoke the function: its ``live`` alias under SnapStart
    (prod), else the function."""
    alias = _live_alias(synth, function_id)
    return {"Ref": alias} if alias else {"Fn::GetAtt": [function_id, "Arn"]}


def invoked_name(synth: Synth, function_id: str) -> dict[str, Any]:
    """What a queue trigger (event source mapping) names as its function (see invoked_arn)."""
    alias = _live_alias(synth, function_id)
    if alias is None:
        return {"Ref": function_id}
    split = {"Fn::Split": [":", {"Ref": alias}]}
    return {"Fn::Join": ["", [{"Fn::Select": [6, split]}, ":live"]]}
