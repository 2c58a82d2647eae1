"""The local process's QuickBooks Online pieces over one data directory, as ``qbrelay`` runs them:
``qbrelay qbo connect|status|disconnect``, ``pause``/``resume`` against the sync, the serve
process's QBO worker, and a 429 storm shared by two workers; the relay's routes served on
127.0.0.1 beside the fake Intuit."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from lambdas.local import cli
from lambdas.local.commands.serve import local_qbo_worker
from lambdas.local.qbo import LocalQbo, build_local_qbo
from lambdas.local.server import RelayServer
from lambdas.local.wiring import build_local
from lambdas.local.wsgi import RelayWsgiApp
from lambdas.ops.api_keys import HEADER, create_key
from lambdas.qbo.config import load_config
from lambdas.qbo.connections import CONNECTED
from lambdas.qbo.limits import RealmPolicy
from lambdas.store.ports import Tenant
from sim.fake_qbo import FakeQbo, ManualClock
from sim.fake_qbo_server import LoopbackServer
from sim.fake_qbo_webhooks import WebhookSender

REALM = "9341452017119999"
TOKEN = "local-verifier-token-not-real"


@dataclass
class Local:
    fake: FakeQbo
    qbo: LocalQbo
    data: Path
    url: str
    key: str
    sender: WebhookSender

    def connect(self, tenant: str = "acme", realm: str = REALM) -> None:
        start = requests.get(
            f"{self.url}/qbo/connect?tenant={tenant}",
            headers={HEADER: self.key},
            allow_redirects=False,
            timeout=5,
        )
        assert start.status_code == 302, start.text
        back = requests.get(self.fake.approve(start.headers["Location"], realm), timeout=10)
        assert back.status_code == 200, back.text

    def announce(self, count: int = 1) -> None:
        """Webhooks for the company's last ``count`` changes, one delivery each."""
        for event in self.fake.companies[REALM].events[-count:]:
            assert self.sender.send([event]).status == 200

    def records(self) -> list[dict[str, Any]]:
        """Bodies on the record queue (received and deleted)."""
        queue = self.qbo.local.queue
        got = queue.receive(1000)
        queue.delete([m.receipt for m in got])
        return [json.loads(m.message.body) for m in got]

    def cli(self, *args: str) -> int:
        return cli.main([*args, "--data-dir", str(self.data)])


def _env(fake_url: str, relay_url: str) -> dict[str, str]:
    return {
        "QBO_CLIENT_ID": "ABlocaltest",
        "QBO_CLIENT_SECRET": "local-client-secret-not-real",
        "QBO_REDIRECT_URI": relay_url + "/qbo/callback",
        "QBO_WEBHOOK_VERIFIER_TOKEN": TOKEN,
        "QBO_AUTH_BASE_URL": fake_url,
        "QBO_API_BASE_URL": fake_url,
    }


@pytest.fixture
def local_qbo(tmp_path: Path, monkeypatch) -> Iterator[Callable[..., Local]]:
    """A factory: one data directory with tenant ``acme``, its routes served, a fake Intuit
    (made with the given arguments); the process environment names the app as for ``qbrelay``."""
    stops: list[Callable[[], None]] = []

    def make(**fake_args: Any) -> Local:
        data = tmp_path / f"data{len(stops)}"
        fake = FakeQbo(**fake_args)
        fake.add_company(REALM, customers=30)
        fake_server = LoopbackServer(fake, name="fake-qbo").start()
        stops.append(fake_server.stop)
        local = build_local(data)
        local.tenants.create(Tenant(name="acme", qbwc_user="acme-qbwc", password_hash="x"))
        qbo = build_local_qbo(local, data, _env(fake_server.url, "http://127.0.0.1"))
        assert qbo is not None
        app = RelayWsgiApp(
            local.endpoint, tenants=local.tenants, state=local.state, providers=qbo.providers()
        )
        server = RelayServer(app, "127.0.0.1", 0)
        env = _env(fake_server.url, server.url)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        qbo.config = load_config(env, qbo.secrets)
        fake.add_app(env["QBO_CLIENT_ID"], env["QBO_CLIENT_SECRET"], (env["QBO_REDIRECT_URI"],))
        key, _ = create_key(qbo.api_keys, "tests", time.time())
        server.start_in_thread()
        stops.append(server.stop)
        sender = WebhookSender(f"{server.url}/qbo/webhooks", TOKEN)
        stops.append(sender.close)
        return Local(fake, qbo, data, server.url, key, sender)

    yield make
    for stop in reversed(stops):
        stop()


def test_qbo_commands_connect_status_and_disconnect(local_qbo, capsys) -> None:
    rig = local_qbo()
    assert rig.cli("qbo", "status") == 0
    assert "No QuickBooks Online connections" in capsys.readouterr().out
    assert rig.cli("qbo", "connect", "--tenant", "acme") == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert link.startswith(rig.url + "/qbo/connect?")
    params = {k: v[-1] for k, v in parse_qs(urlsplit(link).query).items()}
    assert requests.get(link, timeout=5).status_code == 200  # the admin opens it
    go = requests.post(f"{rig.url}/qbo/connect", data=params, allow_redirects=False, timeout=5)
    assert go.status_code == 302
    done = requests.get(rig.fake.approve(go.headers["Location"], REALM), timeout=10)
    assert done.status_code == 200 and "connected" in done.text
    again = requests.post(f"{rig.url}/qbo/connect", data=params, allow_redirects=False, timeout=5)
    assert again.status_code == 403  # the link was for one connect

    assert rig.cli("qbo", "status", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)["connections"]
    assert (row["tenant"], row["realm_id"], row["status"]) == ("acme", REALM, CONNECTED)
    assert 99 <= row["days_left"] <= 101
    assert rig.cli("qbo", "status") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"acme\trealm={REALM}\tconnected\treconnect_in_days=")

    assert rig.cli("qbo", "disconnect", "--tenant", "acme") == 0
    assert "revoked at Intuit, tokens deleted" in capsys.readouterr().out
    assert rig.fake.oauth.live_refresh_tokens(REALM) == [] and rig.fake.calls["revoke"] == 1
    assert rig.qbo.secrets.get("qbo/acme") is None
    assert rig.cli("qbo", "status", "--tenant", "acme", "--json") == 0
    (row,) = json.loads(capsys.readouterr().out)["connections"]
    assert row["status"] == "disconnected"
    assert rig.cli("qbo", "disconnect", "--tenant", "acme") == 0
    assert "had no QuickBooks Online connection" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no tenant 'zed'"):
        rig.cli("qbo", "connect", "--tenant", "zed")


def test_a_paused_tenant_is_skipped_and_its_changes_arrive_after_resume(local_qbo) -> None:
    rig = local_qbo()
    rig.connect()
    runtime = rig.qbo.runtime()
    (first,) = runtime.catch_up()
    assert first.error == "" and first.queued > 0
    assert len(rig.records()) == first.queued
    company = rig.fake.companies[REALM]

    assert rig.cli("pause", "--tenant", "acme", "--reason", "year-end close") == 0
    company.edit("Customer", "5", DisplayName="Changed While Paused")
    company.edit("Customer", "6", DisplayName="Also While Paused")
    rig.announce(2)
    calls = rig.fake.api_calls()
    report = runtime.drain(rig.qbo.changes)
    assert report.queued == 0 and REALM in report.unknown_realms
    assert rig.qbo.changes.depth() == 0  # dropped: the catch-up after resume brings them
    assert runtime.catch_up() == []  # not caught up while paused (its watermarks stay)
    assert rig.fake.api_calls() == calls and rig.records() == []

    assert rig.cli("resume", "--tenant", "acme") == 0
    (after,) = runtime.catch_up()
    assert after.error == "" and after.queued == 2
    names = sorted(r["record"]["name"] for r in rig.records())
    assert names == ["Also While Paused", "Changed While Paused"]


def test_the_serve_worker_drains_webhook_changes_and_records_success(local_qbo) -> None:
    rig = local_qbo()
    rig.connect()
    assert rig.qbo.connections.get("acme").last_success_at is None
    worker = local_qbo_worker(rig.qbo)  # what `qbrelay serve` starts
    assert worker is not None
    try:
        loaded = _wait(lambda: worker.catch_ups >= 1 and rig.qbo.local.queue.depth() > 0)
        assert loaded, "the worker's first catch-up did not load the company"
        assert rig.qbo.connections.get("acme").last_success_at is not None
        rig.records()
        rig.fake.companies[REALM].edit("Customer", "7", DisplayName="Seen By Webhook")
        rig.announce()
        assert _wait(lambda: worker.synced >= 1), "the worker did not sync the webhook's change"
        assert rig.qbo.changes.depth() == 0
        (record,) = rig.records()
        assert record["record"]["name"] == "Seen By Webhook" and record["source"] == "qbo"
    finally:
        worker.stop(timeout=10)
    assert not worker._thread.is_alive()


def test_the_serve_worker_applies_write_back_operations(local_qbo) -> None:
    from lambdas.writeback.model import ACCOUNTS, ADD, CUSTOMER, OpStatus, WriteOp, op_id

    rig = local_qbo()
    rig.connect()
    local = rig.qbo.local
    acme = local.tenants.get("acme")
    acme.writeback = True
    local.tenants.update(acme)
    op = WriteOp(
        "acme",
        op_id(ACCOUNTS, "z1", "v1"),
        1,
        CUSTOMER,
        ADD,
        "qbo",
        ACCOUNTS,
        "z1",
        "v1",
        fields={"name": "Made By The Worker"},
    )
    assert local.writeback.enqueue(op)
    worker = local_qbo_worker(rig.qbo)
    assert worker is not None
    try:
        assert _wait(lambda: worker.written >= 1), "the worker did not apply the operation"
    finally:
        worker.stop(timeout=10)
    assert local.writeback.get("acme", op.op_id).status == OpStatus.APPLIED
    made = [
        c
        for c in rig.fake.companies[REALM].all("Customer")
        if c["DisplayName"] == "Made By The Worker"
    ]
    assert len(made) == 1
    bodies = rig.records()
    assert [b["id"] for b in bodies if b.get("link") == "Accounts/z1"] == [f"qbo:{made[0]['Id']}"]


def _wait(ready: Callable[[], bool], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return True
        time.sleep(0.05)
    return ready()


def test_a_429_storm_keeps_the_realm_under_its_limits_across_two_workers(local_qbo) -> None:
    # Other apps of the company use most of its minute: the fake admits 12 calls a minute.
    # Two workers call the realm at once (the change queue holds one realm to one consumer,
    # as SQS FIFO does, so the second is the scheduled catch-up: the company's first load)
    # while 30 webhook changes wait; every 429 must hold both of them back.
    clock = ManualClock(time.time())
    rig = local_qbo(clock=clock, per_minute=12)
    rig.connect()
    company = rig.fake.companies[REALM]
    for n in range(1, 31):
        company.edit("Customer", str(n), DisplayName=f"Storm {n}")
    rig.announce(30)
    assert rig.qbo.changes.depth() == 30
    syncing, loading = (rig.qbo.runtime(clock=clock, sleep=clock.sleep) for _ in range(2))
    barrier = threading.Barrier(2)
    done: dict[str, Any] = {}

    def sync() -> None:
        barrier.wait()
        done["sync"] = syncing.drain(rig.qbo.changes, batch_size=1, max_batches=40)

    def load() -> None:
        barrier.wait()
        done["load"] = loading.catch_up()

    threads = [threading.Thread(target=sync), threading.Thread(target=load)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert done["sync"].failed_realms == {} and done["sync"].read == 30
    (report,) = done["load"]
    assert report.error == "" and report.queued > 0
    assert rig.qbo.changes.depth() == 0
    names = {r["record"].get("name") for r in rig.records()}
    assert {f"Storm {n}" for n in range(1, 31)} <= names  # every change got through
    admitted = rig.fake.admitted[REALM]
    refused = rig.fake.throttled_at.get(REALM, [])
    assert refused, "no storm: the fake never throttled"
    assert rig.fake.max_in_window(REALM, 60) <= 12
    # Every 429 came from the minute's budget the limiter cannot see (the other apps' share):
    # none from the per-second or in-flight limits, which the limiter itself keeps.
    for t in refused:
        assert len([a for a in admitted if t - 60 < a <= t]) == 12
    assert rig.fake.max_in_flight[REALM] <= RealmPolicy().max_in_flight
    # The pause is shared through the store: after a 429 neither worker starts a call for
    # 60 s; only the other worker's one call already on its way may still land (and be
    # refused), so each minute's budget costs at most one 429 per worker.
    for t in refused:
        inside = [a for a in admitted + refused if t < a < t + 60]
        assert len(inside) <= 1 and not set(inside) & set(admitted), (t, inside)
    assert len(refused) <= 2 * (len(admitted) // 12 + 1)
    assert rig.qbo.limits.get(REALM).paused_until >= max(refused) + 60
