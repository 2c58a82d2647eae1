"""One contract for the QuickBooks Online stores: SQLite and DynamoDB (moto)."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.qbo.connections import CONNECTED, DISCONNECTED, NEEDS_RECONNECT, QboConnection
from lambdas.qbo.limits import LimiterState, RealmLimiter, RealmPolicy
from lambdas.qbo.states import OAuthState, state_key
from lambdas.store.dynamo.qbo import (
    DynamoOAuthStateStore,
    DynamoQboConnectionStore,
    DynamoRealmLimitStore,
)
from lambdas.store.ports import AlreadyExists, StoreError
from lambdas.store.sqlite import SqliteDatabase
from lambdas.store.sqlite.qbo import (
    SqliteOAuthStateStore,
    SqliteQboConnectionStore,
    SqliteRealmLimitStore,
)
from sim.fake_qbo import ManualClock
from tests.aws_tables import create_pk_table


@dataclass
class Stores:
    connections: Any
    states: Any
    limits: Any


@pytest.fixture(params=["sqlite", "aws"])
def stores(request, tmp_path) -> Iterator[Stores]:
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)
        yield Stores(
            SqliteQboConnectionStore(db), SqliteOAuthStateStore(db), SqliteRealmLimitStore(db)
        )
        db.close()
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "state")
        create_pk_table(ddb, "sessions")
        yield Stores(
            DynamoQboConnectionStore(ddb, "state"),
            DynamoOAuthStateStore(ddb, "sessions"),
            DynamoRealmLimitStore(ddb, "state"),
        )


def _conn(tenant: str = "acme", realm: str = "123") -> QboConnection:
    return QboConnection(
        tenant=tenant,
        realm_id=realm,
        access_expires_at=1000.0,
        refresh_expires_at=9000.0,
        refresh_hard_expires_at=99000.0,
        connected_at=10.0,
    )


def test_connections_by_tenant_and_realm(stores: Stores) -> None:
    c = stores.connections
    assert c.get("acme") is None and c.find_by_realm("123") is None and c.list() == []
    c.connect(_conn())
    c.connect(_conn("beta", "456"))
    assert c.get("acme") == _conn()
    assert c.find_by_realm("456").tenant == "beta"
    assert [x.tenant for x in c.list()] == ["acme", "beta"]
    c.record_tokens("acme", 2000.0, 9500.0, None)  # no hard expiry sent: the old one stays
    c.record_success("acme", 1500.0)
    got = c.get("acme")
    assert (got.access_expires_at, got.refresh_expires_at) == (2000.0, 9500.0)
    assert (got.refresh_hard_expires_at, got.last_success_at) == (99000.0, 1500.0)
    with pytest.raises(StoreError):
        c.record_tokens("ghost", 1.0, 2.0, 3.0)


def test_a_realm_is_held_by_one_tenant_until_it_disconnects(stores: Stores) -> None:
    c = stores.connections
    c.connect(_conn("acme", "123"))
    with pytest.raises(AlreadyExists):
        c.connect(_conn("beta", "123"))
    c.mark("acme", NEEDS_RECONNECT, "reconnect please")
    assert c.find_by_realm("123").status == NEEDS_RECONNECT  # still routed to acme
    with pytest.raises(AlreadyExists):
        c.connect(_conn("beta", "123"))
    c.connect(_conn("acme", "123"))  # the same tenant reconnects
    assert c.get("acme").status == CONNECTED and c.get("acme").message == ""
    c.mark("acme", DISCONNECTED, "bye")
    assert c.find_by_realm("123") is None
    c.connect(_conn("beta", "123"))
    assert c.find_by_realm("123").tenant == "beta"
    # A tenant moving to another company frees its old one.
    c.connect(_conn("beta", "789"))
    assert c.find_by_realm("123") is None and c.find_by_realm("789").tenant == "beta"
    c.connect(_conn("acme", "123"))
    assert c.delete("beta") is True and c.delete("beta") is False
    assert c.find_by_realm("789") is None


def test_the_refresh_lease_admits_one_holder_until_it_expires(stores: Stores) -> None:
    c = stores.connections
    c.connect(_conn())
    assert c.try_lease("acme", "a", 100.0, 30.0) is True
    assert c.try_lease("acme", "b", 110.0, 30.0) is False
    assert c.try_lease("acme", "a", 110.0, 30.0) is True  # the holder renews
    assert c.try_lease("acme", "b", 141.0, 30.0) is True  # a's lease ran out
    c.release_lease("acme", "a")  # not a's any more: no effect
    assert c.try_lease("acme", "a", 150.0, 30.0) is False
    c.release_lease("acme", "b")
    assert c.try_lease("acme", "a", 150.0, 30.0) is True
    c.connect(_conn())  # a renewed connection keeps the lease as it is
    assert c.try_lease("acme", "b", 151.0, 30.0) is False
    assert c.try_lease("ghost", "a", 150.0, 30.0) is False
    assert c.get("acme") == _conn()


def test_an_oauth_state_is_consumed_once_and_not_after_it_expires(stores: Stores) -> None:
    s = stores.states
    s.put(state_key("s1"), OAuthState("acme", 700.0, 100.0))
    s.put(state_key("s2"), OAuthState("beta", 700.0, 100.0))
    assert s.consume(state_key("s1"), 200.0) == OAuthState("acme", 700.0, 100.0)
    assert s.consume(state_key("s1"), 200.0) is None
    assert s.consume(state_key("nope"), 200.0) is None
    assert s.consume(state_key("s2"), 700.0) is None  # expired
    assert s.consume(state_key("s2"), 200.0) is None  # and gone


def test_the_limiter_paces_bounds_in_flight_and_pauses_per_realm(stores: Stores) -> None:
    clock = ManualClock(1000.0)
    policy = RealmPolicy(per_second=10, per_minute=120, max_in_flight=2, max_wait=75)
    limiter = RealmLimiter(stores.limits, policy, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(5):
        with limiter.turn("r1"):
            starts.append(clock())
    assert [round(b - a, 3) for a, b in itertools.pairwise(starts)] == [0.5] * 4
    # Another realm is not held back by r1's schedule.
    before = clock()
    with limiter.turn("r2"):
        assert clock() == before
    until = limiter.pause("r1", 60, jitter=0)
    with limiter.turn("r1"):
        assert clock() >= until
    with limiter.turn("r2"):
        assert clock() < until + 1
    # Slots in flight: a third caller waits while two hold theirs.
    held = threading.Event()
    gate = threading.Event()

    def hold() -> None:
        with limiter.turn("r3"):
            held.set()
            gate.wait(5)

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
        held.wait(5)
        held.clear()
    state = stores.limits.get("r3")
    assert len(state.slots) == 2
    assert state.admit("probe", clock(), policy) is None
    gate.set()
    for t in threads:
        t.join(5)
    assert stores.limits.get("r3").slots == {}


def test_a_pause_begun_while_a_caller_waits_for_its_start_holds_it_too(stores: Stores) -> None:
    clock = ManualClock(1000.0)
    policy = RealmPolicy(per_second=4, per_minute=240)
    other = RealmLimiter(stores.limits, policy, clock=clock, sleep=clock.sleep)
    paused: list[float] = []

    def sleep(seconds: float) -> None:
        # The other worker's call, sent before this one's start, meets a 429 meanwhile.
        if not paused:
            paused.append(other.pause("r1", 60, jitter=0))
        clock.sleep(seconds)

    waiting = RealmLimiter(stores.limits, policy, clock=clock, sleep=sleep)
    with other.turn("r1"):
        start = clock()
    with waiting.turn("r1"):  # its start is 0.25 s away: it sleeps, and the pause begins
        assert paused and clock() >= paused[0]
    assert clock() - start >= 60
    assert stores.limits.get("r1").slots == {}


# Races across threads run on SQLite (moto is not thread-safe); DynamoDB's are staged below.


def test_concurrent_lease_takers_and_state_consumers_win_once(tmp_path) -> None:
    db = SqliteDatabase.in_dir(tmp_path)
    connections, states = SqliteQboConnectionStore(db), SqliteOAuthStateStore(db)
    connections.connect(_conn())
    states.put(state_key("s"), OAuthState("acme", 700.0, 100.0))
    with ThreadPoolExecutor(6) as pool:
        won = list(pool.map(lambda h: connections.try_lease("acme", h, 100.0, 30.0), "abcdef"))
        got = list(pool.map(lambda _: states.consume(state_key("s"), 200.0), range(6)))
    assert won.count(True) == 1 and sum(g is not None for g in got) == 1


def test_concurrent_limiter_updates_never_lose_one_another(tmp_path) -> None:
    limits = SqliteRealmLimitStore(SqliteDatabase.in_dir(tmp_path))

    def bump(state: LimiterState) -> None:
        state.next_at += 1

    def worker(_: int) -> None:
        for _ in range(15):
            limits.update("r1", bump)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, range(4)))
    assert limits.get("r1").next_at == 60


class _RivalBetweenReadAndWrite:
    """A DynamoDB client on which another instance updates the realm after each of our reads."""

    def __init__(self, client: Any, rival: DynamoRealmLimitStore, rivals: int) -> None:
        self._client, self._rival, self._rivals = client, rival, rivals

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_item(self, **kw: Any) -> dict[str, Any]:
        item = self._client.get_item(**kw)
        if self._rivals:
            self._rivals -= 1
            self._rival.update("r1", lambda s: s.pause(s.paused_until + 10))
        return item


def test_dynamo_limiter_update_is_redone_on_top_of_a_concurrent_one() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "state")
        rival = DynamoRealmLimitStore(ddb, "state")
        ours = DynamoRealmLimitStore(_RivalBetweenReadAndWrite(ddb, rival, 2), "state")
        runs: list[float] = []

        def bump(state: LimiterState) -> float:
            runs.append(state.paused_until)
            state.next_at += 1
            return state.next_at

        # Two rival writes land between our reads and writes (the first against the item's
        # creation): ours is redone on top of each, and nothing of either is lost.
        assert ours.update("r1", bump) == 1
        assert ours.update("r1", bump) == 2
        assert runs == [0.0, 10.0, 20.0, 20.0]
        assert ours.get("r1") == LimiterState(next_at=2, paused_until=20.0)
