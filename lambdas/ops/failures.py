"""Parked records: the dead letters behind them, listed and re-driven (over the ports only).

A re-drive moves matching letters from the dead-letter queue back onto the record queue; the
forwarder then treats them as any other delivery. Letters are held while a run looks at them
and released (or removed once re-queued) before it returns.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..model.envelope import Envelope, EnvelopeError
from ..model.errors import classify_text
from ..model.identity import target
from ..store.ports import DeadLetter, DeadLetterQueue, HeldLetter, QueueMessage, RecordQueue

# One run moves at most this many letters (run it again for more), and looks at most at
# MAX_SCAN letters of any tenant to find them, all held while it works.
MAX_REDRIVE = 2_000
MAX_SCAN = 5_000
HOLD_SECONDS = 300.0
UNKNOWN_TENANT = "(unknown)"


def entities_of(body: str) -> tuple[str, str]:
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
    return entity is None or entity in entities_of(held.letter.body)


def hold_matching(
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


def letter_json(letter: DeadLetter) -> dict[str, Any]:
    """One dead letter: tenant, entity, why (as stored, and in the one error shape), when."""
    info = classify_text(letter.reason)
    return {
        "tenant": letter.tenant,
        "entity": entities_of(letter.body)[0],
        "reason": letter.reason,
        "error": info.to_json() if info is not None else None,
        "parked_at": letter.parked_at,
    }


def dead_letters(
    dlq: DeadLetterQueue, tenant: str | None = None, entity: str | None = None, limit: int = 100
) -> list[DeadLetter]:
    """Up to ``limit`` parked letters matching the filter (held briefly, then released)."""
    matching, held = hold_matching(dlq, limit, tenant, entity)
    try:
        return [h.letter for h in matching]
    finally:
        dlq.release([h.receipt for h in held])


@dataclass(frozen=True, slots=True)
class RedriveResult:
    """What a re-drive moved back onto the record queue, and what it left parked."""

    redriven: int
    unreadable: int
    # Marked for review by the relay (a mass deletion, records past a session's cap) and left
    # parked because the re-drive was not confirmed.
    awaiting_confirmation: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "redriven": self.redriven,
            "left_parked_unreadable": self.unreadable,
            "awaiting_confirmation": self.awaiting_confirmation,
        }


def _redriven(held: HeldLetter, confirm: bool) -> QueueMessage | None:
    """The message that sends a letter on, or None while it waits for confirmation.

    A letter the relay marked for review goes only when confirmed, and then without the mark,
    so the forwarder applies it.
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


def redrive(
    dlq: DeadLetterQueue,
    queue: RecordQueue,
    tenant: str | None = None,
    entity: str | None = None,
    limit: int = 100,
    confirm: bool = False,
) -> RedriveResult:
    """Move up to ``limit`` matching letters back onto the record queue.

    A letter whose tenant is unknown (an unreadable message) stays parked, and so does one
    held for review unless ``confirm``. Letters are removed only after the queue accepted them,
    so a failure re-drives nothing twice and loses nothing.
    """
    chosen, held = hold_matching(dlq, min(limit, MAX_REDRIVE), tenant, entity)
    picked = {h.receipt for h in chosen}
    others = [h for h in held if h.receipt not in picked]
    readable = [h for h in chosen if h.letter.tenant != UNKNOWN_TENANT]
    moves = [(h, _redriven(h, confirm)) for h in readable]
    movable = [h for h, message in moves if message is not None]
    try:
        messages = [message for _, message in moves if message is not None]
        if messages:
            queue.send(messages)
            dlq.remove([h.receipt for h in movable])
    finally:
        dlq.release([h.receipt for h in others + [h for h in chosen if h not in movable]])
    return RedriveResult(len(movable), len(chosen) - len(readable), len(readable) - len(movable))
