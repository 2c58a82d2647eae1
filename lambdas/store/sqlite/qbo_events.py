"""SeenEvents on SQLite: one row per webhook event id, with its expiry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .. import keys

if TYPE_CHECKING:
    from .database import SqliteDatabase

QBO_EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbo_seen_events (
    key TEXT PRIMARY KEY,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS qbo_seen_events_expiry ON qbo_seen_events (expires_at);
"""


class SqliteSeenEvents:
    """SeenEvents on SQLite: a claim is one conditional upsert (``BEGIN IMMEDIATE`` makes the
    check and the write atomic across threads and processes); expired rows are purged as
    claims run, as DynamoDB's TTL removes them."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(QBO_EVENTS_SCHEMA)

    def claim(self, event_ids: Sequence[str], now: float, ttl_seconds: float) -> list[str]:
        claimed = []
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM qbo_seen_events WHERE expires_at <= ?", (now,))
            for event_id in event_ids:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO qbo_seen_events (key, expires_at) VALUES (?, ?)",
                    (keys.qbo_event(event_id), now + ttl_seconds),
                )
                if cur.rowcount:
                    claimed.append(event_id)
        return claimed

    def release(self, event_ids: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM qbo_seen_events WHERE key = ?",
                [(keys.qbo_event(e),) for e in event_ids],
            )
