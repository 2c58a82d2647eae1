"""``qbrelay failures list|redrive``: records the forwarder parked, shown and sent again.

Parked records are the forwarder's mapping rows with status ``parked`` (why, per record) and the
dead-letter queue holding their messages (the local data dir's table, or the deployment's SQS
dead-letter queue with ``--aws --env ENV``). A re-drive moves matching letters back onto the
record queue; the forwarder then treats them as any other delivery.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from ...model.errors import ErrorInfo, classify_text
from ...ops.failures import dead_letters, entities_of, letter_json, redrive
from ...store.ports import (
    DeadLetterQueue,
    DeliveryStatus,
    MappingStore,
    RecordQueue,
    TenantStore,
)
from .. import targets
from ..targets import add_target_args, aws_env, explain_aws_errors, queue_url, table_name
from .common import data_dir


@dataclass(slots=True)
class FailureTarget:
    """The stores a failures command works on."""

    tenants: TenantStore
    mappings: MappingStore
    dead_letters: DeadLetterQueue
    queue: RecordQueue


def failure_target(args: argparse.Namespace) -> FailureTarget:
    """The local data directory's stores, or the deployment's with ``--aws --env``."""
    if args.aws:
        from ...store.dynamo import (
            DynamoMappingStore,
            DynamoTenantStore,
            SqsDeadLetterQueue,
            SqsRecordQueue,
        )

        env, region = aws_env(args), args.region
        ddb = targets.aws_client("dynamodb", region)
        sqs = targets.aws_client("sqs", region)
        return FailureTarget(
            DynamoTenantStore(ddb, table_name("TenantsTable", env, region)),
            DynamoMappingStore(ddb, table_name("MappingsTable", env, region)),
            SqsDeadLetterQueue(sqs, queue_url("DeadLetterQueueUrl", env, region)),
            SqsRecordQueue(sqs, queue_url("RecordQueueUrl", env, region)),
        )
    from ...store.sqlite import (
        SqliteDatabase,
        SqliteDeadLetterQueue,
        SqliteMappingStore,
        SqliteRecordQueue,
        SqliteTenantStore,
    )

    db = SqliteDatabase.in_dir(data_dir(args.data_dir))
    return FailureTarget(
        SqliteTenantStore(db),
        SqliteMappingStore(db),
        SqliteDeadLetterQueue(db),
        SqliteRecordQueue(db),
    )


@explain_aws_errors
def cmd_list(args: argparse.Namespace) -> int:
    t = failure_target(args)
    names = [args.tenant] if args.tenant else [x.name for x in t.tenants.list()]
    rows = [m for n in names for m in t.mappings.list(n, DeliveryStatus.PARKED, args.limit)]
    letters = dead_letters(t.dead_letters, args.tenant, args.entity, args.limit)
    rows = [m for m in rows if args.entity is None or m.entity == args.entity]
    infos = {m.key: classify_text(m.last_error) for m in rows}
    if args.json:
        parked = []
        for m in rows:
            info = infos[m.key]
            parked.append(
                {
                    "tenant": m.tenant,
                    "entity": m.entity,
                    "source_id": m.source_id,
                    "error": m.last_error,
                    "error_code": info.code if info else None,
                    "error_info": info.to_json() if info else None,
                    "at": m.outcome_at,
                }
            )
        print(
            json.dumps(
                {"parked": parked, "dead_letters": [letter_json(x) for x in letters]},
                sort_keys=True,
            )
        )
        return 0
    print(f"Parked records (up to {args.limit}): {len(rows)}")
    for m in rows:
        info = infos[m.key]
        code = f"[{info.code}] " if info else ""
        print(f"  {m.tenant} {m.entity} {m.source_id}: {code}{m.last_error}")
    print(f"Dead letters (up to {args.limit}): {len(letters)}")
    for x in letters:
        entity = entities_of(x.body)[0] or "(unreadable)"
        print(f"  {x.tenant} {entity}: {x.reason}")
    _what_to_do([i for i in infos.values() if i is not None])
    if rows or letters:
        print("Fix the cause, then: qbrelay failures redrive" + _flags(args))
    return 0


def _what_to_do(infos: list[ErrorInfo]) -> None:
    """One line of advice per distinct error code."""
    seen: dict[str, ErrorInfo] = {}
    for info in infos:
        seen.setdefault(info.code, info)
    if seen:
        print("What to do:")
    for code, info in seen.items():
        print(f"  {code}: {info.user_message} ({info.docs})")


def _flags(args: argparse.Namespace) -> str:
    out = ""
    if args.tenant:
        out += f" --tenant {args.tenant}"
    if args.entity:
        out += f" --entity {args.entity}"
    if args.aws:
        out += f" --aws --env {args.env}"
    return out


@explain_aws_errors
def cmd_redrive(args: argparse.Namespace) -> int:
    t = failure_target(args)
    result = redrive(
        t.dead_letters, t.queue, args.tenant, args.entity, args.limit, confirm=args.confirm
    )
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return 0
    skipped = result.unreadable
    print(
        f"Re-drove {result.redriven:,} parked record(s) onto the record queue"
        + (f"; {skipped} unreadable message(s) left parked" if skipped else "")
        + "."
    )
    if result.awaiting_confirmation:
        print(
            f"{result.awaiting_confirmation:,} record(s) are held for review (a mass deletion or "
            "a session over its record cap): check them with qbrelay failures list, then run "
            "this again with --confirm to send them on."
        )
    if result.redriven and not args.aws:
        print(
            "They reach ZOHO with the next forwarder run (qbrelay serve, or qbrelay zoho forward)."
        )
    return 0


def register(sub: Any) -> None:
    """Add ``failures list|redrive``."""
    failures = sub.add_parser("failures", help="records the forwarder parked: show, re-drive")
    fsub = failures.add_subparsers(dest="failures_command", required=True)
    for name, func, help_text in (
        ("list", cmd_list, "parked records and dead letters, with why"),
        ("redrive", cmd_redrive, "send parked records to the forwarder again"),
    ):
        p = fsub.add_parser(name, help=help_text)
        p.add_argument("--tenant")
        p.add_argument("--entity", help="only records of this entity (e.g. Invoice)")
        p.add_argument("--limit", type=int, default=100)
        p.add_argument("--json", action="store_true", help="one JSON object for scripts")
        if name == "redrive":
            p.add_argument(
                "--confirm",
                action="store_true",
                help="also send records held for review (mass deletions, records past a "
                "session's cap), after checking them with failures list",
            )
        add_target_args(p)
        p.set_defaults(func=func)
