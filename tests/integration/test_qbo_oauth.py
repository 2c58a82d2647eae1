"""Connecting a tenant to QuickBooks Online through the fake's consent step and token endpoint."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import pytest

from lambdas.qbo.connections import CONNECTED, DISCONNECTED
from lambdas.qbo.errors import OAuthStateRefused, QboError, QboNeedsReconnect
from lambdas.qbo.oauth import STATE_SECONDS, complete_connection, disconnect
from lambdas.qbo.tokens import secret_name
from sim.fake_qbo import ManualClock
from tests.integration.qbo_helpers import CLIENT_ID, REALM, REDIRECT_URI


def test_connect_stores_tokens_realm_and_three_expiry_times(qbo_env) -> None:
    env = qbo_env()
    url = env.start("acme")
    query = {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(env.server.url + "/connect/oauth2?")
    assert query["client_id"] == CLIENT_ID and query["redirect_uri"] == REDIRECT_URI
    assert query["scope"] == "com.intuit.quickbooks.accounting"
    assert query["response_type"] == "code" and len(query["state"]) >= 40

    location = env.fake.approve(url, REALM)
    params = env.callback(location)
    assert params["realmId"] == REALM and params["state"] == query["state"]
    conn = complete_connection(
        params, env.states, env.secrets, env.connections, env.auth(), env.clock
    )
    stored = env.secrets.get(secret_name("acme"))
    assert stored["realm_id"] == REALM
    assert stored["refresh_token"] in env.fake.oauth.live_refresh_tokens(REALM)
    now = env.clock()
    assert 3500 < stored["access_expires_at"] - now <= 3600
    assert 100 * 86400 < stored["refresh_expires_at"] - now <= 101 * 86400
    # The hard expiry was asked for (x-include-refresh-token-hard-expires-in) and kept.
    assert 4.9 * 365 * 86400 < stored["refresh_hard_expires_at"] - now <= 5 * 365 * 86400
    assert conn.status == CONNECTED and env.connections.get("acme") == conn
    assert env.connections.find_by_realm(REALM).tenant == "acme"
    assert 100 < conn.days_left(now) <= 101  # the rolling expiry comes first
    assert env.fake.calls["token"] == 1


def test_a_replayed_state_is_refused_and_no_second_code_is_exchanged(qbo_env) -> None:
    env = qbo_env()
    params = env.callback(env.fake.approve(env.start("acme"), REALM))
    complete_connection(params, env.states, env.secrets, env.connections, env.auth(), env.clock)
    with pytest.raises(OAuthStateRefused):
        complete_connection(params, env.states, env.secrets, env.connections, env.auth(), env.clock)
    assert env.fake.calls["token"] == 1


def test_concurrent_callbacks_with_one_state_connect_once(qbo_env) -> None:
    env = qbo_env()
    params = env.callback(env.fake.approve(env.start("acme"), REALM))

    def attempt(_: int) -> str:
        try:
            complete_connection(
                params, env.states, env.secrets, env.connections, env.auth(), env.clock
            )
            return "ok"
        except OAuthStateRefused:
            return "refused"

    with ThreadPoolExecutor(4) as pool:
        results = sorted(pool.map(attempt, range(4)))
    assert results == ["ok", "refused", "refused", "refused"]
    assert env.fake.calls["token"] == 1


def test_an_expired_state_is_refused(qbo_env) -> None:
    clock = ManualClock()
    env = qbo_env(clock=clock, sleep=clock.sleep)
    params = env.callback(env.fake.approve(env.start("acme"), REALM))
    clock.sleep(STATE_SECONDS + 1)
    with pytest.raises(OAuthStateRefused):
        complete_connection(params, env.states, env.secrets, env.connections, env.auth(), env.clock)
    assert env.fake.calls["token"] == 0 and env.secrets.get(secret_name("acme")) is None


def test_a_forged_or_missing_state_is_refused(qbo_env) -> None:
    env = qbo_env()
    params = env.callback(env.fake.approve(env.start("acme"), REALM))
    for forged in ({**params, "state": params["state"][:-1] + "x"}, {"code": params["code"]}):
        with pytest.raises(OAuthStateRefused):
            complete_connection(
                forged, env.states, env.secrets, env.connections, env.auth(), env.clock
            )
    assert env.fake.calls["token"] == 0


def test_a_declined_consent_consumes_the_state_and_stores_nothing(qbo_env) -> None:
    env = qbo_env()
    params = env.callback(env.fake.approve(env.start("acme"), REALM, deny=True))
    assert params["error"] == "access_denied"
    with pytest.raises(QboError) as err:
        complete_connection(params, env.states, env.secrets, env.connections, env.auth(), env.clock)
    assert err.value.code == "access_denied"
    assert env.connections.get("acme") is None and env.fake.calls["token"] == 0


def test_a_realm_held_by_another_tenant_is_refused(qbo_env) -> None:
    env = qbo_env()
    env.connect("acme", REALM)
    with pytest.raises(QboError) as err:
        env.connect("beta", REALM)
    assert err.value.code == "realm_taken"
    assert env.connections.find_by_realm(REALM).tenant == "acme"
    assert env.secrets.get(secret_name("beta")) is None


def test_disconnect_revokes_at_intuit_deletes_tokens_and_frees_the_realm(qbo_env) -> None:
    env = qbo_env()
    env.connect("acme", REALM)
    client = env.client("acme")
    assert list(client.query("select * from Item"))
    assert disconnect("acme", env.secrets, env.connections, env.auth()) is True
    assert env.fake.calls["revoke"] == 1
    assert env.fake.oauth.live_refresh_tokens(REALM) == []
    assert env.secrets.get(secret_name("acme")) is None
    assert env.connections.get("acme").status == DISCONNECTED
    assert env.connections.find_by_realm(REALM) is None
    with pytest.raises(QboNeedsReconnect):
        env.client("acme").query("select * from Item").__next__()
    assert disconnect("acme", env.secrets, env.connections, env.auth()) is False
    env.connect("beta", REALM)  # the realm is free for another tenant now
