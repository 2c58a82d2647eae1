"""DeadLetterQueue on SQLite."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..ports import DeadLetter, HeldLetter, StoreError
from .forwarder_tables import forwarder_tables

if TYPE_CHECKING:
    from .database import SqliteDatabase


class SqliteDeadLetterQueue:
    """DeadLetterQueue on SQLite: parked records stay in a table for inspection."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        forwarder_tables(db)

    def send(self, letters: Sequence[DeadLetter]) -> None:
        now = time.time()
        try:
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO dead_letters (tenant, body, reason, parked_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(x.tenant, x.body, x.reason, x.parked_at or now) for x in letters],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"could not park records in {self._db.path}: {exc}") from exc

    def list(self, tenant: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` parked records (of ``tenant`` if given)."""
        sql = "SELECT tenant, body, reason, parked_at FROM dead_letters"
        args: list[Any] = []
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args.append(tenant)
        rows = self._db.connection().execute(sql + " ORDER BY id LIMIT ?", [*args, limit])
        return [DeadLetter(*r) for r in rows.fetchall()]

    def hold(self, limit: int = 100, seconds: float = 60.0) -> list[HeldLetter]:
        now = time.time()
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, tenant, body, reason, parked_at FROM dead_letters "
                "WHERE invisible_until <= ? ORDER BY id LIMIT ?",
                (now, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE dead_letters SET invisible_until = ? WHERE id = ?",
                [(now + seconds, r[0]) for r in rows],
            )
        return [HeldLetter(DeadLetter(r[1], r[2], r[3], r[4]), str(r[0])) for r in rows]

    def release(self, receipts: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE dead_letters SET invisible_until = 0 WHERE id = ?",
                [(int(r),) for r in receipts],
            )

    def remove(self, receipts: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM dead_letters WHERE id = ?", [(int(r),) for r in receipts])
