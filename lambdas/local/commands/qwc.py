"""``qbrelay qwc``: write a tenant's QuickBooks Web Connector file (.qwc).

The OwnerID is the deployment's and the FileID the tenant's, both kept in the tenant store, so a
re-issued file is the same application to QBWC and matches the company file's FileID stamp.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Any

from qwc import MAX_RUN_MINUTES, QwcError, QwcSpec, bare_guid, build_qwc, sibling_url

from ...qbwc.support_page import tenant_support_path
from ...store.ports import TenantStore
from ..targets import (
    TABLE_OUTPUTS,
    TargetError,
    add_target_args,
    aws_env,
    dynamo_tenants,
    explain_aws_errors,
    open_tenants,
    required_output,
    stack_name,
    stack_outputs,
)

APP_NAME_PREFIX = "qbxml-relay"
DEFAULT_EVERY_MINUTES = 15


def _where(args: argparse.Namespace) -> tuple[TenantStore, str, str | None]:
    """The tenant store, the AppURL and (from a stack) the support page base URL."""
    if not args.from_stack and (args.url or not args.aws):
        # The URL is given (a local relay, or a custom domain in front of a deployment).
        if not args.url:
            raise TargetError("give the relay's URL with --url, or --from-stack STACK")
        return open_tenants(args), args.url, None
    if args.data_dir:
        raise TargetError("a deployed stack keeps its tenants in AWS: drop --data-dir")
    stack = args.from_stack or stack_name(aws_env(args))
    outputs = stack_outputs(stack, args.region)
    table = os.environ.get(TABLE_OUTPUTS["TenantsTable"]) or required_output(
        outputs, "TenantsTable", stack
    )
    store = dynamo_tenants(table, args.region)
    if args.url:  # e.g. a custom domain in front of the stack's API
        return store, args.url, None
    return (
        store,
        required_output(outputs, "QbwcUrl", stack),
        required_output(outputs, "SupportUrl", stack),
    )


@explain_aws_errors
def cmd_qwc(args: argparse.Namespace) -> int:
    store, app_url, support_base = _where(args)
    tenant = store.get(args.tenant)
    if tenant is None:
        raise TargetError(f"no tenant named {args.tenant!r}; add it with qbrelay tenant add")
    file_id = tenant.file_id or store.ensure_file_id(tenant.name)
    if args.support_url:
        support = args.support_url
    elif support_base:
        support = f"{support_base.rstrip('/')}/{bare_guid(file_id)}"
    else:
        support = sibling_url(app_url, tenant_support_path(file_id))
    floor = math.ceil(tenant.min_interval_seconds / 60)
    every = args.every_minutes
    if every is None:
        every = min(MAX_RUN_MINUTES, max(DEFAULT_EVERY_MINUTES, floor))
    elif every < floor:
        print(
            f"note: tenant {tenant.name!r} syncs at most every {floor} minutes; runs in between "
            "are told there is nothing to do",
            file=sys.stderr,
        )
    spec = QwcSpec(
        app_name=args.app_name or f"{APP_NAME_PREFIX} {tenant.name}",
        app_url=app_url,
        app_support=support,
        user_name=tenant.qbwc_user,
        owner_id=store.deployment_owner_id(),
        file_id=file_id,
        run_every_minutes=every,
        # A live tenant's file runs every few seconds unless --every-minutes says otherwise.
        run_every_seconds=(
            tenant.live_interval_seconds if tenant.live and args.every_minutes is None else None
        ),
        read_only=args.read_only,
    )
    try:
        data = build_qwc(spec, lambda user: store.find_by_user(user) is not None)
    except QwcError as exc:
        raise TargetError(str(exc)) from exc
    if not args.out:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    Path(args.out).write_bytes(data)
    print(
        f"Wrote {args.out} for Web Connector user {spec.user_name!r}: AppURL {spec.app_url}, "
        f"AppSupport {spec.app_support}, every "
        + (
            f"{spec.run_every_seconds} seconds (live)."
            if spec.run_every_seconds
            else f"{every} minutes."
        )
    )
    print(
        "Open it in the QuickBooks Web Connector (Add an application) with QuickBooks running "
        "and the company file open, then type the tenant's password into the Password column."
    )
    return 0


def register(sub: Any) -> None:
    """Add ``qwc``."""
    qwc = sub.add_parser("qwc", help="write a tenant's QuickBooks Web Connector file (.qwc)")
    qwc.add_argument("--tenant", required=True, help="the tenant's name")
    qwc.add_argument("--url", help="the relay's SOAP URL (AppURL), e.g. https://host/qbwc")
    qwc.add_argument(
        "--from-stack",
        metavar="STACK",
        help="take the URLs and the tenants table from a deployed CloudFormation stack",
    )
    qwc.add_argument(
        "--support-url",
        help="AppSupport URL (default: the tenant's support page beside the AppURL)",
    )
    qwc.add_argument(
        "--every-minutes",
        type=int,
        help=f"RunEveryNMinutes (default: {DEFAULT_EVERY_MINUTES}, or the tenant's minimum)",
    )
    qwc.add_argument("--read-only", action="store_true", help="ask QuickBooks for read access only")
    qwc.add_argument("--app-name", help=f"AppName (default: '{APP_NAME_PREFIX} <tenant>')")
    qwc.add_argument("--out", help="write to this file (default: standard output)")
    add_target_args(qwc)
    qwc.set_defaults(func=cmd_qwc)
