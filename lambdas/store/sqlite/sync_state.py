"""SyncStateStore on SQLite."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..ports import WINDOW_HOURS, EntitySyncState, HandoffWindow, window_hour

if TYPE_CHECKING:
    from .database import SqliteDatabase


class SqliteSyncStateStore:
    """SyncStateStore on SQLite: one row per tenant and entity."""

    _TABLE = """
    CREATE TABLE IF NOT EXISTS sync_state (
        tenant TEXT NOT NULL,
        entity TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (tenant, entity)
    );
    CREATE TABLE IF NOT EXISTS refetch_requests (
        tenant TEXT NOT NULL,
        source TEXT NOT NULL,
        entity TEXT NOT NULL,
        source_id TEXT NOT NULL,
        PRIMARY KEY (tenant, source, entity, source_id)
    );
    CREATE TABLE IF NOT EXISTS handoff_window (
        tenant TEXT NOT NULL,
        hour INTEGER NOT NULL,
        records INTEGER NOT NULL DEFAULT 0,
        deletions INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant, hour)
    );
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(self._TABLE)

    def get_all(self, tenant: str) -> dict[str, EntitySyncState]:
        rows = (
            self._db.connection()
            .execute("SELECT entity, item FROM sync_state WHERE tenant = ?", (tenant,))
            .fetchall()
        )
        return {entity: EntitySyncState.from_item(json.loads(item)) for entity, item in rows}

    def put(self, state: EntitySyncState) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sync_state (tenant, entity, item) VALUES (?, ?, ?)",
                (state.tenant, state.entity, json.dumps(state.to_item())),
            )

    def delete_tenant(self, tenant: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM sync_state WHERE tenant = ?", (tenant,))
            conn.execute("DELETE FROM refetch_requests WHERE tenant = ?", (tenant,))
            conn.execute("DELETE FROM handoff_window WHERE tenant = ?", (tenant,))

    def reset(self, tenant: str, entities: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            for entity in dict.fromkeys(entities):
                row = conn.execute(
                    "SELECT item FROM sync_state WHERE tenant = ? AND entity = ?",
                    (tenant, entity),
                ).fetchone()
                if row is None:
                    continue  # never synced: the next session reads it whole anyway
                state = EntitySyncState.from_item(json.loads(row[0]))
                state.watermark = None
                conn.execute(
                    "UPDATE sync_state SET item = ? WHERE tenant = ? AND entity = ?",
                    (json.dumps(state.to_item()), tenant, entity),
                )

    def request_refetch(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> None:
        if not source_ids:
            return
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO refetch_requests (tenant, source, entity, source_id) "
                "VALUES (?, ?, ?, ?)",
                [(tenant, source, entity, i) for i in source_ids],
            )

    def pending_refetch(self, tenant: str, source: str) -> dict[str, list[str]]:
        rows = (
            self._db.connection()
            .execute(
                "SELECT entity, source_id FROM refetch_requests WHERE tenant = ? AND source = ? "
                "ORDER BY entity, source_id",
                (tenant, source),
            )
            .fetchall()
        )
        out: dict[str, list[str]] = {}
        for entity, sid in rows:
            out.setdefault(entity, []).append(sid)
        return out

    def clear_refetch(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> None:
        if not source_ids:
            return
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM refetch_requests WHERE tenant = ? AND source = ? AND entity = ? "
                "AND source_id = ?",
                [(tenant, source, entity, i) for i in source_ids],
            )

    def count_handoffs(self, tenant: str, at: float, records: int, deletions: int) -> None:
        hour = window_hour(at)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO handoff_window (tenant, hour, records, deletions) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (tenant, hour) DO UPDATE SET records = records + excluded.records, "
                "deletions = deletions + excluded.deletions",
                (tenant, hour, records, deletions),
            )
            conn.execute(
                "DELETE FROM handoff_window WHERE tenant = ? AND hour <= ?",
                (tenant, hour - WINDOW_HOURS),
            )

    def handoff_window(self, tenant: str, at: float) -> HandoffWindow:
        hour = window_hour(at)
        records, deletions = (
            self._db.connection()
            .execute(
                "SELECT COALESCE(SUM(records), 0), COALESCE(SUM(deletions), 0) "
                "FROM handoff_window WHERE tenant = ? AND hour > ? AND hour <= ?",
                (tenant, hour - WINDOW_HOURS, hour),
            )
            .fetchone()
        )
        return HandoffWindow(int(records), int(deletions))
