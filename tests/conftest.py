"""Shared fixtures: a relay on a fresh SQLite store, tenants, paths to the shared reference data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdas.local.wiring import LocalRelay, build_local
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.store.ports import Tenant
from lambdas.sync.engine import SyncSettings
from lambdas.sync.paging import PagePolicy

REPO = Path(__file__).resolve().parent.parent


def shared_path(env: str, default: str) -> Path | None:
    """A reference path from its environment variable, else beside the checkout, else None."""
    value = os.environ.get(env)
    path = Path(value) if value else REPO.parent / "shared" / default
    return path if path.exists() else None


# Pages of a fixed 50 records, so tests can count exchanges.
FIXED_PAGES = SyncSettings(paging=PagePolicy(initial=50, minimum=50, maximum=50))


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalRelay]:
    yield build_local(tmp_path / "data", RelaySettings(), FIXED_PAGES)


PASSWORD = "correct horse battery staple"


@pytest.fixture
def tenant(local: LocalRelay) -> Tenant:
    t = Tenant(name="acme", qbwc_user="acme-qbwc", password_hash=hash_password(PASSWORD))
    local.tenants.create(t)
    return t
