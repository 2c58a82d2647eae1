"""Identity and version rules of canonical records.

A record is identified by (tenant, source, entity, source id): QuickBooks Desktop and QuickBooks
Online have separate id spaces, so the source is part of every key. Versions order the states
of one record: QuickBooks' EditSequence (Desktop) or SyncToken (Online) when the record has one,
else its modification (or deletion) time. A deletion names the record it removes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .entities import DELETION_ENTITIES

SOURCE_QBD = "qbd"  # QuickBooks Desktop through the Web Connector
SOURCE_QBO = "qbo"  # QuickBooks Online
SOURCES: tuple[str, ...] = (SOURCE_QBD, SOURCE_QBO)


class IdentityError(ValueError):
    """A record cannot be identified (no id, or an unknown deletion type)."""


def source_id(record: dict[str, Any]) -> str:
    """The QuickBooks id of a canonical record: its ListID or TxnID."""
    value = record.get("list_id") or record.get("txn_id")
    if not value:
        raise IdentityError(
            f"a {record.get('entity') or 'record'} without ListID or TxnID cannot be synced"
        )
    return str(value)


def deletion_target(record: dict[str, Any]) -> tuple[str, str]:
    """(entity, source id) that a ListDeleted / TxnDeleted record removes."""
    if record.get("entity") == "ListDeleted":
        kind = str(record.get("list_del_type") or "")
        # ItemService, ItemInventory, ... are all one canonical entity.
        return ("Item" if kind.startswith("Item") else kind), str(record.get("list_id") or "")
    return str(record.get("txn_del_type") or ""), str(record.get("txn_id") or "")


def target(record: dict[str, Any]) -> tuple[str, str]:
    """(entity, source id) whose mapping the record updates: itself, or what a deletion removes."""
    entity = str(record.get("entity") or "")
    if entity in DELETION_ENTITIES:
        return deletion_target(record)
    return entity, source_id(record)


def version(record: dict[str, Any]) -> str:
    """What orders versions of one record: EditSequence / SyncToken, else the record's time."""
    return str(
        record.get("edit_sequence")
        or record.get("sync_token")
        or record.get("time_modified")
        or record.get("time_deleted")
        or ""
    )


def version_order(value: str) -> float:
    """A number that orders versions of one record (0 for none or an unreadable one).

    EditSequences and SyncTokens are integers QuickBooks increases on every change; times are
    ISO timestamps (seconds since the epoch; a zone-less one read as UTC). Stores compare this
    number in conditional writes, so both adapters order versions alike.
    """
    if not value:
        return 0.0
    if value.isdigit():
        return float(int(value))
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return 0.0
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def is_older(incoming: str, stored: str) -> bool:
    """True when version ``incoming`` is strictly older than ``stored``.

    Versions of different kinds (a number and a time) or unreadable ones are not called older.
    """
    if not incoming or not stored or incoming.isdigit() != stored.isdigit():
        return False
    a, b = version_order(incoming), version_order(stored)
    return bool(a and b) and a < b
