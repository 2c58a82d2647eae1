"""``qbrelay``: run and administer the relay on its local SQLite store.

Command names and flags are a contract other tooling relies on: extend them, never rename them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from ..qbwc.passwords import generate_password, hash_password
from ..qbwc.soap_service import DEFAULT_MAX_BODY
from ..store.ports import AlreadyExists, StoreError, Tenant
from ..sync.plan import SYNC_ORDER, unknown_entities
from .wiring import build_local

DEFAULT_DATA_DIR = "qbrelay-data"


def _data_dir(value: str | None, default: str = DEFAULT_DATA_DIR) -> Path:
    return Path(value or os.environ.get("QBRELAY_DATA_DIR") or default)


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import RelayServer
    from .wsgi import SOAP_PATH, RelayWsgiApp

    local = build_local(_data_dir(args.data_dir), max_body_bytes=args.max_body_bytes)
    public_url = args.public_url or os.environ.get("QBRELAY_PUBLIC_URL") or None
    server = RelayServer(RelayWsgiApp(local.endpoint, public_url), args.host, args.port)
    print(
        f"qbxml-relay serving SOAP at {server.url}{SOAP_PATH} (store: {local.db.path})", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _read_password_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise SystemExit("error: --password-stdin given but standard input held no password")
    return password


def cmd_tenant_add(args: argparse.Namespace) -> int:
    entities = tuple(args.entities.split(",")) if args.entities else ("Customer",)
    bad = unknown_entities(entities)
    if bad:
        raise SystemExit(
            f"error: unknown entities {', '.join(bad)}; choose from {', '.join(SYNC_ORDER)}"
        )
    generated = not args.password_stdin
    password = generate_password() if generated else _read_password_stdin()
    local = build_local(_data_dir(args.data_dir))
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
    local = build_local(_data_dir(args.data_dir))
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


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    if args.customers < 0:
        raise SystemExit("error: --customers must be 0 or more")
    data_dir = _data_dir(args.data_dir, default="qbrelay-demo")
    result = run_demo(data_dir, customers=args.customers, seed=args.seed)
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return 0 if result.session.last_error is None else 1
    s = result.session
    print(f"Simulated QuickBooks company: {args.customers:,} customers (seed {args.seed})")
    print(
        f"Web Connector session: authenticate -> {s.auth_status or 'company file open'!r}, "
        f"{s.exchanges} qbXML exchanges, progress {s.percents[:3]}...{s.percents[-1:]}"
    )
    print(f"Relay summary: {s.close_message}")
    if s.last_error:
        print(f"Last error: {s.last_error}")
    print(
        f"Records received: {result.records_received:,}; queued for the CRM: "
        f"{result.records_queued:,} (queue now holds {result.queue_depth:,}) in "
        f"{result.seconds:.2f} s"
    )
    print(f"Store: {data_dir / 'relay.sqlite3'}")
    for record in result.sample:
        print(
            f"  e.g. {record.get('entity')} {record.get('list_id')}: {record.get('full_name')!r}, "
            f"{(record.get('bill_address') or {}).get('city')}, balance {record.get('balance')}"
        )
    return 0 if s.last_error is None else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qbrelay", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=os.environ.get("QBRELAY_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the Web Connector SOAP endpoint")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--data-dir")
    serve.add_argument(
        "--public-url",
        help="URL the WSDL names as the service address "
        "(default: taken from each request; env QBRELAY_PUBLIC_URL)",
    )
    serve.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY)
    serve.set_defaults(func=cmd_serve)

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

    demo = sub.add_parser("demo", help="sync a simulated QuickBooks company end to end")
    demo.add_argument("--customers", type=int, default=1200)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--data-dir")
    demo.add_argument("--json", action="store_true", help="print one JSON object")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
