"""Builds the relay on the embedded SQLite store of a data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..qbwc.relay import QbwcRelay, RelaySettings
from ..qbwc.soap_service import DEFAULT_MAX_BODY, SoapEndpoint
from ..store.sqlite import SqliteDatabase, SqliteRecordQueue, SqliteSessionStore, SqliteTenantStore


@dataclass(slots=True)
class LocalRelay:
    """Everything the local process runs, over one SQLite database."""

    db: SqliteDatabase
    tenants: SqliteTenantStore
    sessions: SqliteSessionStore
    queue: SqliteRecordQueue
    relay: QbwcRelay
    endpoint: SoapEndpoint


def build_local(
    data_dir: Path | str,
    settings: RelaySettings | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> LocalRelay:
    """Open (creating if needed) the data directory's store and wire the relay over it."""
    db = SqliteDatabase.in_dir(data_dir)
    tenants, sessions, queue = SqliteTenantStore(db), SqliteSessionStore(db), SqliteRecordQueue(db)
    relay = QbwcRelay(tenants, sessions, queue, settings)
    return LocalRelay(db, tenants, sessions, queue, relay, SoapEndpoint(relay, max_body_bytes))
