"""Builds the CDK app: one stack per environment, with the code asset and the nag gate.

Context: ``env`` (dev, staging or prod; all three when absent), ``asset`` (``bundle``, the
default, builds the deployable package with dependencies; ``code`` packages the project's code
alone, for template tests that must not need the network), plus the settings overrides of
``infra.settings``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, AssetHashType
from aws_cdk import aws_lambda as lambda_

from . import nag
from .packaging import build_asset
from .settings import ENVIRONMENTS, SettingsError, from_context
from .stack import RelayStack

ASSET_MODES = ("bundle", "code")
CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"


def project_context(**extra: Any) -> dict[str, Any]:
    """cdk.json's context (feature flags, settings) plus ``extra``, as the CDK CLI passes it.

    For running the app without the CLI: ``make synth`` and the infrastructure tests.
    """
    return {**json.loads(CDK_JSON.read_text())["context"], **extra}


def build(app: App) -> list[RelayStack]:
    """Add the requested environments' stacks to ``app``."""
    requested = app.node.try_get_context("env")
    envs = [requested] if requested else list(ENVIRONMENTS)
    mode = app.node.try_get_context("asset") or "bundle"
    if mode not in ASSET_MODES:
        raise SettingsError(f"asset must be one of {', '.join(ASSET_MODES)}, not {mode!r}")
    settings = [from_context(env, app.node.try_get_context) for env in envs]
    asset = build_asset(with_dependencies=mode == "bundle")

    def code() -> lambda_.Code:
        # A fresh Code per stack (an asset belongs to one stack); the same hash stages it once.
        return lambda_.Code.from_asset(
            str(asset.path), asset_hash=asset.digest, asset_hash_type=AssetHashType.CUSTOM
        )

    stacks = [RelayStack(app, s, code=code) for s in settings]
    nag.enable(app)
    return stacks
