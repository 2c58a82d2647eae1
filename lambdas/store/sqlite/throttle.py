"""LoginThrottle on SQLite: one row per key, updated in one transaction per failure."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..ports import ThrottlePolicy
from ..throttle import FailureCounter

if TYPE_CHECKING:
    from .database import SqliteDatabase

AUTH_FAILURES_SCHEMA = """
CREATE TABLE IF NOT EXISTS auth_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start REAL NOT NULL,
    strikes INTEGER NOT NULL,
    blocked_until REAL NOT NULL,
    expires_at REAL NOT NULL
);
"""
_COLUMNS = "failures, window_start, strikes, blocked_until, expires_at"


class SqliteLoginThrottle:
    """LoginThrottle on SQLite (``BEGIN IMMEDIATE`` makes each failure atomic across threads)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(AUTH_FAILURES_SCHEMA)

    @staticmethod
    def _counter(conn: sqlite3.Connection, key: str) -> FailureCounter:
        row = conn.execute(f"SELECT {_COLUMNS} FROM auth_failures WHERE key = ?", (key,)).fetchone()
        return FailureCounter(*row) if row else FailureCounter()

    def blocked(self, keys: Sequence[str], now: float) -> float | None:
        """Until when the most blocked of ``keys`` is blocked; None if none is."""
        conn = self._db.connection()
        until = [
            c.blocked_until
            for c in (self._counter(conn, k) for k in keys)
            if c.live(now) and c.blocked_until > now
        ]
        return max(until, default=None)

    def fail(self, keys: Sequence[str], now: float, policy: ThrottlePolicy) -> float | None:
        """Count a failure against each key not blocked now; the latest block this started."""
        started: list[float] = []
        with self._db.transaction() as conn:
            for key in keys:
                before = self._counter(conn, key)
                after = before.after_failure(now, policy)
                conn.execute(
                    f"INSERT OR REPLACE INTO auth_failures (key, {_COLUMNS}) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        key,
                        after.failures,
                        after.window_start,
                        after.strikes,
                        after.blocked_until,
                        after.expires_at,
                    ),
                )
                if after.blocked_until > now and after.strikes != before.strikes:
                    started.append(after.blocked_until)
            # No TTL here: forgotten keys go as new failures come, so the table stays small.
            conn.execute("DELETE FROM auth_failures WHERE expires_at <= ?", (now,))
        return max(started, default=None)

    def succeed(self, key: str) -> None:
        """Forget the key."""
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM auth_failures WHERE key = ?", (key,))
