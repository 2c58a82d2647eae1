"""TokenCache on SQLite."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

from ..ports import ZohoToken
from .forwarder_tables import forwarder_tables

if TYPE_CHECKING:
    from .database import SqliteDatabase


class SqliteTokenCache:
    """TokenCache on SQLite: one row per tenant holding the token and the refresh lease."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        forwarder_tables(db)

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

    def delete_tenant(self, tenant: str) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM zoho_tokens WHERE tenant = ?", (tenant,))
