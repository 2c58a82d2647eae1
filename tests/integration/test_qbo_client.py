"""The Accounting API client against the fake: paging, batches, CDC, writes, faults, limits."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from lambdas.qbo.client import ID_BATCH, request_id_for
from lambdas.qbo.errors import (
    CdcWindowExpired,
    CdcWindowTooLarge,
    QboError,
    QboThrottled,
    QboUnavailable,
)
from lambdas.qbo.limits import RealmPolicy
from sim.fake_qbo import Fault, ManualClock
from tests.integration.qbo_helpers import REALM


def _connected(qbo_env, **kwargs):
    env = qbo_env(**kwargs)
    env.connect()
    return env


def test_query_pages_1000_at_a_time_with_minorversion_75(qbo_env) -> None:
    env = _connected(qbo_env)
    env.fake.add_company(REALM, seed=3, customers=2345, items=2, invoices=0)
    client = env.client()
    got = list(client.query("select * from Customer orderby Id"))
    assert [c["Id"] for c in got] == [str(i) for i in range(1, 2346)]
    assert env.fake.calls["query"] == 3  # 1000 + 1000 + 345
    assert set(env.fake.minor_versions) == {"75"}
    with pytest.raises(ValueError):
        list(client.query("select * from Customer maxresults 5"))


def test_a_page_of_exactly_1000_needs_one_more_query_to_see_the_end(qbo_env) -> None:
    env = _connected(qbo_env)
    env.fake.add_company(REALM, seed=3, customers=1000, items=0, invoices=0)
    assert len(list(env.client().query("select * from Customer"))) == 1000
    assert env.fake.calls["query"] == 2


def test_read_by_ids_batches_and_skips_missing_ids(qbo_env) -> None:
    env = _connected(qbo_env)
    env.fake.add_company(REALM, seed=3, customers=130, items=0, invoices=0)
    wanted = [str(i) for i in range(1, 131)] + ["999", "1000", "1", "x'); drop"]
    got = env.client().read_by_ids("Customer", wanted)
    assert sorted(int(c["Id"]) for c in got) == list(range(1, 131))
    assert env.fake.calls["query"] == -(-133 // ID_BATCH)  # duplicates dropped, 3 queries


def test_cdc_returns_changes_deletions_and_merges_since_a_time(qbo_env) -> None:
    clock = ManualClock()
    env = _connected(qbo_env, clock=clock, sleep=clock.sleep)
    company = env.fake.companies[REALM]
    clock.sleep(3600)
    since = datetime.fromtimestamp(clock(), UTC)
    clock.sleep(60)
    company.edit("Customer", "2", DisplayName="Renamed Ltd")
    invoice = company.all("Invoice")[0]["Id"]
    company.delete("Invoice", invoice)
    company.merge("Customer", "3", "4")
    changes = env.client().change_data_capture(["Customer", "Invoice", "Item"], since)
    customers = {c["Id"]: c for c in changes["Customer"]}
    assert customers["2"]["DisplayName"] == "Renamed Ltd" and customers["2"]["SyncToken"] == "1"
    assert customers["3"]["status"] == "Deleted"
    assert {"Id": invoice, "status": "Deleted"}.items() <= {
        k: v for i in changes["Invoice"] if i["Id"] == invoice for k, v in i.items()
    }.items()
    assert changes["Item"] == []
    assert env.fake.calls["cdc"] == 1


def test_cdc_refuses_windows_beyond_30_days_and_reports_saturation(qbo_env) -> None:
    clock = ManualClock()
    env = _connected(qbo_env, clock=clock, sleep=clock.sleep)
    client = env.client()
    old = datetime.fromtimestamp(clock(), UTC) - timedelta(days=30, minutes=1)
    with pytest.raises(CdcWindowExpired):
        client.change_data_capture(["Customer"], old)
    assert env.fake.calls["cdc"] == 0
    since = datetime.fromtimestamp(clock(), UTC)
    clock.sleep(1)
    company = env.fake.companies[REALM]
    for n in range(1001):
        company.add("Item", {"Name": f"Bulk {n}", "Type": "Service"})
    with pytest.raises(CdcWindowTooLarge):
        client.change_data_capture(["Item"], since)


def test_a_repeated_requestid_returns_the_first_answer_without_a_second_write(qbo_env) -> None:
    env = _connected(qbo_env)
    client = env.client(sleep=lambda _: None)
    rid = request_id_for(REALM, "zoho", "Accounts", "4711", "create", "1")
    assert len(rid) == 36
    first = client.create("Customer", {"DisplayName": "Zed Corp"}, rid)
    again = client.create("Customer", {"DisplayName": "Zed Corp"}, rid)
    assert again == first and env.fake.calls["replayed"] == 1
    names = [c["DisplayName"] for c in env.fake.companies[REALM].all("Customer")]
    assert names.count("Zed Corp") == 1
    other = request_id_for(REALM, "zoho", "Accounts", "4711", "create", "2")
    with pytest.raises(QboError) as err:
        client.create("Customer", {"DisplayName": "Zed Corp"}, other)
    assert err.value.code == "6240" and not err.value.retryable
    # A 5xx after the write is retried with the same requestid: still one write.
    env.fake.inject("update", Fault(503), times=1)
    updated = client.update(
        "Customer", {"Id": first["Id"], "SyncToken": "0", "Notes": "x"}, rid + "u"
    )
    assert updated["SyncToken"] == "1" and updated["DisplayName"] == "Zed Corp"  # sparse
    with pytest.raises(QboError) as stale:
        client.update("Customer", {"Id": first["Id"], "SyncToken": "0"}, rid + "v")
    assert stale.value.code == "5010"


@pytest.mark.parametrize("casing", ["Fault", "fault"])
def test_both_fault_casings_are_parsed(qbo_env, casing, caplog) -> None:
    env = _connected(qbo_env)
    env.fake.inject("query", Fault(400, "6000", casing, "A business validation error"))
    with caplog.at_level(logging.WARNING), pytest.raises(QboError) as err:
        list(env.client().query("select * from Item"))
    assert err.value.code == "6000" and "business validation" in err.value.message
    assert err.value.intuit_tid.startswith("1-") and err.value.intuit_tid in caplog.text


def test_a_401_refreshes_once_and_retries_once(qbo_env, caplog) -> None:
    env = _connected(qbo_env)
    client = env.client()
    assert client.read("Customer", "1")["Id"] == "1"
    env.fake.oauth.expire_access_tokens()
    tokens_before = env.fake.calls["token"]
    with caplog.at_level(logging.WARNING):
        assert client.read("Customer", "2")["Id"] == "2"
    assert env.fake.calls["token"] == tokens_before + 1 and env.fake.calls["read"] == 3
    assert "HTTP 401 code 3200 (intuit_tid 1-" in caplog.text
    assert client.read("Customer", "99999") is None  # 610: not there


def test_429s_pause_the_realm_60_seconds_and_the_call_then_succeeds(qbo_env) -> None:
    clock = ManualClock()
    env = _connected(qbo_env, clock=clock, sleep=clock.sleep)
    env.fake.inject("query", Fault(429, casing="xml"), times=1)
    env.fake.inject("query", Fault(429), times=1)
    started = clock()
    assert list(env.client().query("select * from Item"))
    assert env.fake.calls["query"] == 3
    assert 120 <= clock() - started <= 132  # two pauses of 60 s plus jitter


def test_429s_past_the_budget_raise_qbo_throttled(qbo_env) -> None:
    clock = ManualClock()
    env = _connected(qbo_env, clock=clock, sleep=clock.sleep)
    env.fake.inject("query", Fault(429), times=5)
    with pytest.raises(QboThrottled):
        list(env.client(throttle_retries=2).query("select * from Item"))
    assert env.fake.calls["query"] == 3


def test_a_429_storm_keeps_the_realm_under_its_limits_at_the_fake(qbo_env) -> None:
    # Another app uses most of the company's minute: the fake allows 20 calls a minute here,
    # while the client's own schedule would allow 450. Every 429 pauses the realm for a minute.
    clock = ManualClock()
    env = _connected(qbo_env, clock=clock, sleep=clock.sleep, per_minute=20)
    client = env.client(throttle_retries=10)
    ids = [str(i) for i in range(1, 13)]
    for _ in range(45):
        client.read_by_ids("Customer", ids[:1])
    admitted, refused = env.fake.admitted[REALM], env.fake.throttled_at.get(REALM, [])
    assert len(admitted) == 45  # every read got through in the end
    assert env.fake.max_in_window(REALM, 60) <= 20 and env.fake.max_in_window(REALM, 1) <= 10
    # After each 429 the realm stays quiet for at least 60 s: no call lands in the pause.
    for t in refused:
        assert not [a for a in admitted + refused if t < a < t + 60]
    assert len(refused) <= 3


def test_concurrent_workers_stay_within_the_per_second_limit(qbo_env) -> None:
    env = _connected(qbo_env, latency=0.05)
    policy = RealmPolicy(per_second=8, per_minute=450, max_in_flight=3)
    clients = [env.client(policy=policy) for _ in range(4)]

    def work(client) -> int:
        return sum(len(client.read_by_ids("Item", ["1"])) for _ in range(6))

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(work, clients)) == 24
    assert env.fake.calls["throttled"] == 0
    assert env.fake.max_in_window(REALM, 1.0) <= 8
    assert env.fake.max_in_flight[REALM] <= 3


def test_5xx_backs_off_a_bounded_number_of_times(qbo_env) -> None:
    waits: list[float] = []
    env = _connected(qbo_env)
    env.fake.inject("query", Fault(503), times=2)
    assert list(env.client(sleep=waits.append).query("select * from Item"))
    assert len(waits) == 2 and 1 <= waits[0] <= 1.25 and 2 <= waits[1] <= 2.5
    env.fake.inject("query", Fault(500), times=10)
    with pytest.raises(QboUnavailable):
        list(env.client(max_retries=3, sleep=waits.append).query("select * from Item"))
    assert env.fake.calls["query"] == 3 + 4


def test_a_slow_answer_times_out_and_counts_as_unavailable(qbo_env) -> None:
    env = _connected(qbo_env, latency=0.5)
    with pytest.raises(QboUnavailable):
        env.client(timeout=(2.0, 0.1), max_retries=1, sleep=lambda _: None).read("Item", "1")
