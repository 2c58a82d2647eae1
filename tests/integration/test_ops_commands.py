"""``qbrelay status``, ``pause|resume``, ``apikey`` and the ops core, on a data dir and on a
deployment (moto), over a tenant that synced a fake company through the relay core."""

from __future__ import annotations

import json
import time
from typing import Any

from lambdas.model.envelope import Envelope
from lambdas.ops import actions, status
from lambdas.ops.api_keys import verify
from lambdas.ops.failures import redrive
from lambdas.qbwc.relay import QbwcRelay
from lambdas.store.ports import (
    Claim,
    DeadLetter,
    DeliveryOutcome,
    DeliveryStatus,
    SessionRecord,
)
from lambdas.store.sqlite import SqliteDatabase, SqliteDeadLetterQueue
from lambdas.sync.engine import SyncEngine
from lambdas.zoho.auth import secret_name
from sim.fake_company import FakeCompany
from tests.integration import test_tenant_purge_commands as purge
from tests.integration.test_onboarding_commands import run
from tests.integration.test_tenant_purge_commands import (
    CUSTOMERS,
    ITEMS,
    PASSWORD,
    Target,
    add_tenant,
    deliver,
    session,
)

# The data-dir and moto-deployment fixture of the purge tests.
target = purge.target

PARKED_REASON = "Accounts: MANDATORY_NOT_FOUND: required field not found (Account_Name)"


def status_json(capsys: Any, target: Target, *extra: str) -> dict[str, Any]:
    code, out, err = run(capsys, "status", "--json", *extra, *target.argv)
    assert code == 0, err
    return json.loads(out)


def park(target: Target, env: Envelope, reason: str = PARKED_REASON) -> None:
    """Park the record of ``env`` as the forwarder does when ZOHO refuses it."""
    target.data.mappings.record_outcome(
        DeliveryOutcome(
            env.tenant,
            env.source,
            env.entity,
            env.source_id,
            DeliveryStatus.PARKED,
            env.version,
            time.time(),
            last_error=reason,
        )
    )


def name_queues(target: Target, monkeypatch: Any) -> None:
    """The deployment's queues for the failures commands (the fixture names only its tables)."""
    if target.namespace.aws:
        import boto3

        dlq = boto3.client("sqs").create_queue(QueueName="dead-letters")["QueueUrl"]
        monkeypatch.setenv("QBRELAY_DLQ_URL", dlq)
        monkeypatch.setenv("QBRELAY_RECORD_QUEUE_URL", target.queue._url)


def synced(capsys: Any, target: Target) -> FakeCompany:
    company = FakeCompany(customers=CUSTOMERS, items=ITEMS, seed=5)
    add_tenant(capsys, target)
    session(target, company)
    return company


def test_status_shows_sessions_counts_parked_errors_and_drift(capsys, target, monkeypatch) -> None:
    name_queues(target, monkeypatch)
    before = time.time()
    company = synced(capsys, target)
    report = status_json(capsys, target)
    assert report["version"] == 1 and [t["tenant"] for t in report["tenants"]] == ["shop"]
    shop = report["tenants"][0]
    assert shop["last_seen_at"] >= before and shop["last_completed_at"] >= before
    assert shop["last_summary"].startswith("Synced")
    run_ = shop["last_run"]
    assert run_["status"] == "completed" and run_["error"] is None
    assert run_["entities"]["Customer"]["received"] == CUSTOMERS
    assert run_["entities"]["Item"]["queued"] == ITEMS
    # Everything was handed off a moment ago and nothing answered yet: in flight.
    assert shop["counts"]["in_flight"] == CUSTOMERS + ITEMS and shop["counts"]["parked"] == 0
    assert shop["counts"]["drift"] is None and shop["health"] == "ok"

    delivered = deliver(target)
    parked_env = next(e for e in delivered if e.entity == "Customer")
    customer = parked_env.source_id
    park(target, parked_env)
    actions.record_audit(
        target.data.audits, {"tenant": "shop", "drift": 2, "audit_missing": 2}, time.time()
    )
    report = status_json(capsys, target, "--tenant", "shop")
    shop = report["tenants"][0]
    assert shop["counts"] == {
        "in_flight": 0,
        "in_flight_complete": True,
        "parked": 1,
        "parked_complete": True,
        "drift": 2,
    }
    assert shop["health"] == "warning" and shop["last_audit"]["counts"] == {"missing": 2}
    (parked,) = report["parked"]
    assert parked["source_id"] == customer and parked["error"]["code"] == (
        "ZOHO_MANDATORY_NOT_FOUND"
    )
    assert parked["error"]["message"] == PARKED_REASON and not parked["error"]["retryable"]
    assert report["runs"][0]["entities"]["Customer"]["received"] == CUSTOMERS

    code, out, err = run(capsys, "status", "--tenant", "shop", *target.argv)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == [
        "TENANT",
        "HEALTH",
        "LAST",
        "SEEN",
        "LAST",
        "COMPLETED",
        "IN",
        "FLIGHT",
        "PARKED",
        "DRIFT",
    ]
    assert lines[1].split()[:2] == ["shop", "warning"] and lines[1].split()[-2:] == ["1", "2"]
    assert f"Customer {customer}: [ZOHO_MANDATORY_NOT_FOUND] {PARKED_REASON}" in out
    assert "qbrelay failures redrive --tenant shop" in out and "Last audit" in out

    # failures list shows the code too, in text and JSON (the old keys stay).
    code, out, err = run(capsys, "failures", "list", "--json", *target.argv)
    assert code == 0, err
    (row,) = json.loads(out)["parked"]
    assert row["error"] == PARKED_REASON and row["error_code"] == "ZOHO_MANDATORY_NOT_FOUND"
    assert row["error_info"]["user_message"]
    code, out, err = run(capsys, "failures", "list", *target.argv)
    assert "[ZOHO_MANDATORY_NOT_FOUND]" in out and "What to do:" in out

    # A failed session's error is in the one shape, read from what the relay stored.
    data = target.data
    relay = QbwcRelay(
        data.tenants, data.sessions, SyncEngine(data.state, data.mappings, target.queue), data.runs
    )
    company.modify("Customer", customer, name="Changed")
    ticket = relay.authenticate("shop", PASSWORD)[0]
    relay.connection_error(ticket, "0x80040408", "Could not start QuickBooks.")
    shop = status_json(capsys, target, "--tenant", "shop")["tenants"][0]
    assert shop["health"] == "error" and shop["last_run"]["status"] == "failed"
    assert shop["last_run"]["error"]["code"] == "HRESULT_0x80040408"
    assert shop["last_run"]["error"]["retryable"] is True


def test_status_of_an_unknown_tenant_and_of_none(capsys, target) -> None:
    code, out, err = run(capsys, "status", *target.argv)
    assert code == 0 and "No tenants yet" in out, err
    code, _, err = run(capsys, "status", "--tenant", "ghost", *target.argv)
    assert code != 0 and "no tenant named 'ghost'" in err


def test_a_paused_tenant_gets_none_and_loses_nothing(capsys, target) -> None:
    company = synced(capsys, target)
    queued = CUSTOMERS + ITEMS  # handed off, not yet forwarded
    code, out, err = run(
        capsys, "pause", "--tenant", "shop", "--reason", "year-end close", *target.argv
    )
    assert code == 0 and "paused" in out, err
    data = target.data
    tenant = data.tenants.get("shop")
    assert tenant.paused and tenant.paused_reason == "year-end close" and tenant.paused_at
    changed = next(iter(company.snapshot("Customer").records))
    company.modify("Customer", changed, name="Edited While Paused")

    relay = QbwcRelay(
        data.tenants, data.sessions, SyncEngine(data.state, data.mappings, target.queue), data.runs
    )
    ticket, answer = relay.authenticate("shop", PASSWORD)[:2]
    assert answer == "none" and ticket
    assert data.sessions.lock_until("shop", time.time()) is None  # no session was started
    assert status_json(capsys, target)["tenants"][0]["health"] == "paused"
    # What was queued before the pause is still delivered.
    delivered = deliver(target)
    assert len(delivered) == queued
    # A wrong password is still "nvu", paused or not.
    assert relay.authenticate("shop", "wrong-password-123")[1] == "nvu"

    code, out, err = run(capsys, "resume", "--tenant", "shop", "--json", *target.argv)
    assert code == 0 and json.loads(out)["paused"] is False, err
    assert not data.tenants.get("shop").paused
    session(target, company)
    # The change made while paused reaches the queue with the first session after the resume.
    assert [e.source_id for e in deliver(target)] == [changed]


def test_pause_and_resume_refuse_unknown_tenants(capsys, target) -> None:
    for verb in ("pause", "resume"):
        code, _, err = run(capsys, verb, "--tenant", "ghost", *target.argv)
        assert code != 0 and "no tenant named 'ghost'" in err


def test_apikey_create_list_revoke(capsys, target) -> None:
    code, out, err = run(capsys, "apikey", "create", "--name", "grafana", *target.argv)
    assert code == 0, err
    key = out.splitlines()[1]
    key_id = key.split("_")[1]
    from lambdas.local.commands.apikey import open_api_keys

    store = open_api_keys(target.namespace)
    assert verify(store, key, time.time()) is not None
    code, out, err = run(capsys, "apikey", "list", "--json", *target.argv)
    assert code == 0, err
    (listed,) = json.loads(out)["keys"]
    assert listed["id"] == key_id and listed["name"] == "grafana" and listed["last_used_at"]
    code, out, _ = run(capsys, "apikey", "list", *target.argv)
    assert (
        key_id in out and key not in out and key.split("_", 2)[2] not in out and "sha256" not in out
    )
    # Two keys at once (rotation), then the first is revoked.
    code, out, _ = run(capsys, "apikey", "create", "--name", "grafana-2", *target.argv)
    second = out.splitlines()[1]
    code, out, err = run(capsys, "apikey", "revoke", key_id, *target.argv)
    assert code == 0 and "Revoked" in out, err
    assert verify(store, key, time.time()) is None
    assert verify(store, second, time.time()) is not None
    code, _, err = run(capsys, "apikey", "revoke", key_id, *target.argv)
    assert code != 0 and "no API key" in err
    code, _, err = run(capsys, "apikey", "create", "--name", "", *target.argv)
    assert code != 0 and "name" in err


def test_resync_and_redrive_speak_json(capsys, target, monkeypatch) -> None:
    name_queues(target, monkeypatch)
    synced(capsys, target)
    code, out, err = run(capsys, "resync", "--tenant", "shop", "--json", *target.argv)
    assert code == 0, err
    assert json.loads(out) == {
        "tenant": "shop",
        "reset": ["Item", "Customer"],
        "read_next_session": ["Item", "Customer"],
        "not_enabled": [],
    }
    code, out, err = run(capsys, "failures", "redrive", "--json", *target.argv)
    assert code == 0 and json.loads(out) == {
        "redriven": 0,
        "left_parked_unreadable": 0,
        "awaiting_confirmation": 0,
    }, err


def test_resync_is_refused_while_a_session_runs(capsys, target) -> None:
    add_tenant(capsys, target)
    data = target.data
    now = time.time()
    data.sessions.create(SessionRecord("t" * 40, "shop", now + 600, state={}), now)
    try:
        actions.resync(data, "shop", (), now)
    except actions.ActionError as exc:
        assert "session running" in str(exc)
    else:
        raise AssertionError("resync went ahead during a session")


def test_health_reveals_nothing_without_detail(capsys, target) -> None:
    synced(capsys, target)
    data = target.data
    now = time.time()
    public = status.health_sync(data, now)
    assert public == {"status": "ok"}
    detailed = status.health_sync(data, now, detailed=True)
    assert [t["tenant"] for t in detailed["tenants"]] == ["shop"]
    assert detailed["tenants"][0]["in_flight"] == CUSTOMERS + ITEMS
    # No ZOHO credentials yet: degraded, but the public answer still names nobody.
    assert status.health_zoho(data, now) == {"status": "degraded"}
    data.secrets().put(
        secret_name("shop"),
        {"client_id": "1000.abc", "client_secret": "s", "refresh_token": "r"},
    )
    zoho = status.health_zoho(data, now, detailed=True)
    assert zoho["status"] == "ok"
    assert zoho["tenants"] == [
        {
            "tenant": "shop",
            "credentials": "present",
            "token_expires_at": None,
            "token_valid": False,
            "refresh_blocked_until": None,
            "forwarding_paused": None,
        }
    ]
    data.forwarder.pause("shop", now + 3600, "ZOHO answered 429 TOO_MANY_REQUESTS (credits)")
    zoho = status.health_zoho(data, now, detailed=True)
    assert zoho["status"] == "degraded"
    assert zoho["tenants"][0]["forwarding_paused"]["error"]["code"] == "ZOHO_CREDITS_EXHAUSTED"
    assert "shop" not in json.dumps(status.health_zoho(data, now))
    assert "shop" not in json.dumps(status.health_sync(data, now))


def test_mapping_lookups_by_quickbooks_and_zoho_id(capsys, target) -> None:
    synced(capsys, target)
    data = target.data
    env = Envelope.from_json(target.queue.receive(1)[0].message.body)
    ids = (env.tenant, env.source, env.entity, env.source_id)
    data.mappings.claim(Claim(*ids, env.version, "tok"))
    module = "Accounts" if env.entity == "Customer" else "Products"
    data.mappings.record_outcome(
        DeliveryOutcome(
            *ids,
            DeliveryStatus.SYNCED,
            env.version,
            time.time(),
            content_hash=env.content_hash,
            zoho_module=module,
            zoho_id="5725767000000411001",
            token="tok",
        )
    )
    by_qb = status.find_mappings(data, "shop", qb_id=env.source_id)["mappings"]
    assert [(m["entity"], m["zoho_id"], m["status"]) for m in by_qb] == [
        (env.entity, "5725767000000411001", "synced")
    ]
    by_zoho = status.find_mappings(data, "shop", zoho_id="5725767000000411001")["mappings"]
    assert [m["source_id"] for m in by_zoho] == [env.source_id]
    explicit = status.find_mappings(data, "shop", zoho_id="5725767000000411001", zoho_module=module)
    assert explicit == {"mappings": by_zoho}
    assert status.find_mappings(data, "shop", qb_id="nope")["mappings"] == []


def test_redrive_core_moves_letters_back(tmp_path) -> None:
    db = SqliteDatabase.in_dir(tmp_path)
    dlq = SqliteDeadLetterQueue(db)
    from lambdas.store.sqlite import SqliteRecordQueue

    queue = SqliteRecordQueue(db)
    dlq.send([DeadLetter("shop", "{}", PARKED_REASON, 1.0), DeadLetter("(unknown)", "x", "?", 2.0)])
    result = redrive(dlq, queue, limit=10)
    assert result.to_json() == {
        "redriven": 1,
        "left_parked_unreadable": 1,
        "awaiting_confirmation": 0,
    }
    assert [m.message.tenant for m in queue.receive(10)] == ["shop"]
    assert [h.letter.tenant for h in dlq.hold(10)] == ["(unknown)"]


def test_audit_without_credentials_says_what_to_do(capsys, target) -> None:
    add_tenant(capsys, target)
    code, _, err = run(capsys, "audit", "--tenant", "shop", *target.argv)
    assert code != 0 and "qbrelay zoho set-credentials --tenant shop" in err
    code, _, err = run(capsys, "audit", "--tenant", "ghost", *target.argv)
    assert code != 0 and "no tenant named 'ghost'" in err
