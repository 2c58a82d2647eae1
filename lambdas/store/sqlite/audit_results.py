"""AuditResults on SQLite."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .database import SqliteDatabase


class SqliteAuditResults:
    """AuditResults on SQLite: one row per tenant, the summary as JSON."""

    _TABLE = """
    CREATE TABLE IF NOT EXISTS audit_results (
        tenant TEXT PRIMARY KEY,
        at REAL NOT NULL,
        item TEXT NOT NULL
    );
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(self._TABLE)

    def save(self, tenant: str, summary: dict[str, Any], at: float) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO audit_results (tenant, at, item) VALUES (?, ?, ?)",
                (tenant, at, json.dumps(summary, sort_keys=True)),
            )

    def last(self, tenant: str) -> tuple[dict[str, Any], float] | None:
        row = (
            self._db.connection()
            .execute("SELECT item, at FROM audit_results WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return (json.loads(row[0]), float(row[1])) if row else None

    def delete_tenant(self, tenant: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM audit_results WHERE tenant = ?", (tenant,))
