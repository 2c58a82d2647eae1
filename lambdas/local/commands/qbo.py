"""``qbrelay qbo connect|disconnect|status``: a tenant's QuickBooks Online connection.

``connect --tenant NAME`` prints a one-time link (valid 24 hours, good for one connect) that a
company admin opens to approve the connection at Intuit; ``disconnect`` revokes the
authorization at Intuit and deletes the tokens; ``status`` lists connections, their realm and
how many days are left before the company must be connected again. Local data dir, or with
``--aws --env ENV`` the deployment's tables and Secrets Manager.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from typing import Any

from ...qbo.config import load_config
from ...qbo.connections import QboConnectionStore
from ...qbo.errors import QboError
from ...qbo.links import create_link, link_url
from ...qbo.states import OAuthStateStore
from ...store.ports import SecretStore, TenantStore
from .. import targets
from ..targets import (
    add_target_args,
    aws_env,
    explain_aws_errors,
    required_output,
    stack_name,
    stack_outputs,
    table_name,
)
from .common import data_dir

CALLBACK_SUFFIX = "/qbo/callback"
LOCAL_BASE = "http://127.0.0.1:8080"


@dataclass(slots=True)
class QboTarget:
    """Where the command acts: the stores and the public root of the routes."""

    tenants: TenantStore
    states: OAuthStateStore
    connections: QboConnectionStore
    secrets: SecretStore
    base_url: str


def _base_from_redirect() -> str | None:
    redirect = (os.environ.get("QBO_REDIRECT_URI") or "").strip().rstrip("/")
    return redirect[: -len(CALLBACK_SUFFIX)] if redirect.endswith(CALLBACK_SUFFIX) else None


def qbo_target(args: argparse.Namespace) -> QboTarget:
    """The local data directory's stores, or the deployment's with ``--aws --env``."""
    base = getattr(args, "base_url", None)
    if args.aws:
        if args.data_dir:
            raise targets.TargetError("give either --aws or --data-dir, not both")
        from ...store.dynamo import (
            DynamoOAuthStateStore,
            DynamoQboConnectionStore,
            DynamoTenantStore,
            SecretsManagerSecretStore,
        )

        env, region = aws_env(args), args.region
        ddb = targets.aws_client("dynamodb", region)
        prefix = os.environ.get("QBRELAY_SECRETS_PREFIX")
        if not prefix or not base:
            stack = stack_name(env)
            outputs = stack_outputs(stack, region)
            prefix = prefix or required_output(outputs, "SecretsPrefix", stack)
            base = base or required_output(outputs, "ApiUrl", stack)
        return QboTarget(
            DynamoTenantStore(ddb, table_name("TenantsTable", env, region)),
            DynamoOAuthStateStore(ddb, table_name("SessionsTable", env, region)),
            DynamoQboConnectionStore(ddb, table_name("StateTable", env, region)),
            SecretsManagerSecretStore(targets.aws_client("secretsmanager", region), prefix),
            base,
        )
    from ...store.files import FileSecretStore
    from ...store.sqlite import (
        SqliteDatabase,
        SqliteOAuthStateStore,
        SqliteQboConnectionStore,
        SqliteTenantStore,
    )

    directory = data_dir(args.data_dir)
    db = SqliteDatabase.in_dir(directory)
    return QboTarget(
        SqliteTenantStore(db),
        SqliteOAuthStateStore(db),
        SqliteQboConnectionStore(db),
        FileSecretStore.in_dir(directory),
        base or _base_from_redirect() or LOCAL_BASE,
    )


@explain_aws_errors
def cmd_connect(args: argparse.Namespace) -> int:
    target = qbo_target(args)
    if target.tenants.get(args.tenant) is None:
        raise SystemExit(f"error: no tenant {args.tenant!r} (see qbrelay tenant list)")
    token = create_link(args.tenant, target.states, time.time)
    print(f"Send this link to a QuickBooks Online admin of {args.tenant!r} (one use, 24 hours):")
    print(link_url(target.base_url, args.tenant, token))
    return 0


@explain_aws_errors
def cmd_disconnect(args: argparse.Namespace) -> int:
    from ...qbo.auth_client import IntuitAuthClient
    from ...qbo.oauth import disconnect

    target = qbo_target(args)
    try:
        config = load_config(os.environ, target.secrets)
        done = disconnect(args.tenant, target.secrets, target.connections, IntuitAuthClient(config))
    except QboError as exc:
        raise SystemExit(f"error: {exc.message}") from None
    if not done:
        print(f"Tenant {args.tenant!r} had no QuickBooks Online connection.")
        return 0
    print(
        f"Disconnected {args.tenant!r} from QuickBooks Online: revoked at Intuit, tokens deleted."
    )
    return 0


def _row(conn: Any, now: float) -> dict[str, Any]:
    left = conn.days_left(now)
    return {
        "tenant": conn.tenant,
        "realm_id": conn.realm_id,
        "status": conn.status,
        "message": conn.message,
        "days_left": None if left is None else round(left, 1),
        "connected_at": conn.connected_at,
        "last_success_at": conn.last_success_at,
    }


@explain_aws_errors
def cmd_status(args: argparse.Namespace) -> int:
    target = qbo_target(args)
    now = time.time()
    conns = [c for c in target.connections.list() if not args.tenant or c.tenant == args.tenant]
    rows = [_row(c, now) for c in conns]
    if args.json:
        print(json.dumps({"connections": rows}, sort_keys=True))
        return 0
    if not rows:
        print("No QuickBooks Online connections: qbrelay qbo connect --tenant NAME")
    for r in rows:
        days = "-" if r["days_left"] is None else f"{r['days_left']:g}"
        line = f"{r['tenant']}\trealm={r['realm_id']}\t{r['status']}\treconnect_in_days={days}"
        print(line + (f"\t{r['message']}" if r["message"] else ""))
    return 0


def register(sub: Any) -> None:
    """Add ``qbo connect|disconnect|status``."""
    qbo = sub.add_parser("qbo", help="QuickBooks Online connections: connect, disconnect, status")
    qsub = qbo.add_subparsers(dest="qbo_command", required=True)
    connect = qsub.add_parser("connect", help="print a one-time connect link for a company admin")
    connect.add_argument("--tenant", required=True)
    connect.add_argument(
        "--base-url",
        help="public root of the routes (default: QBO_REDIRECT_URI without /qbo/callback "
        "locally, the stack's ApiUrl with --aws)",
    )
    add_target_args(connect)
    connect.set_defaults(func=cmd_connect)
    disc = qsub.add_parser("disconnect", help="revoke at Intuit and delete the tokens")
    disc.add_argument("--tenant", required=True)
    add_target_args(disc)
    disc.set_defaults(func=cmd_disconnect)
    status = qsub.add_parser("status", help="connections, realms and days until reconnect")
    status.add_argument("--tenant")
    status.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add_target_args(status)
    status.set_defaults(func=cmd_status)
