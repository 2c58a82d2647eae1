"""MappingStore on SQLite: one row per record, one column per fact.

The relay's and the forwarder's writes are UPDATEs of their own columns only, under the same
conditions as the DynamoDB adapter (see ``ports.DeliveryOutcome``).
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ...model.identity import version_order
from .. import keys
from ..mapping_rows import DELETED, FORWARDER_COLUMNS, IDENTITY, RELAY_COLUMNS, mapping_from_row
from ..ports import (
    Claim,
    ConcurrentUpdate,
    DeliveryOutcome,
    DeliveryStatus,
    Handoff,
    Mapping,
    StoreError,
)

if TYPE_CHECKING:
    from .database import SqliteDatabase

MAPPINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS mapping_rows (
    pk TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    source TEXT NOT NULL,
    entity TEXT NOT NULL,
    source_id TEXT NOT NULL,
    handed_hash TEXT,
    handed_version TEXT,
    handed_at REAL,
    links TEXT,
    zoho_module TEXT,
    zoho_id TEXT,
    zoho_key TEXT,
    applied_hash TEXT,
    applied_version TEXT,
    status TEXT,
    last_error TEXT,
    outcome_at REAL,
    claimed_order REAL,
    claimed_read REAL,
    claim_token TEXT,
    applied_fields TEXT
);
CREATE INDEX IF NOT EXISTS mapping_rows_by_zoho ON mapping_rows (zoho_key);
CREATE INDEX IF NOT EXISTS mapping_rows_by_status ON mapping_rows (tenant, status, pk);
CREATE INDEX IF NOT EXISTS mapping_rows_by_tenant ON mapping_rows (tenant, pk);
"""

_COLUMNS = (*IDENTITY, *RELAY_COLUMNS, *FORWARDER_COLUMNS)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM mapping_rows"
_NOT_DELETED = f"COALESCE(status, '') != '{DELETED}'"
_INSERT_IDENTITY = (
    "INSERT OR IGNORE INTO mapping_rows (pk, tenant, source, entity, source_id) "
    "VALUES (?, ?, ?, ?, ?)"
)
SCAN_PAGE = 1000
# Columns added since the first release, each with its type: added to an older database's table.
_ADDED_COLUMNS = {"applied_fields": "TEXT"}


def migrate_mappings(conn: sqlite3.Connection) -> None:
    """Give a mapping table created by an earlier release the columns added since (NULL)."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(mapping_rows)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE mapping_rows ADD COLUMN {name} {kind}")


def _row(values: Sequence[Any]) -> Mapping:
    return mapping_from_row(dict(zip(_COLUMNS, values, strict=True)))


def _identity(x: Handoff | Claim | DeliveryOutcome) -> tuple[str, str, str, str, str]:
    return (x.key, x.tenant, x.source, x.entity, x.source_id)


class SqliteMappingStore:
    """MappingStore on SQLite, keyed like the DynamoDB table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        db.connection().executescript(MAPPINGS_SCHEMA)

    def _fail(self, what: str, exc: sqlite3.Error) -> StoreError:
        return StoreError(
            keys.unavailable(f"the mapping store at {self._db.path} ({what})", str(exc))
        )

    # --- reads ------------------------------------------------------------------------------

    def get(self, tenant: str, source: str, entity: str, source_id: str) -> Mapping | None:
        found = self.get_many(tenant, source, entity, [source_id])
        return found.get(source_id)

    def get_many(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> dict[str, Mapping]:
        if not source_ids:
            return {}
        try:
            # One statement whatever the count: the ids travel as one JSON array parameter.
            rows = (
                self._db.connection()
                .execute(
                    f"{_SELECT} WHERE tenant = ? AND source = ? AND entity = ? "
                    "AND source_id IN (SELECT value FROM json_each(?))",
                    (tenant, source, entity, json.dumps(list(source_ids))),
                )
                .fetchall()
            )
        except sqlite3.Error as exc:
            raise self._fail("read", exc) from exc
        found = (_row(r) for r in rows)
        return {m.source_id: m for m in found}

    def find_by_zoho_id(self, tenant: str, zoho_module: str, zoho_id: str) -> Mapping | None:
        row = (
            self._db.connection()
            .execute(
                f"{_SELECT} WHERE zoho_key = ? ORDER BY pk LIMIT 1",
                (keys.zoho_key(tenant, zoho_module, zoho_id),),
            )
            .fetchone()
        )
        return _row(row) if row else None

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Mapping]:
        if limit <= 0:
            return []
        sql = f"{_SELECT} WHERE tenant = ?"
        args: list[Any] = [tenant]
        if status is not None:
            sql += " AND status = ?"
            args.append(str(status))
        rows = self._db.connection().execute(sql + " ORDER BY pk LIMIT ?", [*args, limit])
        return [_row(r) for r in rows.fetchall()]

    def scan(self, tenant: str) -> Iterator[Mapping]:
        after = ""
        while True:
            rows = (
                self._db.connection()
                .execute(
                    f"SELECT {', '.join(_COLUMNS)}, pk FROM mapping_rows WHERE tenant = ? "
                    "AND pk > ? ORDER BY pk LIMIT ?",
                    (tenant, after, SCAN_PAGE),
                )
                .fetchall()
            )
            for r in rows:
                yield _row(r[:-1])
            if len(rows) < SCAN_PAGE:
                return
            after = rows[-1][-1]

    # --- the relay's writes -----------------------------------------------------------------

    def record_handoffs(self, handoffs: Sequence[Handoff]) -> None:
        if not handoffs:
            return
        try:
            with self._db.transaction() as conn:
                conn.executemany(_INSERT_IDENTITY, [_identity(h) for h in handoffs])
                conn.executemany(
                    "UPDATE mapping_rows SET handed_hash = ?, handed_version = ?, "
                    "handed_at = ?, links = COALESCE(?, links) WHERE pk = ?",
                    [
                        (
                            h.content_hash,
                            h.version,
                            h.at,
                            json.dumps(list(h.links)) if h.links is not None else None,
                            h.key,
                        )
                        for h in handoffs
                    ],
                )
        except sqlite3.Error as exc:
            raise self._fail("hand-off", exc) from exc

    # --- the forwarder's writes -------------------------------------------------------------

    def claim(self, claim: Claim) -> None:
        if self.claim_many([claim]):
            raise ConcurrentUpdate(f"mapping {claim.key}: a newer version is claimed")

    def claim_many(self, claims: Sequence[Claim]) -> set[str]:
        lost: set[str] = set()
        if not claims:
            return lost
        try:
            with self._db.transaction() as conn:
                for c in claims:
                    conn.execute(_INSERT_IDENTITY, _identity(c))
                    order = version_order(c.version)
                    cur = conn.execute(
                        "UPDATE mapping_rows SET claimed_order = ?, claimed_read = ?, "
                        f"claim_token = ? WHERE pk = ? AND {_NOT_DELETED} AND "
                        "(claimed_order IS NULL OR claimed_order < ? OR (claimed_order = ? AND "
                        "COALESCE(claimed_read, 0) <= ?))",
                        (order, c.read_at, c.token, c.key, order, order, c.read_at),
                    )
                    if cur.rowcount == 0:
                        lost.add(c.key)
        except sqlite3.Error as exc:
            raise self._fail("claim", exc) from exc
        return lost

    def record_outcome(self, outcome: DeliveryOutcome) -> None:
        if self.record_outcomes([outcome]):
            raise ConcurrentUpdate(f"mapping {outcome.key}: changed concurrently")

    def record_outcomes(self, outcomes: Sequence[DeliveryOutcome]) -> list[DeliveryOutcome]:
        lost: list[DeliveryOutcome] = []
        if not outcomes:
            return lost
        try:
            with self._db.transaction() as conn:
                for o in outcomes:
                    conn.execute(_INSERT_IDENTITY, _identity(o))
                    sql, args = _outcome_update(o)
                    if conn.execute(sql, args).rowcount == 0:
                        lost.append(o)
        except sqlite3.Error as exc:
            raise self._fail("outcome", exc) from exc
        return lost

    def count(self, tenant: str) -> int:
        row = (
            self._db.connection()
            .execute("SELECT COUNT(*) FROM mapping_rows WHERE tenant = ?", (tenant,))
            .fetchone()
        )
        return int(row[0])

    def delete_tenant(self, tenant: str) -> int:
        try:
            with self._db.transaction() as conn:
                return conn.execute("DELETE FROM mapping_rows WHERE tenant = ?", (tenant,)).rowcount
        except sqlite3.Error as exc:
            raise self._fail("delete", exc) from exc


def _outcome_update(o: DeliveryOutcome) -> tuple[str, tuple[Any, ...]]:
    """The UPDATE (and its parameters) writing one outcome under its condition."""
    status = DeliveryStatus(o.status)
    if status is DeliveryStatus.SYNCED:
        zoho_key = keys.zoho_key(o.tenant, o.zoho_module, o.zoho_id) if o.zoho_id else None
        return (
            "UPDATE mapping_rows SET zoho_module = ?, zoho_id = ?, zoho_key = ?, "
            "applied_hash = ?, applied_version = ?, status = ?, last_error = NULL, "
            "applied_fields = ?, "
            f"outcome_at = ? WHERE pk = ? AND claim_token = ? AND {_NOT_DELETED}",
            (
                o.zoho_module,
                o.zoho_id,
                zoho_key,
                o.content_hash,
                o.version,
                status.value,
                json.dumps(o.applied_fields, sort_keys=True),
                o.at,
                o.key,
                o.token,
            ),
        )
    if status is DeliveryStatus.DELETED:
        # A deletion always wins, and takes a fresh token: a write still in flight loses.
        return (
            "UPDATE mapping_rows SET status = ?, applied_hash = ?, last_error = NULL, "
            "outcome_at = ?, claim_token = ? WHERE pk = ?",
            (status.value, o.content_hash, o.at, o.token or uuid.uuid4().hex, o.key),
        )
    if status is DeliveryStatus.CONFLICT:
        # A linked record's conflict names its ZOHO record: the pair is known from then on.
        named = (
            (o.zoho_module, o.zoho_id, keys.zoho_key(o.tenant, o.zoho_module, o.zoho_id))
            if o.zoho_id
            else (None, None, None)
        )
        return (
            "UPDATE mapping_rows SET status = ?, applied_hash = '', last_error = ?, "
            "outcome_at = ?, claim_token = ?, zoho_module = COALESCE(?, zoho_module), "
            "zoho_id = COALESCE(?, zoho_id), zoho_key = COALESCE(?, zoho_key) "
            f"WHERE pk = ? AND {_NOT_DELETED}",
            (status.value, o.last_error, o.at, o.token or uuid.uuid4().hex, *named, o.key),
        )
    order = version_order(o.version)
    return (
        "UPDATE mapping_rows SET status = ?, last_error = ?, outcome_at = ? WHERE pk = ? "
        f"AND {_NOT_DELETED} AND (claimed_order IS NULL OR claimed_order <= ?)",
        (status.value, o.last_error, o.at, o.key, order),
    )
