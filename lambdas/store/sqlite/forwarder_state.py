"""ForwarderState on SQLite."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..ports import Pause
from .forwarder_tables import forwarder_tables

if TYPE_CHECKING:
    from .database import SqliteDatabase


class SqliteForwarderState:
    """ForwarderState on SQLite: one row per tenant."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        forwarder_tables(db)

    def pause(self, tenant: str, until: float, reason: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO forwarder_state (tenant, pause_until, pause_reason) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET pause_until = excluded.pause_until, "
                "pause_reason = excluded.pause_reason WHERE pause_until < excluded.pause_until",
                (tenant, until, reason),
            )

    def paused(self, tenant: str, now: float) -> Pause | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT pause_until, pause_reason FROM forwarder_state WHERE tenant = ?", (tenant,)
            )
            .fetchone()
        )
        return Pause(row[0], row[1]) if row and row[0] > now else None

    def resume(self, tenant: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE forwarder_state SET pause_until = 0, pause_reason = '' WHERE tenant = ?",
                (tenant,),
            )

    def get_mapping(self, tenant: str) -> dict[str, Any] | None:
        row = (
            self._db.connection()
            .execute("SELECT mapping FROM forwarder_state WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return json.loads(row[0]) if row and row[0] else None

    def put_mapping(self, tenant: str, mapping: dict[str, Any] | None) -> None:
        text = json.dumps(mapping) if mapping is not None else None
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO forwarder_state (tenant, mapping) VALUES (?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET mapping = excluded.mapping",
                (tenant, text),
            )

    def delete_tenant(self, tenant: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM forwarder_state WHERE tenant = ?", (tenant,))
