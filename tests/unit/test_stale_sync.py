"""The stale-sync check over the SQLite tenant store."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdas.ops.stale_sync import HOUR, is_stale, stale_tenants
from lambdas.store.ports import Tenant
from lambdas.store.sqlite import SqliteDatabase, SqliteTenantStore

NOW = 1_800_000_000.0


def tenant(name: str, **fields) -> Tenant:
    return Tenant(name=name, qbwc_user=f"{name}-qbwc", password_hash="x", **fields)


@pytest.fixture
def store(tmp_path: Path) -> SqliteTenantStore:
    return SqliteTenantStore(SqliteDatabase.in_dir(tmp_path))


def test_only_tenants_past_the_threshold_are_stale(store: SqliteTenantStore) -> None:
    store.create(tenant("fresh", created_at=NOW - 100 * HOUR, last_sync_at=NOW - 2 * HOUR))
    store.create(tenant("quiet", created_at=NOW - 100 * HOUR, last_sync_at=NOW - 30 * HOUR))
    store.create(tenant("new", created_at=NOW - 1 * HOUR))
    store.create(tenant("never", created_at=NOW - 48 * HOUR))
    stale = stale_tenants(store, NOW, threshold_hours=24)
    assert [s.name for s in stale] == ["never", "quiet"]
    assert stale[0].last_sync_at is None and stale[0].silent_hours == pytest.approx(48)
    assert stale[1].silent_hours == pytest.approx(30)


def test_threshold_is_exclusive_at_the_boundary() -> None:
    t = tenant("edge", created_at=0.0, last_sync_at=NOW - 24 * HOUR)
    assert not is_stale(t, NOW, 24)
    assert is_stale(t, NOW + 1, 24)


def test_minimum_interval_extends_the_allowance() -> None:
    # The relay refuses sessions within the tenant's minimum interval: no sync is due before it.
    daily = tenant("daily", last_sync_at=NOW - 30 * HOUR, min_interval_seconds=int(24 * HOUR))
    assert not is_stale(daily, NOW, 12)
    assert is_stale(daily, NOW + 7 * HOUR, 12)


def test_tenant_with_nothing_enabled_is_never_stale() -> None:
    assert not is_stale(tenant("off", enabled_entities=()), NOW, 1)


def test_threshold_must_be_positive(store: SqliteTenantStore) -> None:
    with pytest.raises(ValueError, match="positive"):
        stale_tenants(store, NOW, 0)
