"""``qbrelay tenant …``: add and list tenants (one per QuickBooks company)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ...qbwc.passwords import generate_password, hash_password
from ...store.ports import AlreadyExists, Tenant
from ...sync.plan import SYNC_ORDER, unknown_entities
from ..wiring import build_local
from .common import data_dir, read_secret_stdin


def cmd_tenant_add(args: argparse.Namespace) -> int:
    entities = tuple(args.entities.split(",")) if args.entities else ("Customer",)
    bad = unknown_entities(entities)
    if bad:
        raise SystemExit(
            f"error: unknown entities {', '.join(bad)}; choose from {', '.join(SYNC_ORDER)}"
        )
    generated = not args.password_stdin
    password = generate_password() if generated else read_secret_stdin("a password")
    local = build_local(data_dir(args.data_dir))
    tenant = Tenant(
        name=args.name,
        qbwc_user=args.qbwc_user,
        password_hash=hash_password(password),
        company_file=args.company_file or "",
        enabled_entities=entities,
        created_at=time.time(),
    )
    try:
        local.tenants.create(tenant)
    except AlreadyExists as exc:
        raise SystemExit(f"error: {exc}") from exc
    print(f"Added tenant {tenant.name!r} (Web Connector user {tenant.qbwc_user!r}).")
    if generated:
        print("Its Web Connector password, shown this once (type it into QBWC):")
        print(password)
    return 0


def cmd_tenant_list(args: argparse.Namespace) -> int:
    local = build_local(data_dir(args.data_dir))
    for t in local.tenants.list():
        last = (
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(t.last_sync_at))
            if t.last_sync_at
            else "never"
        )
        print(
            f"{t.name}\tuser={t.qbwc_user}\tentities={','.join(t.enabled_entities)}\t"
            f"last_sync={last}"
        )
    return 0


def register(sub: Any) -> None:
    """Add ``tenant add`` and ``tenant list``."""
    tenant = sub.add_parser("tenant", help="manage tenants (one per QuickBooks company)")
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True)
    add = tenant_sub.add_parser("add", help="add a tenant")
    add.add_argument("name")
    add.add_argument("--qbwc-user", required=True, help="the UserName in the tenant's .qwc file")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (default: generate one)",
    )
    add.add_argument("--company-file", help="full path of the company file QBWC should open")
    add.add_argument("--entities", help=f"comma-separated, from {','.join(SYNC_ORDER)}")
    add.add_argument("--data-dir")
    add.set_defaults(func=cmd_tenant_add)
    lst = tenant_sub.add_parser("list", help="list tenants")
    lst.add_argument("--data-dir")
    lst.set_defaults(func=cmd_tenant_list)
