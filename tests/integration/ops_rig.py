"""A data dir with one synced tenant, served over loopback with the operator routes, as
``qbrelay serve`` wires them (RelayWsgiApp + lambdas/local/ops_wiring.py)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from lambdas.local.ops_wiring import ops_providers
from lambdas.local.server import RelayServer
from lambdas.local.wiring import build_local
from lambdas.local.wsgi import RelayWsgiApp
from lambdas.model.envelope import Envelope
from lambdas.ops.api_keys import create_key
from lambdas.ops.tenant_purge import TenantData
from lambdas.store.ports import DeadLetter
from lambdas.store.sqlite import (
    SqliteApiKeyStore,
    SqliteDatabase,
    SqliteDeadLetterQueue,
    SqliteRecordQueue,
)
from sim.fake_company import FakeCompany
from tests.integration import test_tenant_purge_commands as purge
from tests.integration.test_ops_commands import PARKED_REASON, park
from tests.integration.test_tenant_purge_commands import CUSTOMERS, ITEMS, Target


@dataclass
class OpsRig:
    """The served relay, its stores, a valid key and what the tenant's sync left behind."""

    base: str
    target: Target
    key: str
    key_id: str
    parked: Envelope
    folder: Path

    @property
    def data(self) -> TenantData:
        return self.target.data

    @property
    def db(self) -> SqliteDatabase:
        return SqliteDatabase.in_dir(self.folder)

    @property
    def keys(self) -> SqliteApiKeyStore:
        return SqliteApiKeyStore(self.db)

    def get(self, path: str, key: str | None = None, **kw: Any) -> requests.Response:
        headers = {**kw.pop("headers", {}), **({"X-API-Key": key} if key is not None else {})}
        return requests.get(self.base + path, headers=headers, timeout=10, **kw)

    def post(self, path: str, key: str | None = None, **kw: Any) -> requests.Response:
        headers = {**kw.pop("headers", {}), **({"X-API-Key": key} if key is not None else {})}
        return requests.post(self.base + path, headers=headers, timeout=10, **kw)


def make_rig(capsys: Any, tmp_path: Path) -> Iterator[OpsRig]:
    """The rig; the server stops when the iterator is closed."""
    folder = tmp_path / "data"
    target = Target(
        ["--data-dir", str(folder)],
        argparse.Namespace(aws=False, data_dir=str(folder), env=None, region=None),
        SqliteRecordQueue(SqliteDatabase.in_dir(folder)),
    )
    purge.add_tenant(capsys, target)
    purge.session(target, FakeCompany(customers=CUSTOMERS, items=ITEMS, seed=5))
    delivered = purge.deliver(target)
    parked = next(e for e in delivered if e.entity == "Customer")
    park(target, parked)
    # The forwarder parks the message too: a re-drive moves it back onto the record queue.
    SqliteDeadLetterQueue(SqliteDatabase.in_dir(folder)).send(
        [DeadLetter("shop", parked.to_json(), PARKED_REASON, time.time())]
    )
    key, row = create_key(SqliteApiKeyStore(SqliteDatabase.in_dir(folder)), "ops-test", time.time())
    local = build_local(folder)
    app = RelayWsgiApp(
        local.endpoint,
        None,
        local.tenants,
        local.state,
        providers=ops_providers(folder, local.db),
    )
    served = RelayServer(app, "127.0.0.1", 0).start_in_thread()
    try:
        yield OpsRig(served.url, target, key, row.key_id, parked, folder)
    finally:
        served.stop()


@pytest.fixture
def rig(capsys, tmp_path) -> Iterator[OpsRig]:
    yield from make_rig(capsys, tmp_path)
