"""The local process's QuickBooks Online pieces over its SQLite store and owner-only secret file.

``build_local_qbo`` answers None when ``QBO_CLIENT_ID`` is unset (the deployment serves no
QuickBooks Online company). Otherwise its ``providers`` give the QBO routes their ports (the
same routes the Lambda functions serve) and ``runtime`` the sync and catch-up the serve
process's QBO worker runs (lambdas/local/qbo_worker.py).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ..metrics import Metrics, NoMetrics
from ..qbo.auth_client import IntuitAuthClient
from ..qbo.config import QboConfig, load_config
from ..qbo.limits import RealmPolicy
from ..qbo.runtime import QboPorts, QboRuntime
from ..store.files import FileSecretStore
from ..store.sqlite import (
    SqliteApiKeyStore,
    SqliteChangeQueue,
    SqliteOAuthStateStore,
    SqliteQboConnectionStore,
    SqliteRealmLimitStore,
    SqliteSeenEvents,
)
from .wiring import LocalRelay


def qbo_configured(env: Mapping[str, str]) -> bool:
    """True when the environment names an Intuit app (``QBO_CLIENT_ID``)."""
    return bool((env.get("QBO_CLIENT_ID") or "").strip())


@dataclass(slots=True)
class LocalQbo:
    """The QuickBooks Online stores and settings of one data directory."""

    local: LocalRelay
    config: QboConfig
    secrets: FileSecretStore
    connections: SqliteQboConnectionStore
    states: SqliteOAuthStateStore
    limits: SqliteRealmLimitStore
    seen: SqliteSeenEvents
    changes: SqliteChangeQueue
    api_keys: SqliteApiKeyStore

    def auth(self) -> IntuitAuthClient:
        """The Intuit OAuth client of the app."""
        return IntuitAuthClient(self.config)

    def providers(self, metrics: Metrics | None = None) -> dict[str, Callable[[], Any]]:
        """The ports of the QBO routes (``RelayWsgiApp(providers=...)``)."""
        return {
            "qbo_config": lambda: self.config,
            "qbo_states": lambda: self.states,
            "qbo_connections": lambda: self.connections,
            "qbo_auth": self.auth,
            "qbo_seen": lambda: self.seen,
            "qbo_changes": lambda: self.changes,
            "secrets": lambda: self.secrets,
            "api_keys": lambda: self.api_keys,
            "metrics": lambda: metrics or NoMetrics(),
        }

    def runtime(
        self,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        policy: RealmPolicy | None = None,
    ) -> QboRuntime:
        """A sync runtime over this directory (one per worker thread)."""
        local = self.local
        return QboRuntime(
            QboPorts(
                config=self.config,
                secrets=self.secrets,
                connections=self.connections,
                limits=self.limits,
                tenants=local.tenants,
                mappings=local.mappings,
                records=local.queue,
                state=local.state,
                payloads=local.payloads,
                events=local.outbox,
                writeback=local.writeback,
                clock=clock,
                sleep=sleep,
                session=session,
                policy=policy,
            )
        )


def build_local_qbo(
    local: LocalRelay, directory: Path | str, env: Mapping[str, str] | None = None
) -> LocalQbo | None:
    """The data directory's QBO pieces, or None when no Intuit app is configured.

    QboConfigError (naming the fix) when the app is configured only in part.
    """
    env = os.environ if env is None else env
    if not qbo_configured(env):
        return None
    secrets = FileSecretStore.in_dir(directory)
    db = local.db
    return LocalQbo(
        local,
        load_config(env, secrets),
        secrets,
        SqliteQboConnectionStore(db),
        SqliteOAuthStateStore(db),
        SqliteRealmLimitStore(db),
        SqliteSeenEvents(db),
        SqliteChangeQueue(db),
        SqliteApiKeyStore(db),
    )
