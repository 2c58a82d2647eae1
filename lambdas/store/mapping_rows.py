"""The mapping row's columns, shared by the SQLite and DynamoDB mapping stores.

Each column has one owner: the relay writes ``handed_*`` and ``links``; the forwarder writes the
rest (``claim_token``, ``claimed_order`` and ``claimed_read`` order its writes). Identity
columns are written by whoever creates the row, with the same values.
"""

from __future__ import annotations

import json
from typing import Any

from .ports import Mapping

IDENTITY = ("tenant", "source", "entity", "source_id")
RELAY_COLUMNS = ("handed_hash", "handed_version", "handed_at", "links")
FORWARDER_COLUMNS = (
    "zoho_module",
    "zoho_id",
    "applied_hash",
    "applied_version",
    "status",
    "last_error",
    "outcome_at",
    "claimed_order",
    "claimed_read",
    "applied_fields",
)
NUMBERS = frozenset({"handed_at", "outcome_at", "claimed_order", "claimed_read"})
DELETED = "deleted"


def mapping_from_row(row: dict[str, Any]) -> Mapping:
    """A Mapping from a row's column values (absent or NULL columns take their defaults)."""
    links = row.get("links")
    if isinstance(links, str):
        links = json.loads(links) if links else []
    applied = row.get("applied_fields")
    if isinstance(applied, str):  # SQLite keeps it as JSON text, DynamoDB as a map
        applied = json.loads(applied) if applied else {}

    def text(name: str) -> str:
        value = row.get(name)
        return "" if value is None else str(value)

    def number(name: str) -> float | None:
        value = row.get(name)
        return None if value is None or value == "" else float(value)

    return Mapping(
        tenant=text("tenant"),
        source=text("source"),
        entity=text("entity"),
        source_id=text("source_id"),
        handed_hash=text("handed_hash"),
        handed_version=text("handed_version"),
        handed_at=number("handed_at"),
        links=tuple(links or ()),
        zoho_module=text("zoho_module"),
        zoho_id=row.get("zoho_id") or None,
        applied_hash=text("applied_hash"),
        applied_version=text("applied_version"),
        status=text("status"),
        last_error=row.get("last_error") or None,
        outcome_at=number("outcome_at"),
        claimed_order=number("claimed_order"),
        claimed_read=number("claimed_read"),
        applied_fields={str(k): str(v) for k, v in (applied or {}).items()},
    )


def legacy_columns(item: dict[str, Any]) -> dict[str, Any]:
    """The columns of a row stored as one JSON ``item`` by an earlier release.

    Its single ``content_hash`` was the last queued or applied content; a synced row becomes an
    applied one, any other a handed-off one, so nothing is taken for delivered that was not.
    """
    status = item.get("status") or ""
    out: dict[str, Any] = {k: item.get(k) for k in IDENTITY}
    out.update(zoho_module=item.get("zoho_module"), zoho_id=item.get("zoho_id"))
    digest, version = item.get("content_hash") or "", item.get("version") or ""
    if status in ("synced", DELETED):
        out.update(applied_hash=digest, applied_version=version, status=status)
    else:
        out.update(handed_hash=digest, handed_version=version, handed_at=item.get("updated_at"))
        if status == "failed":
            out.update(status="parked", last_error=item.get("last_error"))
    return out
