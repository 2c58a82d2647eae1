"""The ZOHO client and token provider against the fake ZOHO CRM over HTTP on loopback."""

from __future__ import annotations

import logging
import threading

import pytest

from lambdas.store.ports import ZohoToken
from lambdas.store.sqlite import SqliteDatabase
from lambdas.zoho.errors import (
    ZohoConfigError,
    ZohoCreditsExhausted,
    ZohoTokenThrottled,
    ZohoUnavailable,
)
from sim.fake_zoho import REFRESHES_PER_WINDOW, FakeZoho, FakeZohoServer, standard_modules
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv


def test_refresh_grant_gives_token_and_api_domain(zoho: ZohoEnv) -> None:
    provider = zoho.provider()
    token = provider.token()
    assert token.api_domain == zoho.url and token.access_token.startswith("1000.")
    assert provider.token() == token  # cached: no second grant
    assert provider.token_calls == 1 == zoho.fake.token_calls
    stored = zoho.tokens.load("acme")
    assert stored == token


@pytest.mark.parametrize(
    ("creds", "hint"),
    [
        ({"client_id": "1000.NOPE"}, "invalid_client"),
        ({"client_secret": "wrong"}, "invalid_client_secret"),
        ({"refresh_token": "1000.revoked"}, "invalid_code"),
    ],
)
def test_http_200_token_errors_are_failures(zoho: ZohoEnv, creds, hint) -> None:
    provider = zoho.provider(credentials=zoho.credentials(**creds))
    with pytest.raises(ZohoConfigError, match=hint):
        provider.token()
    # The lease was given back: the next attempt may refresh at once.
    assert zoho.tokens.try_lease("acme", "someone", now=1e12, seconds=1) is True


def test_throttled_refresh_blocks_everyone_until_it_passes(zoho: ZohoEnv) -> None:
    zoho.fake.inject("token_throttle", path="/oauth/")
    with pytest.raises(ZohoTokenThrottled) as err:
        zoho.provider().token()
    assert err.value.until > 0
    calls = zoho.fake.token_calls
    # Another process does not ask ZOHO again while the block lasts.
    with pytest.raises(ZohoTokenThrottled):
        zoho.provider().token()
    assert zoho.fake.token_calls == calls


def test_fake_throttles_the_eleventh_refresh_in_ten_minutes(zoho: ZohoEnv) -> None:
    for _ in range(REFRESHES_PER_WINDOW):
        zoho.fake.expire_tokens()
        provider = zoho.provider()
        provider.token(rejected=(provider.cache.load("acme") or ZohoToken()).access_token)
    with pytest.raises(ZohoTokenThrottled):
        zoho.provider().token(rejected=zoho.tokens.load("acme").access_token)


def test_concurrent_processes_refresh_once(zoho: ZohoEnv) -> None:
    providers = [zoho.provider(poll_seconds=0.01) for _ in range(8)]
    for p in providers:
        p.sleep = lambda s: threading.Event().wait(s)  # really wait while another refreshes
    tokens: list[str] = []
    barrier = threading.Barrier(len(providers))

    def work(p) -> None:
        barrier.wait()
        tokens.append(p.token().access_token)

    threads = [threading.Thread(target=work, args=(p,)) for p in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert zoho.fake.token_calls == 1


def test_invalid_token_refreshes_once_and_retries_once(zoho: ZohoEnv) -> None:
    client = zoho.client()
    client.modules()
    zoho.fake.inject("invalid_token")
    assert client.modules()
    assert client.token_calls == 2 and client.calls == 3
    # A token that ZOHO calls invalid right after a refresh is a setup problem.
    zoho.fake.inject("invalid_token", times=2)
    with pytest.raises(ZohoConfigError, match="INVALID_TOKEN"):
        client.modules()


def test_expired_token_is_refreshed_before_use(zoho: ZohoEnv) -> None:
    client = zoho.client()
    client.modules()
    cache = zoho.tokens
    old = cache.load("acme")
    cache.try_lease("acme", "t", 0, 1)
    cache.save("acme", "t", ZohoToken(old.access_token, old.api_domain, expires_at=1.0))
    client.modules()
    assert client.token_calls == 2 and client.calls == 2


def test_429_backs_off_with_bounded_jitter(zoho: ZohoEnv) -> None:
    client = zoho.client()
    zoho.fake.inject("429", times=3)
    assert client.modules()
    assert client.calls == 4
    assert len(zoho.sleeps) == 3
    assert all(0 <= s <= min(30.0, 2**i) for i, s in enumerate(zoho.sleeps, start=1))


def test_repeated_429_is_taken_for_credit_exhaustion(zoho: ZohoEnv) -> None:
    client = zoho.client(max_attempts=3)
    zoho.fake.inject("429", times=10)
    with pytest.raises(ZohoCreditsExhausted):
        client.modules()
    assert client.calls == 3


def test_low_credits_header_makes_a_429_final(tmp_path) -> None:
    fake = FakeZoho(daily_credits=6)
    fake.add_client(CLIENT_ID, SECRET, REFRESH)
    with FakeZohoServer(fake) as server:
        env = ZohoEnv(fake, server.url, SqliteDatabase.in_dir(tmp_path))
        client = env.client()
        for _ in range(6):
            client.modules()
        assert client.credits_remaining == 0
        with pytest.raises(ZohoCreditsExhausted):
            client.modules()
        assert client.calls == 7 and env.sleeps == []
        for s in env.sessions:
            s.close()


def test_5xx_and_timeouts_retry_then_give_up(zoho: ZohoEnv) -> None:
    client = zoho.client(timeout=(1.0, 0.3))
    zoho.fake.inject("500")
    zoho.fake.inject("timeout")
    assert client.modules()
    assert client.calls == 3
    zoho.fake.inject("503", times=5)
    with pytest.raises(ZohoUnavailable, match="503"):
        client.modules()


def test_scope_and_permission_errors_stop_with_an_operator_message(tmp_path) -> None:
    fake = FakeZoho()
    fake.add_client(CLIENT_ID, SECRET, REFRESH, scopes=["ZohoCRM.modules.accounts.ALL"])
    with FakeZohoServer(fake) as server:
        env = ZohoEnv(fake, server.url, SqliteDatabase.in_dir(tmp_path))
        client = env.client()
        assert client.upsert("Accounts", [{"Account_Name": "A", "QB_ListID": "1"}], ["QB_ListID"])
        with pytest.raises(ZohoConfigError, match="scope"):
            client.upsert("Contacts", [{"Last_Name": "L", "QB_ListID": "1"}], ["QB_ListID"])
        for s in env.sessions:
            s.close()


def test_upsert_results_are_read_by_position(zoho: ZohoEnv) -> None:
    client = zoho.client()
    results = client.upsert(
        "Accounts",
        [
            {"Account_Name": "A", "QB_ListID": "1"},
            {"QB_ListID": "2"},  # no Account_Name
            {"Account_Name": "x" * 201, "QB_ListID": "3"},
            {"Account_Name": "A", "QB_ListID": "4"},  # same name, different QuickBooks id
        ],
        ["QB_ListID"],
    )
    assert [r.code for r in results] == [
        "SUCCESS",
        "MANDATORY_NOT_FOUND",
        "INVALID_DATA",
        "SUCCESS",
    ]
    assert results[1].details["api_name"] == "Account_Name"
    assert "Account_Name" in results[2].reason()
    assert len(zoho.fake.all("Accounts")) == 2
    again = client.upsert("Accounts", [{"Account_Name": "B", "QB_ListID": "1"}], ["QB_ListID"])
    assert again[0].action == "update" and again[0].zoho_id == results[0].zoho_id
    assert zoho.fake.requests[-1]["trigger"] == []
    with pytest.raises(ValueError, match="duplicate_check_fields"):
        client.upsert("Accounts", [{"QB_ListID": "9"}], [])


def test_without_duplicate_check_fields_zoho_merges_on_names(zoho: ZohoEnv) -> None:
    """Why the client insists on explicit fields: the system check matches Account_Name."""
    client = zoho.client()
    client.upsert("Accounts", [{"Account_Name": "Smith", "QB_ListID": "1"}], ["QB_ListID"])
    # Raw request without duplicate_check_fields, as a careless client would send it.
    token = client.tokens.token()
    resp = client.session.post(
        f"{zoho.url}/crm/v8/Accounts/upsert",
        json={"data": [{"Account_Name": "Smith", "QB_ListID": "2"}]},
        headers={"Authorization": f"Zoho-oauthtoken {token.access_token}"},
    )
    assert resp.json()["data"][0]["duplicate_field"] == "Account_Name"
    assert len(zoho.fake.all("Accounts")) == 1  # two QuickBooks customers merged into one


def test_empty_reads_are_204(zoho: ZohoEnv) -> None:
    client = zoho.client()
    assert client.get_records("Accounts", ["123"], ["Account_Name"]) == []
    token = client.tokens.token()
    resp = client.session.get(
        f"{zoho.url}/crm/v8/Accounts",
        headers={"Authorization": f"Zoho-oauthtoken {token.access_token}"},
    )
    assert resp.status_code == 400 and resp.json()["code"] == "REQUIRED_PARAM_MISSING"


def test_editions_without_inventory_modules(tmp_path) -> None:
    fake = FakeZoho(modules=standard_modules(inventory=False))
    fake.add_client(CLIENT_ID, SECRET, REFRESH)
    with FakeZohoServer(fake) as server:
        env = ZohoEnv(fake, server.url, SqliteDatabase.in_dir(tmp_path))
        names = {m["api_name"] for m in env.client().modules()}
        assert "Invoices" not in names and "Quotes" in names
        with pytest.raises(ZohoConfigError, match="INVALID_MODULE"):
            env.client().fields("Invoices")
        for s in env.sessions:
            s.close()


def test_no_secret_or_token_in_any_log_line(zoho: ZohoEnv, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    client = zoho.client(timeout=(1.0, 0.3))
    zoho.fake.inject("timeout")
    zoho.fake.inject("429")
    client.upsert("Accounts", [{"Account_Name": "A", "QB_ListID": "1"}], ["QB_ListID"])
    zoho.fake.inject("invalid_token")
    client.modules()
    zoho.fake.inject("token_throttle", path="/oauth/")
    zoho.fake.expire_tokens()
    with pytest.raises(ZohoTokenThrottled):
        zoho.client().tokens.token(rejected=client.tokens.cache.load("acme").access_token)
    bad = zoho.provider("beta", credentials=zoho.credentials(client_secret="wrong-secret-value"))
    with pytest.raises(ZohoConfigError) as err:
        bad.token(rejected="x")
    text = caplog.text + str(err.value)
    assert "refreshed the ZOHO access token" in caplog.text
    tokens = [t.value for t in zoho.fake._tokens.values()]
    for secret in [SECRET, REFRESH, "wrong-secret-value", *tokens]:
        assert secret not in text
    assert SECRET not in repr(zoho.credentials()) and REFRESH not in repr(zoho.credentials())
