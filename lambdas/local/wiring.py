"""Builds the relay on the embedded SQLite store of a data directory."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..qbwc.relay import QbwcRelay, RelaySettings, SessionProgress
from ..qbwc.soap_service import DEFAULT_MAX_BODY, SoapEndpoint
from ..store.files import FileSecretStore, FileTokenCache
from ..store.payloads import FolderPayloadStore
from ..store.sqlite import (
    SqliteDatabase,
    SqliteLoginThrottle,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteRunHistory,
    SqliteSessionStore,
    SqliteSyncStateStore,
    SqliteTenantStore,
    SqliteWriteBackStore,
)
from ..store.sqlite.outbox import SqliteOutbox
from ..store.sqlite.qbo import SqliteQboConnectionStore
from ..sync.engine import SyncEngine, SyncSettings
from ..sync.write_handoff import WriteHandOff
from ..writeback.capture import ZohoCapture
from ..writeback.desktop import DesktopWriteBack
from ..writeback.runner import before_plan, editions
from ..zoho.client import ZohoClient, client_factory


@dataclass(slots=True)
class LocalRelay:
    """Everything the local process runs, over one SQLite database."""

    db: SqliteDatabase
    tenants: SqliteTenantStore
    sessions: SqliteSessionStore
    queue: SqliteRecordQueue
    state: SqliteSyncStateStore
    mappings: SqliteMappingStore
    runs: SqliteRunHistory
    payloads: FolderPayloadStore
    engine: SyncEngine
    relay: QbwcRelay
    endpoint: SoapEndpoint
    # Outbound events wait here for the webhook worker (lambdas/local/webhook_worker.py).
    outbox: SqliteOutbox
    # Write-back operations (ZOHO -> QuickBooks), applied first in each session.
    writeback: SqliteWriteBackStore
    # ZOHO changes into write-back operations (run before each session and by the worker).
    capture: ZohoCapture


def build_local(
    data_dir: Path | str,
    settings: RelaySettings | None = None,
    sync: SyncSettings | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    on_progress: Callable[[SessionProgress], None] | None = None,
    zoho_clients: Callable[[str], ZohoClient] | None = None,
) -> LocalRelay:
    """Open (creating if needed) the data directory's store and wire the relay over it.

    ``on_progress`` is told how far each session got after every response (``qbrelay serve``
    and the demo show it). ``zoho_clients`` gives a tenant's ZOHO client for the write-back
    capture (default: the data directory's credentials and token cache).
    """
    db = SqliteDatabase.in_dir(data_dir)
    tenants, sessions, queue = SqliteTenantStore(db), SqliteSessionStore(db), SqliteRecordQueue(db)
    state, mappings, runs = SqliteSyncStateStore(db), SqliteMappingStore(db), SqliteRunHistory(db)
    payloads = FolderPayloadStore.in_dir(data_dir)
    sync = sync or SyncSettings.from_env(os.environ)
    engine = SyncEngine(state, mappings, queue, sync, payloads=payloads)
    outbox = SqliteOutbox(db)
    writeback = SqliteWriteBackStore(db)
    clients = zoho_clients or client_factory(
        FileSecretStore.in_dir(data_dir), FileTokenCache.in_dir(data_dir)
    )
    capture = ZohoCapture(
        writeback, mappings, queue, clients, editions(SqliteQboConnectionStore(db)), time.time
    )
    writer = DesktopWriteBack(
        writeback,
        mappings,
        WriteHandOff(engine.hand_off, queue),
        time.time,
        capture=before_plan(capture.run),
    )
    relay = QbwcRelay(
        tenants,
        sessions,
        engine,
        runs,
        settings,
        throttle=SqliteLoginThrottle(db),
        events=outbox,
        on_progress=on_progress,
        writeback=writer,
    )
    return LocalRelay(
        db,
        tenants,
        sessions,
        queue,
        state,
        mappings,
        runs,
        payloads,
        engine,
        relay,
        SoapEndpoint(relay, max_body_bytes),
        outbox,
        writeback,
        capture,
    )
