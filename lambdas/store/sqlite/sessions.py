"""SessionStore on SQLite."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .. import keys
from ..ports import ConcurrentUpdate, SessionRecord

if TYPE_CHECKING:
    from .database import SqliteDatabase

SESSIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    ticket TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    expires_at REAL NOT NULL,
    version INTEGER NOT NULL,
    closed INTEGER NOT NULL,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS session_locks (
    tenant TEXT PRIMARY KEY,
    ticket TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS client_notes (
    address TEXT PRIMARY KEY,
    qbwc_version TEXT NOT NULL,
    expires_at REAL NOT NULL
);
"""


class SqliteSessionStore:
    """SessionStore on SQLite; a lock row per tenant enforces one live session."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def create(self, session: SessionRecord, now: float) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT expires_at FROM session_locks WHERE tenant = ?", (session.tenant,)
            ).fetchone()
            if row and row[0] > now:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO session_locks (tenant, ticket, expires_at) "
                "VALUES (?, ?, ?)",
                (session.tenant, session.ticket, session.lease_until),
            )
            conn.execute(
                "INSERT INTO sessions (ticket, tenant, expires_at, version, closed, state) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    session.ticket,
                    session.tenant,
                    session.expires_at,
                    session.version,
                    int(session.closed),
                    json.dumps(session.state),
                ),
            )
            # Expired sessions are of no further use; keep the table small.
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now - 86400,))
        return True

    def get(self, ticket: str, now: float) -> SessionRecord | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT ticket, tenant, expires_at, version, closed, state FROM sessions "
                "WHERE ticket = ?",
                (ticket,),
            )
            .fetchone()
        )
        if row is None or row[2] <= now:
            return None
        return SessionRecord(
            ticket=row[0],
            tenant=row[1],
            expires_at=row[2],
            version=row[3],
            closed=bool(row[4]),
            state=json.loads(row[5]),
        )

    def save(self, session: SessionRecord) -> None:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE sessions SET expires_at = ?, version = ?, closed = ?, state = ? "
                "WHERE ticket = ? AND version = ?",
                (
                    session.expires_at,
                    session.version + 1,
                    int(session.closed),
                    json.dumps(session.state),
                    session.ticket,
                    session.version,
                ),
            )
            if cur.rowcount != 1:
                raise ConcurrentUpdate(keys.session_changed(session.ticket))
            conn.execute(
                "UPDATE session_locks SET expires_at = ? WHERE tenant = ? AND ticket = ?",
                (session.lease_until, session.tenant, session.ticket),
            )
        session.version += 1

    def close(self, session: SessionRecord) -> None:
        session.closed = True
        self.save(session)
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM session_locks WHERE tenant = ? AND ticket = ?",
                (session.tenant, session.ticket),
            )

    def lock_until(self, tenant: str, now: float) -> float | None:
        row = (
            self._db.connection()
            .execute("SELECT expires_at FROM session_locks WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return float(row[0]) if row and row[0] > now else None

    def note_client(self, address: str, qbwc_version: str, now: float, expires_at: float) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO client_notes (address, qbwc_version, expires_at) "
                "VALUES (?, ?, ?)",
                (address, qbwc_version, expires_at),
            )
            # No TTL here: expired notes go as new ones come, so the table stays small.
            conn.execute("DELETE FROM client_notes WHERE expires_at <= ?", (now,))

    def client_note(self, address: str, now: float) -> str | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT qbwc_version, expires_at FROM client_notes WHERE address = ?", (address,)
            )
            .fetchone()
        )
        return str(row[0]) if row and row[1] > now else None

    def end_sessions(self, tenant: str, now: float) -> int:
        """Close the tenant's live sessions (bumping their version) and free its lock."""
        with self._db.transaction() as conn:
            # The version bump makes a save from a request already in flight fail as well.
            cur = conn.execute(
                "UPDATE sessions SET closed = 1, version = version + 1 "
                "WHERE tenant = ? AND closed = 0 AND expires_at > ?",
                (tenant, now),
            )
            conn.execute("DELETE FROM session_locks WHERE tenant = ?", (tenant,))
        return cur.rowcount
