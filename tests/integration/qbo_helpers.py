"""A fake QuickBooks Online on loopback and the relay's QBO pieces wired to it over SQLite."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lambdas.qbo.auth_client import IntuitAuthClient
from lambdas.qbo.client import QboClient
from lambdas.qbo.config import QboConfig, load_config
from lambdas.qbo.connections import QboConnection
from lambdas.qbo.limits import RealmLimiter, RealmPolicy
from lambdas.qbo.oauth import authorization_url, complete_connection
from lambdas.qbo.tokens import QboTokens
from lambdas.store.files import FileSecretStore
from lambdas.store.sqlite import SqliteDatabase
from lambdas.store.sqlite.qbo import (
    SqliteOAuthStateStore,
    SqliteQboConnectionStore,
    SqliteRealmLimitStore,
)
from sim.fake_qbo import FakeQbo
from sim.fake_qbo_server import LoopbackServer

CLIENT_ID = "ABfakeclientid0123456789"
CLIENT_SECRET = "fake-client-secret-not-real"
REDIRECT_URI = "http://127.0.0.1:8765/qbo/callback"
REALM = "9341452017112345"


@dataclass
class QboEnv:
    fake: FakeQbo
    server: LoopbackServer
    config: QboConfig
    db: SqliteDatabase
    secrets: FileSecretStore
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    connections: SqliteQboConnectionStore = field(init=False)
    states: SqliteOAuthStateStore = field(init=False)
    limits: SqliteRealmLimitStore = field(init=False)

    def __post_init__(self) -> None:
        self.connections = SqliteQboConnectionStore(self.db)
        self.states = SqliteOAuthStateStore(self.db)
        self.limits = SqliteRealmLimitStore(self.db)

    def auth(self) -> IntuitAuthClient:
        return IntuitAuthClient(self.config, clock=self.clock)

    def start(self, tenant: str) -> str:
        return authorization_url(tenant, self.config, self.states, self.clock)

    def callback(self, location: str) -> dict[str, str]:
        from urllib.parse import parse_qs, urlsplit

        assert location.startswith(REDIRECT_URI), location
        return {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}

    def connect(self, tenant: str = "acme", realm: str = REALM) -> QboConnection:
        location = self.fake.approve(self.start(tenant), realm)
        return complete_connection(
            self.callback(location),
            self.states,
            self.secrets,
            self.connections,
            self.auth(),
            self.clock,
        )

    def tokens(self, tenant: str = "acme", **kwargs: Any) -> QboTokens:
        kwargs.setdefault("sleep", self.sleep)
        return QboTokens(
            tenant, self.secrets, self.connections, self.auth(), clock=self.clock, **kwargs
        )

    def limiter(self, policy: RealmPolicy | None = None) -> RealmLimiter:
        return RealmLimiter(self.limits, policy, clock=self.clock, sleep=self.sleep)

    def client(
        self, tenant: str = "acme", policy: RealmPolicy | None = None, **kwargs: Any
    ) -> QboClient:
        kwargs.setdefault("sleep", self.sleep)
        return QboClient(
            self.tokens(tenant), self.config, self.limiter(policy), clock=self.clock, **kwargs
        )


def make_env(
    tmp: Path,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    **fake_args: Any,
) -> QboEnv:
    fake = FakeQbo(clock=clock, **fake_args)
    fake.add_app(CLIENT_ID, CLIENT_SECRET, (REDIRECT_URI,))
    server = LoopbackServer(fake, name="fake-qbo").start()
    env = {
        "QBO_CLIENT_ID": CLIENT_ID,
        "QBO_CLIENT_SECRET": CLIENT_SECRET,
        "QBO_REDIRECT_URI": REDIRECT_URI,
        "QBO_ENVIRONMENT": "sandbox",
        "QBO_AUTH_BASE_URL": server.url,
        "QBO_API_BASE_URL": server.url,
    }
    db = SqliteDatabase.in_dir(tmp / "store")
    secrets = FileSecretStore.in_dir(tmp / "store")
    return QboEnv(fake, server, load_config(env), db, secrets, clock, sleep)
