"""TenantStore on SQLite."""

from __future__ import annotations

import json
import sqlite3
from typing import TYPE_CHECKING

from qwc import new_guid

from .. import keys
from ..ports import AlreadyExists, StoreError, Tenant

if TYPE_CHECKING:
    from .database import SqliteDatabase

TENANTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    name TEXT PRIMARY KEY,
    qbwc_user TEXT NOT NULL UNIQUE,
    item TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_sessions (
    name TEXT PRIMARY KEY,
    last_summary TEXT NOT NULL,
    last_sync_at REAL
);
CREATE TABLE IF NOT EXISTS tenant_clients (
    name TEXT PRIMARY KEY,
    qbwc_version TEXT NOT NULL,
    seen_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tenant_seen (
    name TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
"""
# The settings (written by the CLI) with the relay's facts of the last session and of the Web
# Connector beside them.
_SELECT = (
    "SELECT t.item, s.last_summary, s.last_sync_at, c.qbwc_version, c.seen_at, a.seen_at "
    "FROM tenants t "
    "LEFT JOIN tenant_sessions s ON s.name = t.name "
    "LEFT JOIN tenant_clients c ON c.name = t.name "
    "LEFT JOIN tenant_seen a ON a.name = t.name"
)


def _tenant(
    row: tuple[str, str | None, float | None, str | None, float | None, float | None],
) -> Tenant:
    tenant = Tenant.from_item(json.loads(row[0]))
    if row[1] is not None:
        tenant.last_summary = row[1]
    if row[2] is not None:
        tenant.last_sync_at = row[2]
    if row[3] is not None:
        tenant.qbwc_version, tenant.qbwc_seen_at = row[3], row[4]
    if row[5] is not None:
        tenant.last_seen_at = row[5]
    return tenant


# Deployment-wide values (the QBWC OwnerID), one row per key, written once.
_SETTINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS deployment_settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_OWNER_ID_KEY = "qbwc_owner_id"


class SqliteTenantStore:
    """TenantStore on SQLite."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(_SETTINGS_SCHEMA)

    def create(self, tenant: Tenant) -> None:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO tenants (name, qbwc_user, item) VALUES (?, ?, ?)",
                    (tenant.name, tenant.qbwc_user, json.dumps(tenant.to_item())),
                )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(keys.tenant_exists(tenant.name, tenant.qbwc_user)) from exc

    def _one(self, column: str, value: str) -> Tenant | None:
        row = self._db.connection().execute(f"{_SELECT} WHERE t.{column} = ?", (value,)).fetchone()
        return _tenant(row) if row else None

    def get(self, name: str) -> Tenant | None:
        return self._one("name", name)

    def find_by_user(self, qbwc_user: str) -> Tenant | None:
        return self._one("qbwc_user", qbwc_user)

    def list(self) -> list[Tenant]:
        rows = self._db.connection().execute(f"{_SELECT} ORDER BY t.name").fetchall()
        return [_tenant(r) for r in rows]

    def update(self, tenant: Tenant) -> None:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT item FROM tenants WHERE name = ? AND qbwc_user = ?",
                (tenant.name, tenant.qbwc_user),
            ).fetchone()
            if row is None:
                raise StoreError(keys.no_tenant_to_update(tenant.name))
            tenant.file_id = json.loads(row[0]).get("file_id") or ""
            conn.execute(
                "UPDATE tenants SET item = ? WHERE name = ?",
                (json.dumps(tenant.to_item()), tenant.name),
            )

    def record_session(self, name: str, summary: str, synced_at: float | None) -> None:
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone() is None:
                raise StoreError(keys.no_tenant_to_update(name))
            conn.execute(
                "INSERT INTO tenant_sessions (name, last_summary, last_sync_at) VALUES (?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET last_summary = excluded.last_summary, "
                "last_sync_at = COALESCE(excluded.last_sync_at, last_sync_at)",
                (name, summary, synced_at),
            )

    def record_client(self, name: str, qbwc_version: str, at: float) -> None:
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone() is None:
                raise StoreError(keys.no_tenant_to_update(name))
            conn.execute(
                "INSERT OR REPLACE INTO tenant_clients (name, qbwc_version, seen_at) "
                "VALUES (?, ?, ?)",
                (name, qbwc_version, at),
            )

    def record_seen(self, name: str, at: float) -> None:
        with self._db.transaction() as conn:
            if conn.execute("SELECT 1 FROM tenants WHERE name = ?", (name,)).fetchone() is None:
                raise StoreError(keys.no_tenant_to_update(name))
            conn.execute(
                "INSERT OR REPLACE INTO tenant_seen (name, seen_at) VALUES (?, ?)", (name, at)
            )

    def delete(self, name: str) -> bool:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM tenant_sessions WHERE name = ?", (name,))
            conn.execute("DELETE FROM tenant_clients WHERE name = ?", (name,))
            conn.execute("DELETE FROM tenant_seen WHERE name = ?", (name,))
            return conn.execute("DELETE FROM tenants WHERE name = ?", (name,)).rowcount == 1

    def find_by_file_id(self, file_id: str) -> Tenant | None:
        if not file_id:
            return None
        # A scan, which is fine for the handful of tenants one local process serves.
        row = (
            self._db.connection()
            .execute(
                f"{_SELECT} WHERE upper(json_extract(t.item, '$.file_id')) = ?",
                (file_id.upper(),),
            )
            .fetchone()
        )
        return _tenant(row) if row else None

    def ensure_file_id(self, name: str) -> str:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT item FROM tenants WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StoreError(keys.no_tenant(name))
            item = json.loads(row[0])
            if item.get("file_id"):
                return str(item["file_id"])
            item["file_id"] = new_guid()
            conn.execute("UPDATE tenants SET item = ? WHERE name = ?", (json.dumps(item), name))
            return str(item["file_id"])

    def deployment_owner_id(self) -> str:
        query = "SELECT value FROM deployment_settings WHERE key = ?"
        row = self._db.connection().execute(query, (_OWNER_ID_KEY,)).fetchone()
        if row is None:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO deployment_settings (key, value) VALUES (?, ?)",
                    (_OWNER_ID_KEY, new_guid()),
                )
                row = conn.execute(query, (_OWNER_ID_KEY,)).fetchone()
        return str(row[0])
