"""SQLite adapters: the embedded default store of the local process.

One database file in the data directory holds every table. Each thread gets its own connection
(the WSGI server is multi-threaded); writes that must be atomic run in ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qwc import new_guid

from .ports import (
    AlreadyExists,
    ConcurrentUpdate,
    DeadLetter,
    EntitySyncState,
    Mapping,
    Pause,
    QueueMessage,
    ReceivedMessage,
    RunRecord,
    SessionRecord,
    StoreError,
    Tenant,
    ZohoToken,
    check_mapping_statuses,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    name TEXT PRIMARY KEY,
    qbwc_user TEXT NOT NULL UNIQUE,
    item TEXT NOT NULL
);
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
CREATE TABLE IF NOT EXISTS record_queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    dedup_id TEXT NOT NULL,
    body TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    invisible_until REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS mappings (
    pk TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    source_id TEXT NOT NULL,
    zoho_key TEXT,
    status TEXT NOT NULL,
    item TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS mappings_by_zoho ON mappings (zoho_key);
CREATE INDEX IF NOT EXISTS mappings_by_status ON mappings (tenant, status, pk);
CREATE INDEX IF NOT EXISTS mappings_by_tenant ON mappings (tenant, pk);
"""

DB_FILE = "relay.sqlite3"


class SqliteDatabase:
    """A database file shared by the SQLite adapters, one connection per thread."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.connection().executescript(_SCHEMA)

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> SqliteDatabase:
        """The relay's database inside a data directory."""
        return cls(Path(data_dir) / DB_FILE)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, committed on success."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite store at {self.path} is unavailable: {exc}") from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")


# Deployment-wide values (the QBWC OwnerID), one row per key, written once.
_TENANT_SCHEMA = """
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
        db.connection().executescript(_TENANT_SCHEMA)

    def create(self, tenant: Tenant) -> None:
        try:
            with self._db.transaction() as conn:
                conn.execute(
                    "INSERT INTO tenants (name, qbwc_user, item) VALUES (?, ?, ?)",
                    (tenant.name, tenant.qbwc_user, json.dumps(tenant.to_item())),
                )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(
                f"a tenant named {tenant.name!r} or with Web Connector user "
                f"{tenant.qbwc_user!r} already exists"
            ) from exc

    def _one(self, column: str, value: str) -> Tenant | None:
        row = (
            self._db.connection()
            .execute(f"SELECT item FROM tenants WHERE {column} = ?", (value,))
            .fetchone()
        )
        return Tenant.from_item(json.loads(row[0])) if row else None

    def get(self, name: str) -> Tenant | None:
        return self._one("name", name)

    def find_by_user(self, qbwc_user: str) -> Tenant | None:
        return self._one("qbwc_user", qbwc_user)

    def list(self) -> list[Tenant]:
        rows = self._db.connection().execute("SELECT item FROM tenants ORDER BY name").fetchall()
        return [Tenant.from_item(json.loads(r[0])) for r in rows]

    def update(self, tenant: Tenant) -> None:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT item FROM tenants WHERE name = ? AND qbwc_user = ?",
                (tenant.name, tenant.qbwc_user),
            ).fetchone()
            if row is None:
                raise StoreError(f"no tenant {tenant.name!r} to update")
            tenant.file_id = json.loads(row[0]).get("file_id") or ""
            conn.execute(
                "UPDATE tenants SET item = ? WHERE name = ?",
                (json.dumps(tenant.to_item()), tenant.name),
            )

    def delete(self, name: str) -> bool:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM tenants WHERE name = ?", (name,)).rowcount == 1

    def find_by_file_id(self, file_id: str) -> Tenant | None:
        if not file_id:
            return None
        # A scan, which is fine for the handful of tenants one local process serves.
        row = (
            self._db.connection()
            .execute(
                "SELECT item FROM tenants WHERE upper(json_extract(item, '$.file_id')) = ?",
                (file_id.upper(),),
            )
            .fetchone()
        )
        return Tenant.from_item(json.loads(row[0])) if row else None

    def ensure_file_id(self, name: str) -> str:
        with self._db.transaction() as conn:
            row = conn.execute("SELECT item FROM tenants WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise StoreError(f"no tenant {name!r}")
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
                raise ConcurrentUpdate(f"session {session.ticket[:8]}… changed concurrently")
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


class SqliteRecordQueue:
    """RecordQueue on SQLite: at-least-once, with a visibility timeout like SQS."""

    def __init__(self, db: SqliteDatabase, visibility_timeout: float = 300.0) -> None:
        self._db = db
        self._visibility_timeout = visibility_timeout

    def send(self, messages: Sequence[QueueMessage]) -> None:
        now = time.time()
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
        now = time.time()
        with self._db.transaction() as conn:
            rows = conn.execute(
                "SELECT id, tenant, dedup_id, body FROM record_queue "
                "WHERE invisible_until <= ? ORDER BY id LIMIT ?",
                (now, max_messages),
            ).fetchall()
            conn.executemany(
                "UPDATE record_queue SET invisible_until = ? WHERE id = ?",
                [(now + self._visibility_timeout, r[0]) for r in rows],
            )
        return [
            ReceivedMessage(QueueMessage(tenant=r[1], dedup_id=r[2], body=r[3]), receipt=str(r[0]))
            for r in rows
        ]

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


def _mapping_row(m: Mapping) -> tuple[str, str, str, str, str, str | None, str, str]:
    zoho_key = f"{m.tenant}#{m.zoho_module}#{m.zoho_id}" if m.zoho_id else None
    return (
        m.key,
        m.tenant,
        m.source,
        m.entity,
        m.source_id,
        zoho_key,
        m.status,
        json.dumps(m.to_item()),
    )


class SqliteMappingStore:
    """MappingStore on SQLite: one row per mapping, keyed like the DynamoDB table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def get(self, tenant: str, source: str, entity: str, source_id: str) -> Mapping | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT item FROM mappings WHERE pk = ?",
                (f"{tenant}#{source}#{entity}#{source_id}",),
            )
            .fetchone()
        )
        return Mapping.from_item(json.loads(row[0])) if row else None

    def get_many(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> dict[str, Mapping]:
        if not source_ids:
            return {}
        # One statement whatever the count: the ids travel as one JSON array parameter.
        rows = (
            self._db.connection()
            .execute(
                "SELECT item FROM mappings WHERE tenant = ? AND source = ? AND entity = ? "
                "AND source_id IN (SELECT value FROM json_each(?))",
                (tenant, source, entity, json.dumps(list(source_ids))),
            )
            .fetchall()
        )
        found = (Mapping.from_item(json.loads(r[0])) for r in rows)
        return {m.source_id: m for m in found}

    def put(self, mapping: Mapping) -> None:
        self.put_many([mapping])

    def put_many(self, mappings: Sequence[Mapping]) -> None:
        if not mappings:
            return
        check_mapping_statuses(mappings)
        with self._db.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO mappings "
                "(pk, tenant, source, entity, source_id, zoho_key, status, item) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [_mapping_row(m) for m in mappings],
            )

    def find_by_zoho_id(self, tenant: str, zoho_module: str, zoho_id: str) -> Mapping | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT item FROM mappings WHERE zoho_key = ? ORDER BY pk LIMIT 1",
                (f"{tenant}#{zoho_module}#{zoho_id}",),
            )
            .fetchone()
        )
        return Mapping.from_item(json.loads(row[0])) if row else None

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Mapping]:
        if limit <= 0:
            return []
        sql = "SELECT item FROM mappings WHERE tenant = ?"
        args: list[Any] = [tenant]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        rows = (
            self._db.connection().execute(sql + " ORDER BY pk LIMIT ?", [*args, limit]).fetchall()
        )
        return [Mapping.from_item(json.loads(r[0])) for r in rows]


class SqliteSyncStateStore:
    """SyncStateStore on SQLite: one row per tenant and entity."""

    _TABLE = """
    CREATE TABLE IF NOT EXISTS sync_state (
        tenant TEXT NOT NULL,
        entity TEXT NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (tenant, entity)
    );
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(self._TABLE)

    def get_all(self, tenant: str) -> dict[str, EntitySyncState]:
        rows = (
            self._db.connection()
            .execute("SELECT entity, item FROM sync_state WHERE tenant = ?", (tenant,))
            .fetchall()
        )
        return {entity: EntitySyncState.from_item(json.loads(item)) for entity, item in rows}

    def put(self, state: EntitySyncState) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO sync_state (tenant, entity, item) VALUES (?, ?, ?)",
                (state.tenant, state.entity, json.dumps(state.to_item())),
            )

    def delete_tenant(self, tenant: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM sync_state WHERE tenant = ?", (tenant,))


class SqliteRunHistory:
    """RunHistory on SQLite: one row per tenant and session ticket."""

    _TABLE = """
    CREATE TABLE IF NOT EXISTS runs (
        tenant TEXT NOT NULL,
        ticket TEXT NOT NULL,
        started_at REAL NOT NULL,
        item TEXT NOT NULL,
        PRIMARY KEY (tenant, ticket)
    );
    """

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(self._TABLE)

    def add(self, run: RunRecord) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO runs (tenant, ticket, started_at, item) "
                "VALUES (?, ?, ?, ?)",
                (run.tenant, run.ticket, run.started_at, json.dumps(run.to_item())),
            )

    def recent(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        rows = (
            self._db.connection()
            .execute(
                "SELECT item FROM runs WHERE tenant = ? ORDER BY started_at DESC LIMIT ?",
                (tenant, limit),
            )
            .fetchall()
        )
        return [RunRecord.from_item(json.loads(item)) for (item,) in rows]


# Tables of the ZOHO forwarder; each adapter creates its own on first use.
_FORWARDER_SCHEMA = """
CREATE TABLE IF NOT EXISTS zoho_tokens (
    tenant TEXT PRIMARY KEY,
    token TEXT,
    lease_holder TEXT,
    lease_until REAL NOT NULL DEFAULT 0
);
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
    parked_at REAL NOT NULL
);
"""


def _forwarder_tables(db: SqliteDatabase) -> None:
    db.connection().executescript(_FORWARDER_SCHEMA)


class SqliteTokenCache:
    """TokenCache on SQLite: one row per tenant holding the token and the refresh lease."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        _forwarder_tables(db)

    def load(self, tenant: str) -> ZohoToken | None:
        row = (
            self._db.connection()
            .execute("SELECT token FROM zoho_tokens WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return ZohoToken(**json.loads(row[0])) if row and row[0] else None

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT lease_holder, lease_until FROM zoho_tokens WHERE tenant = ?", (tenant,)
            ).fetchone()
            if row and row[0] and row[0] != holder and row[1] > now:
                return False
            conn.execute(
                "INSERT INTO zoho_tokens (tenant, lease_holder, lease_until) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET lease_holder = excluded.lease_holder, "
                "lease_until = excluded.lease_until",
                (tenant, holder, now + seconds),
            )
        return True

    def save(self, tenant: str, holder: str, token: ZohoToken) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO zoho_tokens (tenant, token) VALUES (?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET token = excluded.token",
                (tenant, json.dumps(asdict(token))),
            )
            conn.execute(
                "UPDATE zoho_tokens SET lease_holder = NULL, lease_until = 0 "
                "WHERE tenant = ? AND lease_holder = ?",
                (tenant, holder),
            )

    def release(self, tenant: str, holder: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE zoho_tokens SET lease_holder = NULL, lease_until = 0 "
                "WHERE tenant = ? AND lease_holder = ?",
                (tenant, holder),
            )


class SqliteForwarderState:
    """ForwarderState on SQLite: one row per tenant."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        _forwarder_tables(db)

    def pause(self, tenant: str, until: float, reason: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO forwarder_state (tenant, pause_until, pause_reason) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET pause_until = excluded.pause_until, "
                "pause_reason = excluded.pause_reason WHERE pause_until < excluded.pause_until",
                (tenant, until, reason),
            )

    def paused(self, tenant: str, now: float) -> Pause | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT pause_until, pause_reason FROM forwarder_state WHERE tenant = ?", (tenant,)
            )
            .fetchone()
        )
        return Pause(row[0], row[1]) if row and row[0] > now else None

    def resume(self, tenant: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE forwarder_state SET pause_until = 0, pause_reason = '' WHERE tenant = ?",
                (tenant,),
            )

    def get_mapping(self, tenant: str) -> dict[str, Any] | None:
        row = (
            self._db.connection()
            .execute("SELECT mapping FROM forwarder_state WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return json.loads(row[0]) if row and row[0] else None

    def put_mapping(self, tenant: str, mapping: dict[str, Any] | None) -> None:
        text = json.dumps(mapping) if mapping is not None else None
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO forwarder_state (tenant, mapping) VALUES (?, ?) "
                "ON CONFLICT (tenant) DO UPDATE SET mapping = excluded.mapping",
                (tenant, text),
            )


class SqliteDeadLetterQueue:
    """DeadLetterQueue on SQLite: parked records stay in a table for inspection."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        _forwarder_tables(db)

    def send(self, letters: Sequence[DeadLetter]) -> None:
        now = time.time()
        try:
            with self._db.transaction() as conn:
                conn.executemany(
                    "INSERT INTO dead_letters (tenant, body, reason, parked_at) "
                    "VALUES (?, ?, ?, ?)",
                    [(x.tenant, x.body, x.reason, now) for x in letters],
                )
        except sqlite3.Error as exc:
            raise StoreError(f"could not park records in {self._db.path}: {exc}") from exc

    def list(self, tenant: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """The oldest ``limit`` parked records (of ``tenant`` if given)."""
        sql = "SELECT tenant, body, reason FROM dead_letters"
        args: list[Any] = []
        if tenant is not None:
            sql += " WHERE tenant = ?"
            args.append(tenant)
        rows = self._db.connection().execute(sql + " ORDER BY id LIMIT ?", [*args, limit])
        return [DeadLetter(*r) for r in rows.fetchall()]
