"""``qbrelay writeback list NAME [--status S] [--limit N] [--json]`` and ``qbrelay writeback
show NAME OP_ID [--json]``: a tenant's write-back operations and their outcomes.

Both read the local data directory or, with ``--aws --env ENV``, the deployment's WriteBack
table. Settings are changed with ``qbrelay tenant set NAME --writeback on`` and its siblings.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from ...ops.writeback_status import op_json
from ...store.writeback_ports import WriteBackStore
from ...writeback.model import OpStatus, WriteOp
from ..targets import add_target_args, explain_aws_errors
from ..tenant_stores import open_tenant_data

MAX_LIMIT = 1000


def _store(args: argparse.Namespace) -> WriteBackStore:
    data = open_tenant_data(args)
    if data.writeback is None:
        raise SystemExit("error: this deployment has no write-back table")
    return data.writeback


def _when(at: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) if at else "-"


def _line(op: WriteOp) -> str:
    problem = f"\t{op.error_code or 'error'}: {op.error}" if op.error else ""
    return (
        f"{op.op_id}\t{op.status}\t{op.kind} {op.action}\t{op.zoho_module}/{op.zoho_id}\t"
        f"qb={op.qb_id or '-'}\tattempts={op.attempts}\toutcome={_when(op.outcome_at)}"
        f"{problem}"
    )


@explain_aws_errors
def cmd_writeback_list(args: argparse.Namespace) -> int:
    if not 1 <= args.limit <= MAX_LIMIT:
        raise SystemExit(f"error: --limit must be between 1 and {MAX_LIMIT}")
    status = OpStatus(args.status) if args.status else None
    ops = _store(args).list(args.name, status, args.limit)
    if args.json:
        print(json.dumps({"tenant": args.name, "ops": [op_json(o) for o in ops]}, sort_keys=True))
        return 0
    if not ops:
        print(f"No write-back operations for {args.name!r}" + (f" {status}." if status else "."))
        return 0
    for op in ops:
        print(_line(op))
    return 0


def _details(op: WriteOp) -> list[str]:
    out = [_line(op), f"edition {op.edition}; ZOHO version {op.zoho_version}; rev {op.rev}"]
    out.append(f"sent {_when(op.sent_at)}; outcome {_when(op.outcome_at)}")
    if op.depends_on:
        out.append(f"after {op.depends_on}")
    if op.ref_number or op.linked:
        out.append(f"ref {op.ref_number or '-'}; linked to an existing record: {op.linked}")
    out.extend(f"  {name} = {value!r}" for name, value in sorted(op.fields.items()))
    out.extend(
        f"  conflict {c.field}: QuickBooks {c.qb_value!r}, ZOHO {c.zoho_value!r}, kept {c.kept}"
        for c in op.conflicts
    )
    return out


@explain_aws_errors
def cmd_writeback_show(args: argparse.Namespace) -> int:
    op = _store(args).get(args.name, args.op_id)
    if op is None:
        raise SystemExit(
            f"error: no write-back operation {args.op_id!r} for {args.name!r} "
            f"(see qbrelay writeback list {args.name})"
        )
    if args.json:
        print(json.dumps(op_json(op), sort_keys=True))
    else:
        print("\n".join(_details(op)))
    return 0


def register(sub: Any) -> None:
    """Add ``writeback list|show``."""
    wb = sub.add_parser("writeback", help="a tenant's write-back operations (ZOHO to QuickBooks)")
    wb_sub = wb.add_subparsers(dest="writeback_command", required=True)

    lst = wb_sub.add_parser("list", help="operations, newest first")
    lst.add_argument("name", help="the tenant")
    lst.add_argument("--status", choices=[str(s) for s in OpStatus])
    lst.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    lst.add_argument("--json", action="store_true", help="one JSON object for scripts")
    add_target_args(lst)
    lst.set_defaults(func=cmd_writeback_list)

    show = wb_sub.add_parser("show", help="one operation: its fields, outcome and conflicts")
    show.add_argument("name", help="the tenant")
    show.add_argument("op_id")
    show.add_argument("--json", action="store_true", help="the operation as JSON")
    add_target_args(show)
    show.set_defaults(func=cmd_writeback_show)
