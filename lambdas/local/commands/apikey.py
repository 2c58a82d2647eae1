"""``qbrelay apikey create|list|revoke``: the keys of the status API (header ``X-API-Key``).

A key is shown once, when created; only its SHA-256 is stored (see lambdas/ops/api_keys.py for
why not scrypt). Several keys live at once, so a new one can be rolled out before the old one
is revoked. Keys are kept in the local data dir or, with ``--aws --env ENV``, in the
deployment's tenants table.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ...ops.api_keys import HEADER, create_key, describe
from ...store.ports import ApiKeyStore
from .. import targets
from ..targets import add_target_args, aws_env, explain_aws_errors, table_name
from .common import data_dir
from .status import when


def open_api_keys(args: argparse.Namespace) -> ApiKeyStore:
    """The key store the command's flags name."""
    if args.aws:
        if args.data_dir:
            raise targets.TargetError("give either --aws or --data-dir, not both")
        from ...store.dynamo import DynamoApiKeyStore

        table = table_name("TenantsTable", aws_env(args), args.region)
        return DynamoApiKeyStore(targets.aws_client("dynamodb", args.region), table)
    from ...store.sqlite import SqliteApiKeyStore, SqliteDatabase

    return SqliteApiKeyStore(SqliteDatabase.in_dir(data_dir(args.data_dir)))


@explain_aws_errors
def cmd_create(args: argparse.Namespace) -> int:
    try:
        key, row = create_key(open_api_keys(args), args.name, time.time())
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from exc
    print(f"Created API key {row.key_id} ({row.name}). The key, shown this once (not stored):")
    print(key)
    print(f"Send it in the {HEADER} header; revoke it with: qbrelay apikey revoke {row.key_id}")
    return 0


@explain_aws_errors
def cmd_list(args: argparse.Namespace) -> int:
    keys = [describe(k) for k in open_api_keys(args).list()]
    if args.json:
        print(json.dumps({"keys": keys}, sort_keys=True))
        return 0
    if not keys:
        print("No API keys: create one with qbrelay apikey create --name NAME.")
    for k in keys:
        print(
            f"{k['id']}\tname={k['name']}\tcreated={when(k['created_at'])}\t"
            f"last_used={when(k['last_used_at'])}"
        )
    return 0


@explain_aws_errors
def cmd_revoke(args: argparse.Namespace) -> int:
    if not open_api_keys(args).delete(args.key_id):
        raise SystemExit(f"error: no API key with id {args.key_id!r} (see qbrelay apikey list)")
    print(f"Revoked API key {args.key_id}; requests with it are refused from now on.")
    return 0


def register(sub: Any) -> None:
    """Add ``apikey create|list|revoke``."""
    apikey = sub.add_parser("apikey", help="keys of the status API: create, list, revoke")
    asub = apikey.add_subparsers(dest="apikey_command", required=True)
    create = asub.add_parser("create", help="a new key, shown once")
    create.add_argument("--name", required=True, help="who or what uses it (e.g. 'grafana')")
    add_target_args(create)
    create.set_defaults(func=cmd_create)
    lst = asub.add_parser("list", help="keys with id, name, created and last used (no secrets)")
    lst.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add_target_args(lst)
    lst.set_defaults(func=cmd_list)
    revoke = asub.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("key_id")
    add_target_args(revoke)
    revoke.set_defaults(func=cmd_revoke)
