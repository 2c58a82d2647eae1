"""cdk-nag (v3, CDK's Validations API): the AwsSolutions pack runs at every synth.

Unacknowledged findings fail the synth. Acknowledgments sit beside the resource they concern
and must say why the rule does not apply there.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"
MIN_REASON = 40


def enable(app: App) -> None:
    """Run the AwsSolutions checks on everything in ``app``."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str = "") -> None:
    """Accept ``rule`` (e.g. "IAM5") on ``scope`` and below, optionally one finding only."""
    if len(reason) < MIN_REASON:
        raise ValueError(f"acknowledging {rule}: give the real reason, not {reason!r}")
    rule_id = f"{PACK}::{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
