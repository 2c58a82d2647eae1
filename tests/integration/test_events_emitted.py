"""Events where they arise: a served Web Connector session, a parked record, a stale tenant and
an audit that finds drift, each published to the local outbox (and the first one delivered)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lambdas.local.forwarder import build_local_forwarder
from lambdas.model.events import DRIFT_FOUND, FAILURE_PARKED, SESSION_COMPLETED, TENANT_STALE
from lambdas.ops.stale_sync import check_stale
from lambdas.store.ports import Tenant
from lambdas.store.sqlite import SqliteMappingStore, SqliteSyncStateStore, SqliteTenantStore
from lambdas.store.sqlite.outbox import SqliteOutbox
from lambdas.webhooks.signing import verify
from lambdas.zoho.audit import Auditor
from lambdas.zoho.mapping import build_config
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from tests.integration.zoho_helpers import ZohoEnv, customer, message
from tests.relay_process import Served, qbrelay
from tests.webhook_receiver import Receiver

PASSWORD = "Events-password-1"


def test_a_served_session_is_delivered_as_session_completed(tmp_path: Path) -> None:
    data = tmp_path / "relay"
    added = qbrelay(
        "tenant", "add", "acme", "--qbwc-user", "acme-qbwc", "--password-stdin",
        "--data-dir", str(data), stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    with Receiver() as receiver:
        hook = qbrelay(
            "webhooks", "add", receiver.url, "--events", "session.completed",
            "--data-dir", str(data), "--json",
        )  # fmt: skip
        assert hook.returncode == 0, hook.stderr
        secret = json.loads(hook.stdout)["signing_secret"]
        server = Served(data, ["--no-forward"])
        server.start()
        try:
            qbwc = FakeWebConnector(server.base + "/qbwc")
            try:
                result = qbwc.run_session("acme-qbwc", PASSWORD, FakeCompany(customers=20, seed=3))
            finally:
                qbwc.close()
            (got,) = receiver.wait_for(1, timeout=30)
            entry = delivered(data)
        finally:
            server.stop()
    assert result.close_message == "Synced 20 customers"
    verify(secret, got.headers, got.body, now=time.time())
    doc = json.loads(got.body)
    assert doc["type"] == SESSION_COMPLETED and doc["tenant"] == "acme"
    data_ = doc["data"]
    assert data_["status"] == "completed" and data_["summary"] == "Synced 20 customers"
    assert data_["entities"]["Customer"]["queued"] == 20 and "error" not in data_
    assert (entry["status"], entry["status_code"], entry["event_type"]) == (
        "delivered",
        200,
        SESSION_COMPLETED,
    )


def delivered(data: Path) -> dict:
    """The one delivery of the log once its attempt is recorded (within 20 s)."""
    deadline = time.monotonic() + 20
    while True:
        log = qbrelay("webhooks", "deliveries", "--data-dir", str(data), "--json")
        (entry,) = json.loads(log.stdout)
        if entry["status"] != "pending" or time.monotonic() > deadline:
            return entry
        time.sleep(0.2)


def test_a_record_zoho_refuses_is_published_as_failure_parked(zoho: ZohoEnv, tmp_path) -> None:
    forwarder = build_local_forwarder(zoho.db, tmp_path, clients=zoho.factory())
    bad = customer(2, phone="5" * 31)  # longer than ZOHO's 30
    report = forwarder.forward([("k1", message(customer(1))), ("k2", message(bad))])
    assert report.outcomes["k2"].status == "parked"
    (event,) = SqliteOutbox(zoho.db).pending()
    assert event.type == FAILURE_PARKED and event.tenant == "acme"
    assert (event.data["entity"], event.data["source_id"]) == ("Customer", bad["list_id"])
    assert event.data["error"]["code"] == "ZOHO_INVALID_DATA"
    assert event.data["error"]["docs"].startswith("README.md#err-")
    assert "5" * 31 not in event.body().decode()  # ids and reasons, never the record


def test_a_silent_tenant_is_published_as_tenant_stale_once(tmp_path) -> None:
    from lambdas.store.sqlite import SqliteDatabase

    db = SqliteDatabase.in_dir(tmp_path)
    tenants, outbox = SqliteTenantStore(db), SqliteOutbox(db)
    now = 1_780_000_000.0
    tenants.create(Tenant("acme", "acme-qbwc", "h", created_at=now - 90_000, last_sync_at=now - 60))
    tenants.create(Tenant("globex", "g-qbwc", "h", created_at=now - 25 * 3600 + 600))
    stale = check_stale(tenants, outbox, now, 24, 3600)
    assert [t.name for t in stale] == ["globex"]
    check_stale(tenants, outbox, now + 1800, 24, 3600)  # a later run in the same window
    check_stale(tenants, outbox, now + 3 * 3600, 24, 3600)  # still silent, not announced again
    (event,) = outbox.pending()
    assert (event.type, event.tenant, event.data["reminder"]) == (TENANT_STALE, "globex", 0)
    assert event.data["last_sync_at"] is None and event.data["threshold_hours"] == 24


def test_an_audit_that_finds_drift_is_published_as_drift_found(zoho: ZohoEnv) -> None:
    zoho.fake.add_records("Accounts", [{"Account_Name": "Stray", "QB_ListID": "80009999-1"}])
    outbox = SqliteOutbox(zoho.db)
    auditor = Auditor(
        SqliteMappingStore(zoho.db), SqliteSyncStateStore(zoho.db), time.time, events=outbox
    )
    report = auditor.audit("acme", build_config(None), zoho.client())
    assert report.drift == 1
    (event,) = outbox.pending()
    assert event.type == DRIFT_FOUND and event.data["counts"]["unknown"] == 1
    (example,) = event.data["examples"]["unknown"]
    assert example["source_id"] == "80009999-1" and "Account_Name" not in json.dumps(event.data)
