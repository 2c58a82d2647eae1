"""Access tokens: lazy single-flight refresh, rotation persisted, invalid_grant, hard expiry."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from lambdas.qbo.connections import NEEDS_RECONNECT
from lambdas.qbo.errors import QboNeedsReconnect
from lambdas.qbo.tokens import REFRESH_MARGIN, expiring, secret_name
from sim.fake_qbo import ManualClock
from tests.integration.qbo_helpers import REALM


def test_two_concurrent_refreshes_make_one_token_call_and_persist_the_rotation(qbo_env) -> None:
    # Strict rotation (no grace for a superseded refresh token) and slow token answers: two
    # workers refreshing on their own would both spend the same refresh token, and one fail.
    env = qbo_env(latency=0.3)
    env.connect()
    before = env.secrets.get(secret_name("acme"))["refresh_token"]
    env.fake.oauth.expire_access_tokens()  # Intuit now answers 401 to the old access token
    clients = [env.client(), env.client()]  # two "processes": no shared memory
    barrier = threading.Barrier(2)
    calls_before = env.fake.calls["token"]

    def work(client) -> int:
        barrier.wait()
        return len(client.read_by_ids("Customer", ["1", "2"]))

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(work, clients)) == [2, 2]
    assert env.fake.calls["token"] - calls_before == 1
    after = env.secrets.get(secret_name("acme"))["refresh_token"]
    assert after != before and env.fake.oauth.live_refresh_tokens(REALM) == [after]
    assert sum(c.tokens.refreshes for c in clients) == 1
    # The next process refreshes with the persisted token, and Intuit accepts it.
    env.fake.oauth.expire_access_tokens()
    assert len(env.client().read_by_ids("Customer", ["3"])) == 1
    assert env.connections.get("acme").status == "connected"


def test_the_access_token_is_reused_until_shortly_before_it_expires(qbo_env) -> None:
    clock = ManualClock()
    env = qbo_env(clock=clock, sleep=clock.sleep)
    env.connect()
    tokens = env.tokens()
    first = tokens.access_token()
    clock.sleep(3600 - REFRESH_MARGIN - 5)
    assert tokens.access_token() == first and env.fake.calls["token"] == 1
    clock.sleep(10)
    second = tokens.access_token()
    assert second != first and env.fake.calls["token"] == 2
    conn = env.connections.get("acme")
    assert conn.access_expires_at == pytest.approx(clock() + 3600, abs=1)


def test_invalid_grant_marks_needs_reconnect_and_stops_calling_intuit(qbo_env, caplog) -> None:
    env = qbo_env()
    env.connect()
    client = env.client()
    assert client.read_by_ids("Item", ["1"])
    env.fake.oauth.revoke_realm(REALM)  # the admin disconnected the app inside QuickBooks
    env.fake.oauth.expire_access_tokens()
    with pytest.raises(QboNeedsReconnect) as err:
        client.read_by_ids("Item", ["1"])
    assert err.value.code == "invalid_grant"
    conn = env.connections.get("acme")
    assert conn.status == NEEDS_RECONNECT
    assert "invalid_grant" in conn.message and "qbrelay qbo connect --tenant acme" in conn.message
    seen = (env.fake.api_calls(), env.fake.calls["token"])
    for fresh in (client, env.client()):  # this process, and another one starting later
        with pytest.raises(QboNeedsReconnect):
            fresh.read_by_ids("Item", ["1"])
    assert (env.fake.api_calls(), env.fake.calls["token"]) == seen
    stored = env.secrets.get(secret_name("acme"))
    assert stored["refresh_token"] not in caplog.text and stored["access_token"] not in caplog.text


def test_a_reused_refresh_token_is_invalid_grant_at_the_fake(qbo_env) -> None:
    env = qbo_env()
    env.connect()
    old = env.secrets.get(secret_name("acme"))["refresh_token"]
    env.auth().refresh(old)
    with pytest.raises(QboNeedsReconnect):
        env.auth().refresh(old)


def test_the_hard_expiry_is_recorded_surfaced_and_ends_the_connection(qbo_env) -> None:
    clock = ManualClock()
    env = qbo_env(clock=clock, sleep=clock.sleep)
    env.connect()
    tokens = env.tokens()
    hard = env.connections.get("acme").refresh_hard_expires_at
    # Use the connection every 90 days so the rolling expiry never passes.
    while clock() < hard - 90 * 86400:
        clock.sleep(90 * 86400)
        tokens.access_token()
    conn = env.connections.get("acme")
    assert conn.refresh_hard_expires_at == hard
    assert conn.days_left(clock()) == pytest.approx((hard - clock()) / 86400)
    assert [c.tenant for c, _ in expiring(env.connections.list(), clock(), 91)] == ["acme"]
    calls = env.fake.calls["token"]
    clock.sleep(hard - clock() + 1)
    with pytest.raises(QboNeedsReconnect) as err:
        tokens.access_token()
    assert env.fake.calls["token"] == calls  # known dead: Intuit is not asked
    assert "five-year limit" in str(err.value)
    assert env.connections.get("acme").status == NEEDS_RECONNECT
    assert expiring(env.connections.list(), clock()) == []  # not connected any more
