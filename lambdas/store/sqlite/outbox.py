"""The local event outbox: the serve process's EventPublisher on SQLite.

``publish`` stores each event once (by its stable id: a repeat is ignored); the worker's webhook
job takes the undispatched ones (``pending``), hands them to the deliverer and marks them
(``mark_dispatched``). Dispatched events older than a retention are pruned.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ...events.publisher import GuardedPublisher
from ...metrics import Metrics
from ...model.events import Event
from ..ports import StoreError

if TYPE_CHECKING:
    from .database import SqliteDatabase

OUTBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    tenant TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    dispatched_at REAL
);
CREATE INDEX IF NOT EXISTS event_outbox_pending ON event_outbox (dispatched_at, seq);
"""


class SqliteOutbox(GuardedPublisher):
    """EventPublisher into the ``event_outbox`` table, and the worker's view of it."""

    def __init__(self, db: SqliteDatabase, metrics: Metrics | None = None) -> None:
        super().__init__(metrics)
        self._db = db
        db.connection().executescript(OUTBOX_SCHEMA)

    def _send(self, events: list[Event]) -> int:
        now = time.time()
        rows = [(e.id, e.type, e.tenant, json.dumps(e.to_json()), now) for e in events]
        try:
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT OR IGNORE INTO event_outbox (id, type, tenant, body, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
        except sqlite3.Error as exc:
            raise StoreError(f"could not store events in {self._db.path}: {exc}") from exc
        return 0

    def pending(self, limit: int = 100) -> list[Event]:
        """The oldest undispatched events."""
        rows = self._db.connection().execute(
            "SELECT body FROM event_outbox WHERE dispatched_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [Event.from_json(json.loads(r[0])) for r in rows.fetchall()]

    def mark_dispatched(self, ids: Sequence[str], at: float) -> None:
        """These events have been handed to the deliverer."""
        with self._db.transaction() as conn:
            conn.executemany(
                "UPDATE event_outbox SET dispatched_at = ? WHERE id = ?", [(at, i) for i in ids]
            )

    def prune(self, before: float) -> int:
        """Forget dispatched events handed on before ``before``; how many."""
        with self._db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM event_outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < ?",
                (before,),
            )
        return cur.rowcount
