"""Where a ``qbrelay`` administration command acts: a local data directory, or a deployment.

``--aws --env ENV`` resolves the deployment's tables from the environment variables the Lambda
functions use (``QBRELAY_TENANTS_TABLE`` ...) when set, else from the outputs of the
CloudFormation stack ``QbxmlRelay-<env>``.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ..store.dynamo import DynamoTenantStore
from ..store.ports import TenantStore
from ..store.sqlite import SqliteDatabase, SqliteTenantStore
from .commands.common import data_dir

P = ParamSpec("P")
R = TypeVar("R")

ENVIRONMENTS = ("dev", "staging", "prod")
STACK_PREFIX = "QbxmlRelay-"
# Stack output -> the environment variable that overrides it.
TABLE_OUTPUTS = {
    "TenantsTable": "QBRELAY_TENANTS_TABLE",
    "SessionsTable": "QBRELAY_SESSIONS_TABLE",
    "StateTable": "QBRELAY_STATE_TABLE",
    "MappingsTable": "QBRELAY_MAPPINGS_TABLE",
    "RunsTable": "QBRELAY_RUNS_TABLE",
    "WebhooksTable": "QBRELAY_WEBHOOKS_TABLE",
    "WriteBackTable": "QBRELAY_WRITEBACK_TABLE",
}


class TargetError(SystemExit):
    """The deployment or its outputs cannot be found; the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(f"error: {message}")


def stack_name(env: str) -> str:
    """The CloudFormation stack of one environment, e.g. ``QbxmlRelay-dev``."""
    return STACK_PREFIX + env


def aws_client(service: str, region: str | None = None) -> Any:
    """A boto3 client; tests replace this function to hand in their own."""
    return boto3.client(service, region_name=region) if region else boto3.client(service)


def _aws_failure(what: str, exc: Exception) -> TargetError:
    if isinstance(exc, NoCredentialsError):
        return TargetError(f"{what}: no AWS credentials (set AWS_PROFILE or log in first)")
    if isinstance(exc, NoRegionError):
        return TargetError(f"{what}: no AWS region (pass --region or set AWS_REGION)")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return TargetError(f"{what}: {error.get('Code', '')} {error.get('Message', '')}".strip())
    return TargetError(f"{what}: {exc}")


def stack_outputs(stack: str, region: str | None = None) -> dict[str, str]:
    """The outputs of a deployed stack, by key."""
    try:
        reply = aws_client("cloudformation", region).describe_stacks(StackName=stack)
    except (ClientError, BotoCoreError) as exc:
        raise _aws_failure(f"cannot read the CloudFormation stack {stack!r}", exc) from exc
    stacks = reply.get("Stacks") or []
    if not stacks:
        raise TargetError(f"the CloudFormation stack {stack!r} does not exist")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}


def required_output(outputs: dict[str, str], key: str, stack: str) -> str:
    """One output, or a clear error naming the stack and the key."""
    value = outputs.get(key)
    if not value:
        raise TargetError(f"the stack {stack!r} has no output {key!r}; is it fully deployed?")
    return value


def table_name(output: str, env: str, region: str | None = None) -> str:
    """A table of the deployment: its environment variable if set, else the stack's output."""
    configured = os.environ.get(TABLE_OUTPUTS[output])
    if configured:
        return configured
    stack = stack_name(env)
    return required_output(stack_outputs(stack, region), output, stack)


QUEUE_OUTPUTS = {
    "RecordQueueUrl": "QBRELAY_RECORD_QUEUE_URL",
    "DeadLetterQueueUrl": "QBRELAY_DLQ_URL",
}


def queue_url(output: str, env: str, region: str | None = None) -> str:
    """A queue of the deployment: its environment variable if set, else the stack's output."""
    configured = os.environ.get(QUEUE_OUTPUTS[output])
    if configured:
        return configured
    stack = stack_name(env)
    return required_output(stack_outputs(stack, region), output, stack)


def add_target_args(parser: argparse.ArgumentParser) -> None:
    """``--data-dir`` for the local store, or ``--aws --env ENV [--region R]`` for a deployment."""
    parser.add_argument("--data-dir", help="local data directory (default: QBRELAY_DATA_DIR)")
    parser.add_argument(
        "--aws", action="store_true", help="act on the AWS deployment named by --env"
    )
    parser.add_argument(
        "--env",
        choices=ENVIRONMENTS,
        default=os.environ.get("QBRELAY_ENV") or None,
        help="deployment environment (stack QbxmlRelay-<env>; default: QBRELAY_ENV)",
    )
    parser.add_argument("--region", help="AWS region (default: the AWS configuration's)")


def aws_env(args: argparse.Namespace) -> str:
    """The environment of an ``--aws`` command; an error when it was not given."""
    if not args.env:
        raise TargetError("--aws needs --env (one of " + ", ".join(ENVIRONMENTS) + ")")
    if args.env not in ENVIRONMENTS:
        raise TargetError(f"--env must be one of {', '.join(ENVIRONMENTS)}")
    return str(args.env)


def dynamo_tenants(table: str, region: str | None = None) -> DynamoTenantStore:
    """The tenant store of a deployment's tenants table."""
    return DynamoTenantStore(aws_client("dynamodb", region), table)


def open_tenants(args: argparse.Namespace) -> TenantStore:
    """The tenant store the command's flags name."""
    if args.aws:
        if args.data_dir:
            raise TargetError("give either --aws or --data-dir, not both")
        return dynamo_tenants(table_name("TenantsTable", aws_env(args), args.region), args.region)
    return SqliteTenantStore(SqliteDatabase.in_dir(data_dir(args.data_dir)))


def explain_aws_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn AWS client errors raised inside a command into a one-line error and exit."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _aws_failure("AWS refused the request", exc) from exc

    return wrapper
