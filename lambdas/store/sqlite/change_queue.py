"""ChangeQueue on SQLite: the QuickBooks Online change queue of the local process."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..ports import StoreError
from ..qbo_ports import QueuedChange, ReceivedChange

if TYPE_CHECKING:
    from .database import SqliteDatabase

log = logging.getLogger(__name__)

CHANGE_QUEUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbo_change_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    realm TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    invisible_until REAL NOT NULL DEFAULT 0,
    receives INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS qbo_change_queue_realm ON qbo_change_queue (realm, id);
CREATE TABLE IF NOT EXISTS qbo_change_turns (
    realm TEXT PRIMARY KEY,
    served INTEGER NOT NULL
);
"""

# Messages of realms with none in flight: the oldest of every realm first, then each realm's
# second oldest, and so on (round robin within a receive), realms served longest ago first
# (round robin across receives), so one realm's backlog never fills a receive or holds the next.
_FAIR = """
SELECT q.id, q.realm, q.dedup_id, q.body, q.receives FROM (
    SELECT id, realm, dedup_id, body, receives,
           ROW_NUMBER() OVER (PARTITION BY realm ORDER BY id) AS turn
    FROM qbo_change_queue
    WHERE realm NOT IN (SELECT realm FROM qbo_change_queue WHERE invisible_until > :now)
) AS q LEFT JOIN qbo_change_turns AS t ON t.realm = q.realm
ORDER BY q.turn, COALESCE(t.served, 0), q.id LIMIT :limit
"""


class SqliteChangeQueue:
    """ChangeQueue on SQLite with SQS FIFO's semantics per realm (a realm in flight is held
    back), a visibility timeout, and a receive limit: a message received ``max_receives``
    times is dropped with a warning on its next receive (the change-data-capture catch-up
    brings whatever it named; on AWS the redrive policy moves it to a dead-letter queue)."""

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
        db.connection().executescript(CHANGE_QUEUE_SCHEMA)

    def send(self, changes: Sequence[QueuedChange]) -> None:
        now = self._clock()
        try:
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO qbo_change_queue (realm, dedup_id, body, enqueued_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(c.realm, c.dedup_id, c.body, now) for c in changes],
                )
        except sqlite3.Error as exc:
            raise StoreError(
                f"could not write to the change queue at {self._db.path}: {exc}"
            ) from exc

    def receive(self, max_messages: int = 10) -> list[ReceivedChange]:
        now = self._clock()
        with self._db.transaction() as conn:
            rows = conn.execute(_FAIR, {"now": now, "limit": max_messages}).fetchall()
            spent = [r for r in rows if r[4] >= self._max_receives]
            for r in spent:
                log.warning(
                    "dropping a change of realm %s received %d times (the catch-up brings it)",
                    r[1],
                    r[4],
                )
            conn.executemany("DELETE FROM qbo_change_queue WHERE id = ?", [(r[0],) for r in spent])
            rows = [r for r in rows if r[4] < self._max_receives]
            conn.executemany(
                "UPDATE qbo_change_queue SET invisible_until = ?, receives = receives + 1 "
                "WHERE id = ?",
                [(now + self._visibility_timeout, r[0]) for r in rows],
            )
            (served,) = conn.execute(
                "SELECT COALESCE(MAX(served), 0) FROM qbo_change_turns"
            ).fetchone()
            conn.executemany(
                "INSERT INTO qbo_change_turns (realm, served) VALUES (?, ?) "
                "ON CONFLICT (realm) DO UPDATE SET served = excluded.served",
                [
                    (realm, served + i + 1)
                    for i, realm in enumerate(dict.fromkeys(r[1] for r in rows))
                ],
            )
        return [
            ReceivedChange(QueuedChange(r[1], r[3], r[2]), receipt=str(r[0]), deliveries=r[4] + 1)
            for r in rows
        ]

    def delete(self, receipts: Sequence[str]) -> None:
        with self._db.transaction() as conn:
            conn.executemany(
                "DELETE FROM qbo_change_queue WHERE id = ?", [(int(r),) for r in receipts]
            )

    def depth(self) -> int:
        """Messages waiting, visible or in flight."""
        return self._db.connection().execute("SELECT COUNT(*) FROM qbo_change_queue").fetchone()[0]
