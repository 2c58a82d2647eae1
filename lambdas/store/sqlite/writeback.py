"""WriteBackStore on SQLite: table ``writeback_ops`` (one row per operation) and
``writeback_cursors`` (the capture's cursors).

Every transition is one conditional ``UPDATE ... RETURNING`` inside an immediate transaction,
so of two racing writers exactly one sees its condition hold. ``fields``, ``base`` and
``conflicts`` are JSON columns. Final operations past ``expires_at`` are removed when new ones
are enqueued, as DynamoDB's TTL removes them (eventually) in the other adapter.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any

from ...writeback.model import FINAL, OPEN, Conflict, OpStatus, WriteOp
from ..ports import ConcurrentUpdate
from ..writeback_ports import mark_attrs, stored

if TYPE_CHECKING:
    from .database import SqliteDatabase

WRITEBACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS writeback_ops (
    tenant TEXT NOT NULL,
    op_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    edition TEXT NOT NULL,
    zoho_module TEXT NOT NULL,
    zoho_id TEXT NOT NULL,
    zoho_version TEXT NOT NULL,
    fields TEXT NOT NULL,
    base TEXT NOT NULL,
    qb_id TEXT NOT NULL DEFAULT '',
    qb_version TEXT NOT NULL DEFAULT '',
    depends_on TEXT NOT NULL DEFAULT '',
    customer_zoho_id TEXT NOT NULL DEFAULT '',
    rev INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    sent_at REAL,
    outcome_at REAL,
    expires_at REAL,
    message_set_id TEXT NOT NULL DEFAULT '',
    ref_number TEXT NOT NULL DEFAULT '',
    result_version TEXT NOT NULL DEFAULT '',
    linked INTEGER NOT NULL DEFAULT 0,
    error_code TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    conflicts TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (tenant, op_id)
);
CREATE INDEX IF NOT EXISTS writeback_ops_status ON writeback_ops (tenant, status, seq);
CREATE INDEX IF NOT EXISTS writeback_ops_record
    ON writeback_ops (tenant, zoho_module, zoho_id, seq);
CREATE INDEX IF NOT EXISTS writeback_ops_seq ON writeback_ops (tenant, seq);
CREATE INDEX IF NOT EXISTS writeback_ops_expiry
    ON writeback_ops (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS writeback_cursors (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (tenant, name)
);
"""

_COLUMNS = tuple(f.name for f in dataclass_fields(WriteOp))
_SELECT = ", ".join(_COLUMNS)
_JSON = ("fields", "base", "conflicts")
_OPEN = tuple(str(s) for s in OPEN)
_FINAL = tuple(str(s) for s in FINAL)


def _column(name: str, value: Any) -> Any:
    """The column value of attribute ``name`` (JSON for structures, 0/1 for ``linked``)."""
    if name == "conflicts":
        return json.dumps([c.to_item() if isinstance(c, Conflict) else dict(c) for c in value])
    if name in _JSON:
        return json.dumps(value, sort_keys=True)
    if name == "linked":
        return int(bool(value))
    if name == "status":
        return str(value)
    return value


def _op(row: Sequence[Any]) -> WriteOp:
    item = dict(zip(_COLUMNS, row, strict=True))
    for name in _JSON:
        item[name] = json.loads(item[name])
    return WriteOp.from_item(item)


def _marks(n: int) -> str:
    return ", ".join("?" for _ in range(n))


class SqliteWriteBackStore:
    """WriteBackStore on SQLite (see the module docstring)."""

    def __init__(self, db: SqliteDatabase, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        db.connection().executescript(WRITEBACK_SCHEMA)

    def enqueue(self, op: WriteOp) -> bool:
        now = self._clock()
        item = stored(op, now).to_item()
        with self._db.transaction() as conn:
            conn.execute(
                f"DELETE FROM writeback_ops WHERE expires_at <= ? "
                f"AND status IN ({_marks(len(_FINAL))})",
                (now, *_FINAL),
            )
            cur = conn.execute(
                f"INSERT INTO writeback_ops ({_SELECT}) VALUES ({_marks(len(_COLUMNS))}) "
                "ON CONFLICT (tenant, op_id) DO NOTHING",
                [_column(name, item[name]) for name in _COLUMNS],
            )
        return cur.rowcount == 1

    def supersede(
        self,
        tenant: str,
        op_id: str,
        rev: int,
        *,
        fields: dict[str, Any],
        zoho_version: str,
        base: dict[str, str],
    ) -> WriteOp:
        with self._db.transaction() as conn:
            row = conn.execute(
                "UPDATE writeback_ops SET fields = ?, zoho_version = ?, base = ?, rev = rev + 1 "
                "WHERE tenant = ? AND op_id = ? AND status = ? AND rev = ? "
                f"RETURNING {_SELECT}",
                (
                    _column("fields", fields),
                    zoho_version,
                    _column("base", base),
                    tenant,
                    op_id,
                    str(OpStatus.PENDING),
                    rev,
                ),
            ).fetchone()
        if row is None:
            raise ConcurrentUpdate(
                f"write-back operation {op_id} of {tenant!r} is no longer pending at rev {rev}"
            )
        return _op(row)

    def get(self, tenant: str, op_id: str) -> WriteOp | None:
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_SELECT} FROM writeback_ops WHERE tenant = ? AND op_id = ?",
                (tenant, op_id),
            )
            .fetchone()
        )
        return _op(row) if row else None

    def open_ops(self, tenant: str, limit: int = 100) -> list[WriteOp]:
        rows = (
            self._db.connection()
            .execute(
                f"SELECT {_SELECT} FROM writeback_ops WHERE tenant = ? "
                f"AND status IN ({_marks(len(_OPEN))}) ORDER BY seq, op_id LIMIT ?",
                (tenant, *_OPEN, limit),
            )
            .fetchall()
        )
        return [_op(r) for r in rows]

    def latest_for(self, tenant: str, zoho_module: str, zoho_id: str) -> WriteOp | None:
        row = (
            self._db.connection()
            .execute(
                f"SELECT {_SELECT} FROM writeback_ops WHERE tenant = ? AND zoho_module = ? "
                "AND zoho_id = ? ORDER BY seq DESC, op_id DESC LIMIT 1",
                (tenant, zoho_module, zoho_id),
            )
            .fetchone()
        )
        return _op(row) if row else None

    def mark(
        self,
        tenant: str,
        op_id: str,
        expect: Sequence[OpStatus],
        status: OpStatus,
        *,
        rev: int | None = None,
        expect_sent_at: float | None = None,
        **attrs: Any,
    ) -> WriteOp:
        checked = mark_attrs(expect, status, attrs, self._clock())
        assignments = {"status": str(OpStatus(status))}
        assignments.update({k: _column(k, v) for k, v in checked.items()})
        setter = ", ".join(f"{k} = ?" for k in assignments)
        condition = f"tenant = ? AND op_id = ? AND status IN ({_marks(len(expect))})"
        params: list[Any] = [*assignments.values(), tenant, op_id, *(str(s) for s in expect)]
        if rev is not None:
            condition += " AND rev = ?"
            params.append(rev)
        if expect_sent_at is not None:
            condition += " AND sent_at = ?"
            params.append(float(expect_sent_at))
        with self._db.transaction() as conn:
            row = conn.execute(
                f"UPDATE writeback_ops SET {setter} WHERE {condition} RETURNING {_SELECT}",
                params,
            ).fetchone()
        if row is None:
            wanted = "/".join(str(s) for s in expect)
            raise ConcurrentUpdate(
                f"write-back operation {op_id} of {tenant!r} is not {wanted}"
                + (f" at rev {rev}" if rev is not None else "")
                + (f" sent at {expect_sent_at}" if expect_sent_at is not None else "")
            )
        return _op(row)

    def list(self, tenant: str, status: OpStatus | None = None, limit: int = 100) -> list[WriteOp]:
        where, params = "tenant = ?", [tenant]
        if status is not None:
            where += " AND status = ?"
            params.append(str(OpStatus(status)))
        rows = (
            self._db.connection()
            .execute(
                f"SELECT {_SELECT} FROM writeback_ops WHERE {where} "
                "ORDER BY seq DESC, op_id DESC LIMIT ?",
                (*params, limit),
            )
            .fetchall()
        )
        return [_op(r) for r in rows]

    def counts(self, tenant: str) -> dict[str, int]:
        rows = (
            self._db.connection()
            .execute(
                "SELECT status, COUNT(*) FROM writeback_ops WHERE tenant = ? GROUP BY status",
                (tenant,),
            )
            .fetchall()
        )
        out = {str(s): 0 for s in OpStatus}
        out.update({str(status): int(n) for status, n in rows})
        return out

    def cursor(self, tenant: str, name: str) -> str | None:
        row = (
            self._db.connection()
            .execute(
                "SELECT value FROM writeback_cursors WHERE tenant = ? AND name = ?",
                (tenant, name),
            )
            .fetchone()
        )
        return row[0] if row else None

    def set_cursor(self, tenant: str, name: str, value: str) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO writeback_cursors (tenant, name, value) VALUES (?, ?, ?) "
                "ON CONFLICT (tenant, name) DO UPDATE SET value = excluded.value",
                (tenant, name, value),
            )

    def delete_tenant(self, tenant: str) -> int:
        with self._db.transaction() as conn:
            cur = conn.execute("DELETE FROM writeback_ops WHERE tenant = ?", (tenant,))
            conn.execute("DELETE FROM writeback_cursors WHERE tenant = ?", (tenant,))
        return cur.rowcount
