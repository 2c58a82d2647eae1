"""RecordQueue on SQLite."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..batching import check_message_size
from ..ports import QueueMessage, ReceivedMessage, StoreError
from .forwarder_tables import forwarder_tables

if TYPE_CHECKING:
    from .database import SqliteDatabase

RECORD_QUEUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS record_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    invisible_until REAL NOT NULL DEFAULT 0,
    receives INTEGER NOT NULL DEFAULT 0
);
"""


class SqliteRecordQueue:
    """RecordQueue on SQLite: at-least-once, with SQS's visibility timeout, size limit and
    redrive policy (a message received ``MAX_RECEIVES`` times moves to the dead-letter table on
    its next receive, as SQS moves it past maxReceiveCount)."""

    MAX_RECEIVES = 8

    def __init__(
        self,
        db: SqliteDatabase,
        visibility_timeout: float = 300.0,
        max_receives: int = MAX_RECEIVES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._visibility_timeout = visibility_timeout
        self._max_receives = max_receives
        self._clock = clock
        conn = db.connection()
        columns = {r[1] for r in conn.execute("PRAGMA table_info(record_queue)")}
        if "receives" not in columns:  # a database created by an earlier release
            conn.execute("ALTER TABLE record_queue ADD COLUMN receives INTEGER NOT NULL DEFAULT 0")
        forwarder_tables(db)

    def send(self, messages: Sequence[QueueMessage]) -> None:
        for m in messages:
            check_message_size(m)
        now = self._clock()
        try:
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO record_queue (tenant, dedup_id, body, enqueued_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(m.tenant, m.dedup_id, m.body, now) for m in messages],
                )
        except sqlite3.Error as exc:
            raise StoreError(
                f"could not write to the record queue at {self._db.path}: {exc}"
            ) from exc

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]:
        now = self._clock()
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, tenant, dedup_id, body, receives FROM record_queue "
                "WHERE invisible_until <= ? ORDER BY id LIMIT ?",
                (now, max_messages),
            ).fetchall()
            spent = [r for r in rows if r[4] >= self._max_receives]
            if spent:
                conn.executemany(
                    "INSERT INTO dead_letters (tenant, body, reason, parked_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(r[1], r[3], f"moved by the queue after {r[4]} receives", now) for r in spent],
                )
                conn.executemany("DELETE FROM record_queue WHERE id = ?", [(r[0],) for r in spent])
            rows = [r for r in rows if r[4] < self._max_receives]
            conn.executemany(
                "UPDATE record_queue SET invisible_until = ?, receives = receives + 1 WHERE id = ?",
                [(now + self._visibility_timeout, r[0]) for r in rows],
            )
        return [
            ReceivedMessage(
                QueueMessage(tenant=r[1], dedup_id=r[2], body=r[3]),
                receipt=str(r[0]),
                deliveries=r[4] + 1,
            )
            for r in rows
        ]

    def delete(self, receipts: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM record_queue WHERE id = ?", [(int(r),) for r in receipts])

    def depth(self) -> int:
        """Messages waiting, visible or in flight."""
        return self._db.connection().execute("SELECT COUNT(*) FROM record_queue").fetchone()[0]

    def peek(self, limit: int) -> list[str]:
        """The bodies of the oldest ``limit`` messages, left in place (for inspection)."""
        rows = (
            self._db.connection()
            .execute("SELECT body FROM record_queue ORDER BY id LIMIT ?", (limit,))
            .fetchall()
        )
        return [r[0] for r in rows]
