"""ApiKeyStore on SQLite."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from .. import keys
from ..ports import AlreadyExists, ApiKey

if TYPE_CHECKING:
    from .database import SqliteDatabase


class SqliteApiKeyStore:
    """ApiKeyStore on SQLite: one row per key (hash only)."""

    _TABLE = """
    CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        secret_hash TEXT NOT NULL,
        created_at REAL NOT NULL,
        last_used_at REAL
    );
    """
    _COLUMNS = "key_id, name, secret_hash, created_at, last_used_at"

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(self._TABLE)

    def add(self, key: ApiKey) -> None:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    f"INSERT INTO api_keys ({self._COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                    (key.key_id, key.name, key.secret_hash, key.created_at, key.last_used_at),
                )
        except sqlite3.IntegrityError:
            raise AlreadyExists(keys.api_key_exists(key.key_id)) from None

    def get(self, key_id: str) -> ApiKey | None:
        row = (
            self._db.connection()
            .execute(f"SELECT {self._COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
            .fetchone()
        )
        return ApiKey(*row) if row else None

    def list(self) -> list[ApiKey]:
        rows = (
            self._db.connection()
            .execute(f"SELECT {self._COLUMNS} FROM api_keys ORDER BY created_at, key_id")
            .fetchall()
        )
        return [ApiKey(*row) for row in rows]

    def delete(self, key_id: str) -> bool:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM api_keys WHERE key_id = ?", (key_id,)).rowcount == 1

    def touch(self, key_id: str, at: float) -> None:
        with self._db.transaction() as conn:
            conn.execute("UPDATE api_keys SET last_used_at = ? WHERE key_id = ?", (at, key_id))
