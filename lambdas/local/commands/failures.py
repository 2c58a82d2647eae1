"""``qbrelay failures list|redrive``: records the forwarder parked, shown and sent again.

Parked records are the forwarder's mapping rows with status ``parked`` (why, per record) and the
dead-letter queue holding their messages (the local data dir's table, or the deployment's SQS
dead-letter queue with ``--aws --env ENV``). A re-drive moves matching letters back onto the
record queue; the forwarder then treats them as any other delivery.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from typing import Any

from ...model.envelope import Envelope, EnvelopeError
from ...model.identity import target
from ...store.ports import (
    DeadLetterQueue,
    DeliveryStatus,
    HeldLetter,
    MappingStore,
    QueueMessage,
    RecordQueue,
    TenantStore,
)
from ...zoho.forwarder import UNKNOWN_TENANT
from .. import targets
from ..targets import add_target_args, aws_env, explain_aws_errors, queue_url, table_name
from .common import data_dir

# One run moves at most this many letters (run it again for more), and looks at most at
# MAX_SCAN letters of any tenant to find them, all held while it works.
MAX_REDRIVE = 2_000
MAX_SCAN = 5_000
HOLD_SECONDS = 300.0


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


def _entities_of(body: str) -> tuple[str, str]:
    """(record entity, entity it changes) of a parked message; ("", "") when unreadable."""
    try:
        envelope = Envelope.from_json(body)
    except EnvelopeError:
        return "", ""
    if envelope.record is None:
        return envelope.entity, envelope.entity
    try:
        return envelope.entity, target(envelope.record)[0]
    except ValueError:
        return envelope.entity, envelope.entity


def _matches(held: HeldLetter, tenant: str | None, entity: str | None) -> bool:
    if tenant is not None and held.letter.tenant != tenant:
        return False
    return entity is None or entity in _entities_of(held.letter.body)


def _hold_all(
    dlq: DeadLetterQueue, limit: int, tenant: str | None, entity: str | None
) -> tuple[list[HeldLetter], list[HeldLetter]]:
    """(matching, all held): letters are held page by page until ``limit`` match the filter,
    the queue returns no new one, or MAX_SCAN were looked at; the caller releases them."""
    held: list[HeldLetter] = []
    matching: list[HeldLetter] = []
    seen: set[str] = set()
    while len(matching) < limit and len(held) < MAX_SCAN:
        fresh = [h for h in dlq.hold(100, HOLD_SECONDS) if h.receipt not in seen]
        if not fresh:
            break
        seen.update(h.receipt for h in fresh)
        held.extend(fresh)
        matching.extend(h for h in fresh if _matches(h, tenant, entity))
    return matching[:limit], held


@explain_aws_errors
def cmd_list(args: argparse.Namespace) -> int:
    t = failure_target(args)
    names = [args.tenant] if args.tenant else [x.name for x in t.tenants.list()]
    rows = [m for n in names for m in t.mappings.list(n, DeliveryStatus.PARKED, args.limit)]
    matching, held = _hold_all(t.dead_letters, args.limit, args.tenant, args.entity)
    try:
        letters = [h.letter for h in matching]
    finally:
        t.dead_letters.release([h.receipt for h in held])
    rows = [m for m in rows if args.entity is None or m.entity == args.entity]
    if args.json:
        print(
            json.dumps(
                {
                    "parked": [
                        {
                            "tenant": m.tenant,
                            "entity": m.entity,
                            "source_id": m.source_id,
                            "error": m.last_error,
                            "at": m.outcome_at,
                        }
                        for m in rows
                    ],
                    "dead_letters": [
                        {
                            "tenant": x.tenant,
                            "entity": _entities_of(x.body)[0],
                            "reason": x.reason,
                            "parked_at": x.parked_at,
                        }
                        for x in letters
                    ],
                },
                sort_keys=True,
            )
        )
        return 0
    print(f"Parked records (up to {args.limit}): {len(rows)}")
    for m in rows:
        print(f"  {m.tenant} {m.entity} {m.source_id}: {m.last_error}")
    print(f"Dead letters (up to {args.limit}): {len(letters)}")
    for x in letters:
        entity = _entities_of(x.body)[0] or "(unreadable)"
        print(f"  {x.tenant} {entity}: {x.reason}")
    if rows or letters:
        print("Fix the cause, then: qbrelay failures redrive" + _flags(args))
    return 0


def _flags(args: argparse.Namespace) -> str:
    out = ""
    if args.tenant:
        out += f" --tenant {args.tenant}"
    if args.entity:
        out += f" --entity {args.entity}"
    if args.aws:
        out += f" --aws --env {args.env}"
    return out


def _redriven(held: HeldLetter, confirm: bool) -> QueueMessage | None:
    """The message that sends a letter on, or None while it waits for ``--confirm``.

    A letter the relay marked for review (a mass deletion, say) goes only when confirmed, and
    then without the mark, so the forwarder applies it.
    """
    letter = held.letter
    try:
        envelope = Envelope.from_json(letter.body)
    except EnvelopeError:
        return QueueMessage(letter.tenant, letter.body, "")
    if envelope.review is None:
        return QueueMessage(letter.tenant, letter.body, envelope.dedup_id)
    if not confirm:
        return None
    return QueueMessage(letter.tenant, replace(envelope, review=None).to_json(), envelope.dedup_id)


@explain_aws_errors
def cmd_redrive(args: argparse.Namespace) -> int:
    t = failure_target(args)
    chosen, held = _hold_all(t.dead_letters, min(args.limit, MAX_REDRIVE), args.tenant, args.entity)
    picked = {h.receipt for h in chosen}
    others = [h for h in held if h.receipt not in picked]
    readable = [h for h in chosen if h.letter.tenant != UNKNOWN_TENANT]
    moves = [(h, _redriven(h, args.confirm)) for h in readable]
    movable = [h for h, message in moves if message is not None]
    waiting = len(readable) - len(movable)
    try:
        messages = [message for _, message in moves if message is not None]
        if messages:
            t.queue.send(messages)
            t.dead_letters.remove([h.receipt for h in movable])
    finally:
        t.dead_letters.release(
            [h.receipt for h in others + [h for h in chosen if h not in movable]]
        )
    skipped = len(chosen) - len(readable)
    print(
        f"Re-drove {len(movable):,} parked record(s) onto the record queue"
        + (f"; {skipped} unreadable message(s) left parked" if skipped else "")
        + "."
    )
    if waiting:
        print(
            f"{waiting:,} record(s) are held for review (a mass deletion or a session over its "
            "record cap): check them with qbrelay failures list, then run this again with "
            "--confirm to send them on."
        )
    if movable and not args.aws:
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
        if name == "list":
            p.add_argument("--json", action="store_true")
        else:
            p.add_argument(
                "--confirm",
                action="store_true",
                help="also send records held for review (mass deletions, records past a "
                "session's cap), after checking them with failures list",
            )
        add_target_args(p)
        p.set_defaults(func=func)
