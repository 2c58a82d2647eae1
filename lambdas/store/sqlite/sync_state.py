"""SyncStateStore on SQLite."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..ports import EntitySyncState

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
