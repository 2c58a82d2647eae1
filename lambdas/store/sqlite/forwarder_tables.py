"""The tables of the ZOHO forwarder's SQLite adapters; each creates them on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .database import SqliteDatabase

# Tables of the ZOHO forwarder; each adapter creates its own on first use.
_FORWARDER_SCHEMA = """
CREATE TABLE IF NOT EXISTS forwarder_state (
    tenant TEXT PRIMARY KEY,
    pause_until REAL NOT NULL DEFAULT 0,
    pause_reason TEXT NOT NULL DEFAULT '',
    mapping TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    body TEXT NOT NULL,
    reason TEXT NOT NULL,
    parked_at REAL NOT NULL,
    invisible_until REAL NOT NULL DEFAULT 0
);
"""


def forwarder_tables(db: SqliteDatabase) -> None:
    conn = db.connection()
    conn.executescript(_FORWARDER_SCHEMA)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(dead_letters)")}
    if "invisible_until" not in columns:  # a database created by an earlier release
        conn.execute("ALTER TABLE dead_letters ADD COLUMN invisible_until REAL NOT NULL DEFAULT 0")
