"""The gates on the templates: cdk-nag AwsSolutions with reasons, and cfn-lint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra import nag
from tests.infrastructure.conftest import Synth

REPO = Path(__file__).resolve().parents[2]
CFN_LINT = str(Path(sys.executable).parent / "cfn-lint")


def nag_report(synth: Synth) -> dict:
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    (aws_solutions,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]
    return aws_solutions


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_unacknowledged_nag_finding(env: str, request) -> None:
    report = nag_report(request.getfixturevalue(env))
    assert report["conclusion"] == "success"
    assert report["violations"] == []  # errors and warnings alike
    for acknowledged in report["suppressedViolations"]:
        assert len(acknowledged["reason"]) >= nag.MIN_REASON, acknowledged["ruleName"]


def test_acknowledgments_are_specific(dev: Synth) -> None:
    """Wildcard grants are accepted finding by finding, never as a whole rule."""
    ids = {v["acknowledgedId"] for v in nag_report(dev)["suppressedViolations"]}
    iam5 = {i for i in ids if "IAM5" in i}
    assert iam5 and all("[Resource::" in i for i in iam5)


def test_nag_gate_fails_on_a_finding() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_sqs as sqs

    app = App()
    stack = Stack(app, "Bare")
    sqs.Queue(stack, "NoDeadLetters", enforce_ssl=True)
    nag.enable(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()


def test_acknowledgment_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="real reason"):
        nag.acknowledge(None, "L1", "fine")  # type: ignore[arg-type]


def test_cfn_lint_is_clean(dev: Synth, prod: Synth) -> None:
    done = subprocess.run(
        [CFN_LINT, str(dev.template_file), str(prod.template_file)],
        cwd=REPO,  # .cfnlintrc
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
