"""Fixtures of the integration tests: a fake ZOHO CRM served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lambdas.store.sqlite import SqliteDatabase
from sim.fake_zoho import FakeZoho, FakeZohoServer
from tests.integration.ops_rig import rig  # noqa: F401 (the operator routes' served data dir)
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv


@pytest.fixture
def zoho(tmp_path) -> Iterator[ZohoEnv]:
    fake = FakeZoho(timeout_delay=0.6)
    fake.add_client(CLIENT_ID, SECRET, REFRESH)
    server = FakeZohoServer(fake).start()
    env = ZohoEnv(fake, server.url, SqliteDatabase.in_dir(tmp_path / "store"))
    try:
        yield env
    finally:
        for s in env.sessions:
            s.close()
        server.stop()


@pytest.fixture
def qbo_env(tmp_path):
    """A factory of fake-QuickBooks-Online environments (servers stopped at teardown)."""
    from tests.integration.qbo_helpers import make_env

    made = []

    def make(**kwargs):
        env = make_env(tmp_path / f"qbo{len(made)}", **kwargs)
        made.append(env)
        return env

    yield make
    for env in made:
        env.server.stop()
        env.db.close()
