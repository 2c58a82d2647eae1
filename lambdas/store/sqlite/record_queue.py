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


# Receives serve tenants in turn (see SqliteRecordQueue.receive): this index finds a tenant's
# visible messages, and the next tenant after another, without reading other rows.
_FAIR_SCHEMA = """
CREATE INDEX IF NOT EXISTS record_queue_fair ON record_queue (tenant, invisible_until);
CREATE TABLE IF NOT EXISTS record_queue_turn (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tenant TEXT NOT NULL
);
"""

# Tenants with a visible message, in name order, after ``:after`` (or from the first one) up to
# ``:upto`` (or the last); each step is one index seek, so tenants cost what they number, not
# what they hold.
_TENANTS = """
WITH RECURSIVE t(name) AS (
    SELECT (SELECT MIN(tenant) FROM record_queue {start})
    UNION ALL
    SELECT (SELECT MIN(tenant) FROM record_queue WHERE tenant > t.name) FROM t
    WHERE t.name IS NOT NULL AND (:upto IS NULL OR t.name < :upto)
)
SELECT name FROM t
WHERE name IS NOT NULL AND (:upto IS NULL OR name <= :upto)
    AND EXISTS (SELECT 1 FROM record_queue WHERE tenant = t.name AND invisible_until <= :now)
LIMIT :limit
"""

# A tenant's next visible messages, oldest first: those whose visibility timeout ran out (in the
# order it did), then those never received, in arrival order. Both are index ranges.
_HEAD = """
SELECT id, tenant, dedup_id, body, receives FROM (
    SELECT * FROM (
        SELECT id, tenant, dedup_id, body, receives, 0 AS part, invisible_until AS due
        FROM record_queue WHERE tenant = :tenant AND invisible_until > 0
            AND invisible_until <= :now
        ORDER BY invisible_until, id LIMIT :limit)
    UNION ALL
    SELECT * FROM (
        SELECT id, tenant, dedup_id, body, receives, 1 AS part, 0 AS due
        FROM record_queue WHERE tenant = :tenant AND invisible_until = 0
        ORDER BY id LIMIT :limit)
)
ORDER BY part, due, id LIMIT :limit
"""

_Row = tuple[int, str, str, str, int]


class SqliteRecordQueue:
    """RecordQueue on SQLite: at-least-once, with SQS's visibility timeout, size limit and
    redrive policy (a message received ``MAX_RECEIVES`` times moves to the dead-letter table on
    its next receive, as SQS moves it past maxReceiveCount).

    Receives are fair between tenants, as an SQS fair queue is (its messages grouped by
    tenant): a receive of N messages takes one message from each of the next N tenants that
    have one visible, in name order from where the previous receive stopped, and shares what
    is left over evenly between them when fewer than N have one. A tenant's backlog therefore
    delays another tenant's message by at most one receive's worth of the others' turns.
    """

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
        conn.executescript(_FAIR_SCHEMA)
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
        """Up to ``max_messages`` visible messages, tenants served in turn (see the class)."""
        now = self._clock()
        with self._db.transaction() as conn:
            turn = conn.execute("SELECT tenant FROM record_queue_turn").fetchone()
            tenants = self._tenants(conn, turn[0] if turn else None, now, max_messages)
            rows = self._take(conn, tenants, now, max_messages)
            if rows:  # the next receive starts after the last tenant served
                place = {t: i for i, t in enumerate(tenants)}
                conn.execute(
                    "INSERT INTO record_queue_turn (id, tenant) VALUES (1, ?) "
                    "ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant",
                    (tenants[max(place[r[1]] for r in rows)],),
                )
        return [
            ReceivedMessage(
                QueueMessage(tenant=r[1], dedup_id=r[2], body=r[3]),
                receipt=str(r[0]),
                deliveries=r[4] + 1,
            )
            for r in rows
        ]

    @staticmethod
    def _tenants(conn: sqlite3.Connection, after: str | None, now: float, limit: int) -> list[str]:
        """Up to ``limit`` tenants with a visible message, in turn after ``after``."""
        if after is None:
            query = _TENANTS.format(start="")
            return [r[0] for r in conn.execute(query, {"upto": None, "now": now, "limit": limit})]
        later = [
            r[0]
            for r in conn.execute(
                _TENANTS.format(start="WHERE tenant > :after"),
                {"after": after, "upto": None, "now": now, "limit": limit},
            )
        ]
        if len(later) == limit:
            return later
        earlier = conn.execute(  # round again from the first, up to ``after`` itself
            _TENANTS.format(start=""),
            {"upto": after, "now": now, "limit": limit - len(later)},
        )
        return later + [r[0] for r in earlier]

    def _take(
        self, conn: sqlite3.Connection, tenants: list[str], now: float, limit: int
    ) -> list[_Row]:
        """Up to ``limit`` messages from ``tenants``, evenly; each made invisible, or moved to
        the dead letters once it has been received ``max_receives`` times."""
        taken: list[_Row] = []
        active = tenants
        while active and len(taken) < limit:
            quota = -(-(limit - len(taken)) // len(active))
            kept = []
            for tenant in active:
                want = min(quota, limit - len(taken))
                if want <= 0:
                    break
                rows = conn.execute(_HEAD, {"tenant": tenant, "now": now, "limit": want}).fetchall()
                taken += self._claim(conn, rows, now)
                if len(rows) == want:
                    kept.append(tenant)
            active = kept
        return taken

    def _claim(self, conn: sqlite3.Connection, rows: list[_Row], now: float) -> list[_Row]:
        spent = [r for r in rows if r[4] >= self._max_receives]
        if spent:
            conn.executemany(
                "INSERT INTO dead_letters (tenant, body, reason, parked_at) VALUES (?, ?, ?, ?)",
                [(r[1], r[3], f"moved by the queue after {r[4]} receives", now) for r in spent],
            )
            conn.executemany("DELETE FROM record_queue WHERE id = ?", [(r[0],) for r in spent])
        rows = [r for r in rows if r[4] < self._max_receives]
        conn.executemany(
            "UPDATE record_queue SET invisible_until = ?, receives = receives + 1 WHERE id = ?",
            [(now + self._visibility_timeout, r[0]) for r in rows],
        )
        return rows

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
