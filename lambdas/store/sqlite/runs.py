"""RunHistory on SQLite."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ..ports import RunRecord

if TYPE_CHECKING:
    from .database import SqliteDatabase


class SqliteRunHistory:
    """RunHistory on SQLite: one row per tenant and session ticket."""

    _TABLE = """
    CREATE TABLE IF NOT EXISTS runs (
        tenant TEXT NOT NULL,
        ticket TEXT NOT NULL,
        started_at REAL NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (tenant, ticket)
    );
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(self._TABLE)

    def add(self, run: RunRecord) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO runs (tenant, ticket, started_at, item) "
                "VALUES (?, ?, ?, ?)",
                (run.tenant, run.ticket, run.started_at, json.dumps(run.to_item())),
            )

    def recent(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        rows = (
            self._db.connection()
            .execute(
                "SELECT item FROM runs WHERE tenant = ? ORDER BY started_at DESC LIMIT ?",
                (tenant, limit),
            )
            .fetchall()
        )
        return [RunRecord.from_item(json.loads(item)) for (item,) in rows]

    def count(self, tenant: str) -> int:
        row = (
            self._db.connection()
            .execute("SELECT COUNT(*) FROM runs WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return int(row[0])

    def delete_tenant(self, tenant: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM runs WHERE tenant = ?", (tenant,)).rowcount
