"""Change notices: what a QuickBooks Online webhook says changed, as the change queue carries it.

A notice names a realm, a QBO entity and object id, the operation (Create, Update, Delete, Merge,
Void, Emailed), when it happened and the delivery's event id. Notices carry ids only: the sync
reads the objects themselves. Several notices of one realm travel in one queue message
(``pack`` / ``unpack``), so a large delivery costs few queue calls.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..store.qbo_ports import QueuedChange

OPERATIONS = ("Create", "Update", "Delete", "Merge", "Void", "Emailed")
# Notices one queue message holds at most (about 250 bytes each: far below 256 KiB).
NOTICES_PER_MESSAGE = 50


class NoticeError(ValueError):
    """A change-queue message is not a list of notices; the message says why."""


@dataclass(frozen=True, slots=True)
class ChangeNotice:
    """One change QuickBooks Online announced."""

    realm: str
    entity: str  # QBO's entity name: Customer, Invoice, Payment ...
    id: str  # QBO's object Id
    operation: str
    occurred: str  # ISO timestamp ("" when the delivery gave none)
    event_id: str
    # The object a merge folded into ``id`` (it no longer exists), when the delivery names it.
    merged_id: str | None = None


def pack(notices: Sequence[ChangeNotice]) -> list[QueuedChange]:
    """Queue messages for ``notices``: per realm, in their order, at most NOTICES_PER_MESSAGE
    each; a message's dedup id is a digest of its event ids."""
    by_realm: dict[str, list[ChangeNotice]] = {}
    for n in notices:
        by_realm.setdefault(n.realm, []).append(n)
    out = []
    for realm, items in by_realm.items():
        for start in range(0, len(items), NOTICES_PER_MESSAGE):
            chunk = items[start : start + NOTICES_PER_MESSAGE]
            body = json.dumps([asdict(n) for n in chunk], sort_keys=True, separators=(",", ":"))
            digest = hashlib.sha256("\n".join(n.event_id for n in chunk).encode()).hexdigest()
            out.append(QueuedChange(realm=realm, body=body, dedup_id=digest))
    return out


def _notice(item: Any) -> ChangeNotice:
    if not isinstance(item, dict):
        raise NoticeError("a notice is not an object")
    try:
        notice = ChangeNotice(
            realm=str(item["realm"]),
            entity=str(item["entity"]),
            id=str(item["id"]),
            operation=str(item["operation"]),
            occurred=str(item.get("occurred") or ""),
            event_id=str(item.get("event_id") or ""),
            merged_id=str(item["merged_id"]) if item.get("merged_id") else None,
        )
    except KeyError as exc:
        raise NoticeError(f"a notice without {exc.args[0]!r}") from None
    return notice


def unpack(bodies: Iterable[str]) -> list[ChangeNotice]:
    """The notices of queue message bodies, in order; NoticeError for a malformed body."""
    out = []
    for body in bodies:
        try:
            items = json.loads(body)
        except ValueError as exc:
            raise NoticeError(f"not JSON: {exc}") from None
        if not isinstance(items, list):
            raise NoticeError("not a list of notices")
        out.extend(_notice(i) for i in items)
    return out
