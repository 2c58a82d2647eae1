"""MappingStore on SQLite."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import keys
from ..ports import Mapping, check_mapping_statuses

if TYPE_CHECKING:
    from .database import SqliteDatabase

MAPPINGS_SCHEMA = """
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


def _mapping_row(m: Mapping) -> tuple[str, str, str, str, str, str | None, str, str]:
    zoho_key = keys.zoho_key(m.tenant, m.zoho_module, m.zoho_id) if m.zoho_id else None
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
                (keys.mapping_key(tenant, source, entity, source_id),),
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
                (keys.zoho_key(tenant, zoho_module, zoho_id),),
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
