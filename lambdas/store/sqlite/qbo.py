"""QuickBooks Online stores on SQLite: connections, OAuth states, per-realm limits."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from ...qbo.connections import DISCONNECTED, STATUSES, QboConnection
from ...qbo.limits import LimiterState
from ...qbo.states import OAuthState
from ..ports import AlreadyExists, StoreError

if TYPE_CHECKING:
    from .database import SqliteDatabase

T = TypeVar("T")

QBO_SCHEMA = """
CREATE TABLE IF NOT EXISTS qbo_connections (
    tenant TEXT PRIMARY KEY,
    realm_id TEXT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    access_expires_at REAL,
    refresh_expires_at REAL,
    refresh_hard_expires_at REAL,
    connected_at REAL,
    last_success_at REAL,
    lease_holder TEXT,
    lease_until REAL
);
-- A realm belongs to one tenant at a time (webhooks are routed by realm).
CREATE UNIQUE INDEX IF NOT EXISTS qbo_connections_realm
    ON qbo_connections (realm_id) WHERE status != 'disconnected';
CREATE TABLE IF NOT EXISTS qbo_oauth_states (
    key TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    expires_at REAL NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS qbo_limits (
    realm_id TEXT PRIMARY KEY,
    state TEXT NOT NULL
);
"""
_META = (
    "realm_id",
    "status",
    "message",
    "access_expires_at",
    "refresh_expires_at",
    "refresh_hard_expires_at",
    "connected_at",
    "last_success_at",
)
_COLUMNS = "tenant, " + ", ".join(_META)


def _connection(row: sqlite3.Row | tuple) -> QboConnection:
    return QboConnection.from_item(dict(zip(("tenant", *_META), row, strict=True)))


class SqliteQboConnectionStore:
    """QboConnectionStore on table ``qbo_connections`` (a partial unique index on the realm)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(QBO_SCHEMA)

    def get(self, tenant: str) -> QboConnection | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM qbo_connections WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return _connection(row) if row else None

    def find_by_realm(self, realm_id: str) -> QboConnection | None:
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_COLUMNS} FROM qbo_connections WHERE realm_id = ? AND status != ?",
                (realm_id, DISCONNECTED),
            )
            .fetchone()
        )
        return _connection(row) if row else None

    def list(self) -> list[QboConnection]:
        rows = (
            self._db.connection()
            .execute(f"SELECT {_COLUMNS} FROM qbo_connections ORDER BY tenant")
            .fetchall()
        )
        return [_connection(r) for r in rows]

    def connect(self, connection: QboConnection) -> None:
        item = connection.to_item()
        values = [item[k] for k in ("tenant", *_META)]
        updates = ", ".join(f"{k} = excluded.{k}" for k in _META)
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    f"INSERT INTO qbo_connections ({_COLUMNS}) VALUES "
                    f"({', '.join('?' for _ in values)}) "
                    f"ON CONFLICT (tenant) DO UPDATE SET {updates}",
                    values,
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(
                f"QuickBooks Online realm {connection.realm_id} is connected to another tenant"
            ) from None

    def _set(self, tenant: str, assignments: dict[str, object]) -> None:
        setter = ", ".join(f"{k} = ?" for k in assignments)
        with self._db.transaction() as conn:
            cur = conn.execute(
                f"UPDATE qbo_connections SET {setter} WHERE tenant = ?",
                (*assignments.values(), tenant),
            )
        if cur.rowcount == 0:
            raise StoreError(f"no QuickBooks Online connection for tenant {tenant!r}")

    def record_tokens(
        self,
        tenant: str,
        access_expires_at: float,
        refresh_expires_at: float,
        refresh_hard_expires_at: float | None,
    ) -> None:
        values: dict[str, object] = {
            "access_expires_at": access_expires_at,
            "refresh_expires_at": refresh_expires_at,
        }
        if refresh_hard_expires_at is not None:
            values["refresh_hard_expires_at"] = refresh_hard_expires_at
        self._set(tenant, values)

    def mark(self, tenant: str, status: str, message: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown connection status {status!r}")
        self._set(tenant, {"status": status, "message": message})

    def record_success(self, tenant: str, at: float) -> None:
        self._set(tenant, {"last_success_at": at})

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute(
                "UPDATE qbo_connections SET lease_holder = ?, lease_until = ? WHERE tenant = ? "
                "AND (lease_until IS NULL OR lease_until <= ? OR lease_holder = ?)",
                (holder, now + seconds, tenant, now, holder),
            )
        return cur.rowcount == 1

    def release_lease(self, tenant: str, holder: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE qbo_connections SET lease_holder = NULL, lease_until = NULL "
                "WHERE tenant = ? AND lease_holder = ?",
                (tenant, holder),
            )

    def delete(self, tenant: str) -> bool:
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM qbo_connections WHERE tenant = ?", (tenant,))
        return cur.rowcount == 1


class SqliteOAuthStateStore:
    """OAuthStateStore on table ``qbo_oauth_states``; expired rows go as new states come."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(QBO_SCHEMA)

    def put(self, key: str, state: OAuthState) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM qbo_oauth_states WHERE expires_at <= ?", (state.created_at,))
            conn.execute(
                "INSERT INTO qbo_oauth_states (key, tenant, expires_at, created_at) "
                "VALUES (?, ?, ?, ?)",
                (key, state.tenant, state.expires_at, state.created_at),
            )

    def consume(self, key: str, now: float) -> OAuthState | None:
        with self._db.transaction() as conn:
            row = conn.execute(
                "DELETE FROM qbo_oauth_states WHERE key = ? "
                "RETURNING tenant, expires_at, created_at",
                (key,),
            ).fetchone()
        if row is None or float(row[1]) <= now:
            return None
        return OAuthState(tenant=row[0], expires_at=float(row[1]), created_at=float(row[2]))


class SqliteRealmLimitStore:
    """RealmLimitStore on table ``qbo_limits`` (one JSON state per realm, changed in a
    write-locking transaction, so processes sharing the file see one schedule)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(QBO_SCHEMA)

    def _read(self, conn: sqlite3.Connection, realm_id: str) -> LimiterState:
        row = conn.execute(
            "SELECT state FROM qbo_limits WHERE realm_id = ?", (realm_id,)
        ).fetchone()
        return LimiterState.from_item(json.loads(row[0])) if row else LimiterState()

    def update(self, realm_id: str, change: Callable[[LimiterState], T]) -> T:
        with self._db.transaction() as conn:
            state = self._read(conn, realm_id)
            result = change(state)
            conn.execute(
                "INSERT INTO qbo_limits (realm_id, state) VALUES (?, ?) "
                "ON CONFLICT (realm_id) DO UPDATE SET state = excluded.state",
                (realm_id, json.dumps(state.to_item())),
            )
        return result

    def get(self, realm_id: str) -> LimiterState:
        return self._read(self._db.connection(), realm_id)
