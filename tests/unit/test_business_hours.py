"""Business hours: parsing, the tenant's time zone, and what a plan does within them (fixed
clocks)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from lambdas.store.ports import EntitySyncState, Tenant
from lambdas.store.sqlite import (
    SqliteDatabase,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteSyncStateStore,
)
from lambdas.sync.engine import SyncEngine
from lambdas.sync.hours import HOURS_PAGE, BusinessHours, HoursError, in_business_hours


def test_parse_days_and_times() -> None:
    weekdays = BusinessHours.parse("Mon-Fri 08:00-18:00")
    assert weekdays.days == frozenset(range(5))
    assert (weekdays.start, weekdays.end) == (time(8), time(18))
    assert BusinessHours.parse("07:30-17:00").days == frozenset(range(7))
    assert BusinessHours.parse("Sat 09:00-12:00").days == frozenset({5})
    assert BusinessHours.parse("Fri-Mon 10:00-11:00").days == frozenset({4, 5, 6, 0})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("8-6", "expected e.g."),
        ("Xyz 08:00-09:00", "days are"),
        ("08:00-25:00", "not a time of day"),
        ("18:00-08:00", "after the start"),
    ],
)
def test_parse_refuses(text: str, message: str) -> None:
    with pytest.raises(HoursError, match=message):
        BusinessHours.parse(text)


def _utc(*args: int) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def test_hours_are_read_in_the_tenants_zone() -> None:
    hours = "Mon-Fri 08:00-18:00"
    # Wednesday 2026-01-14 15:00 UTC is 09:00 in Chicago (UTC-6) and 15:00 in UTC.
    assert in_business_hours(hours, "America/Chicago", _utc(2026, 1, 14, 15))
    # 13:00 UTC is 07:00 in Chicago: before the hours there, within them in UTC.
    assert not in_business_hours(hours, "America/Chicago", _utc(2026, 1, 14, 13))
    assert in_business_hours(hours, "", _utc(2026, 1, 14, 13))
    # Saturday.
    assert not in_business_hours(hours, "America/Chicago", _utc(2026, 1, 17, 15))
    # None set, or one that cannot be read (never stops the sync).
    assert not in_business_hours("", "America/Chicago", _utc(2026, 1, 14, 15))
    assert not in_business_hours("garbage", "America/Chicago", _utc(2026, 1, 14, 15))


def test_a_plan_within_the_hours_caps_pages_and_defers_full_reads(tmp_path) -> None:
    db = SqliteDatabase.in_dir(tmp_path)
    state = SqliteSyncStateStore(db)
    now = [_utc(2026, 1, 14, 15)]
    engine = SyncEngine(state, SqliteMappingStore(db), SqliteRecordQueue(db), clock=lambda: now[0])
    tenant = Tenant(
        name="acme",
        qbwc_user="u",
        password_hash="x",
        enabled_entities=("Customer", "Invoice"),
        time_zone="America/Chicago",
        business_hours="Mon-Fri 08:00-18:00",
    )
    state.put(
        EntitySyncState(
            "acme", "Customer", watermark="2026-01-14T08:00:00", last_success_at=now[0] - 60
        )
    )
    steps = {s.entity: s for s in engine.plan(tenant).steps}
    assert steps["Customer"].status == "pending" and steps["Customer"].page_cap == HOURS_PAGE
    assert steps["Invoice"].status == "deferred"
    assert steps["Customer"].query("1", 500).max_returned == HOURS_PAGE
    now[0] = _utc(2026, 1, 15, 1)  # 19:00 in Chicago
    steps = {s.entity: s for s in engine.plan(tenant).steps}
    assert steps["Invoice"].status == "pending" and steps["Customer"].page_cap is None
