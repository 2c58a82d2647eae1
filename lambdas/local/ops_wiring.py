"""The operator routes' ports over a local data directory (``qbrelay serve``).

The Services entries lambdas/http/ops_common.py names, each built on first use: the data dir's
SQLite stores, its secret files (the console's signing key is made there on first use), and
the outbox an audit's drift events wait in.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..store.sqlite import SqliteDatabase


def ops_providers(folder: Path, db: SqliteDatabase) -> dict[str, Callable[[], Any]]:
    """Providers for RelayWsgiApp(providers=...): status data, keys, queues, console key."""
    from ..http.console_session import signing_key
    from ..store.files import FileSecretStore
    from ..store.sqlite import (
        SqliteApiKeyStore,
        SqliteDeadLetterQueue,
        SqliteQboConnectionStore,
        SqliteRecordQueue,
        SqliteWriteBackStore,
    )
    from ..store.sqlite.outbox import SqliteOutbox
    from .tenant_stores import local_tenant_data

    return {
        "api_keys": lambda: SqliteApiKeyStore(db),
        "tenant_data": lambda: local_tenant_data(folder, db),
        "qbo_connections": lambda: SqliteQboConnectionStore(db),
        "dead_letters": lambda: SqliteDeadLetterQueue(db),
        "record_queue": lambda: SqliteRecordQueue(db),
        "events": lambda: SqliteOutbox(db),
        "writeback": lambda: SqliteWriteBackStore(db),
        "console_key": lambda: signing_key(FileSecretStore.in_dir(folder), create=True),
    }
