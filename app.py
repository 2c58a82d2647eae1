#!/usr/bin/env python3
"""CDK entry point: ``npx aws-cdk@2 deploy -c env=prod`` (README "First sync"; docs/deployment.md).

Run directly (``make synth``), it reads cdk.json's context itself and writes to cdk.out, as the
CLI would; without ``-c env=...`` it synthesizes every environment.
"""

import os
import sys

from aws_cdk import App

from infra.app import build, project_context
from infra.settings import SettingsError

by_cli = "CDK_CONTEXT_JSON" in os.environ
app = App(
    outdir=os.environ.get("CDK_OUTDIR", "cdk.out"),
    context=None if by_cli else project_context(),
)
try:
    build(app)
except SettingsError as exc:
    sys.exit(f"error: {exc}")
app.synth()
