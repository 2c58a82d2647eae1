"""``qbrelay tenant remove --purge`` and ``qbrelay resync``, on a data dir and on a deployment.

A tenant syncs a fake company through the relay core; a stand-in forwarder applies every queued
record (so the mappings hold ZOHO's applied hashes). Then the tenant is removed and re-created,
or resynced, and the next session's queries and hand-offs show what the stores kept. The
deployment is moto's DynamoDB, SQS and Secrets Manager, its tables named by the environment
variables the functions use (one test reads them from the stack's outputs instead).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from lxml import etree
from moto import mock_aws

from lambdas.local import targets
from lambdas.local.tenant_stores import open_tenant_data
from lambdas.model.envelope import Envelope
from lambdas.ops.tenant_purge import TenantData
from lambdas.qbwc.relay import QbwcRelay
from lambdas.store.dynamo import SqsRecordQueue
from lambdas.store.ports import Claim, DeliveryOutcome, DeliveryStatus, RecordQueue, ZohoToken
from lambdas.store.sqlite import SqliteDatabase, SqliteRecordQueue
from lambdas.sync.engine import SyncEngine
from lambdas.zoho.auth import secret_name
from sim.fake_company import FakeCompany
from tests.aws_tables import create_relay_tables
from tests.integration.test_onboarding_commands import run

PASSWORD = "A-long-enough-passw0rd"
ENTITIES = "Item,Customer"
CUSTOMERS, ITEMS = 30, 6


@dataclass
class Target:
    """Where the commands act, and the same stores opened for the test's own relay."""

    argv: list[str]
    namespace: argparse.Namespace
    queue: RecordQueue

    @property
    def data(self) -> TenantData:
        return open_tenant_data(self.namespace)


@pytest.fixture(params=["local", "aws"])
def target(request, tmp_path: Path, monkeypatch) -> Iterator[Target]:
    if request.param == "local":
        folder = str(tmp_path / "data")
        yield Target(
            ["--data-dir", folder],
            argparse.Namespace(aws=False, data_dir=folder, env=None, region=None),
            SqliteRecordQueue(SqliteDatabase.in_dir(folder)),
        )
        return
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("QBRELAY_ENV", raising=False)
    with mock_aws():
        for env, table in create_relay_tables(boto3.client("dynamodb")).items():
            monkeypatch.setenv(env, table)
        monkeypatch.setenv("QBRELAY_SECRETS_PREFIX", "qbxml-relay/dev/")
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="records")["QueueUrl"]
        yield Target(
            ["--aws", "--env", "dev"],
            argparse.Namespace(aws=True, data_dir=None, env="dev", region=None),
            SqsRecordQueue(sqs, url),
        )


def add_tenant(capsys: Any, target: Target) -> None:
    code, _, err = run(
        capsys,
        "tenant",
        "add",
        "shop",
        "--password-stdin",
        "--entities",
        ENTITIES,
        *target.argv,
        stdin=PASSWORD,
    )
    assert code == 0, err


def session(target: Target, company: FakeCompany) -> list[str]:
    """One complete Web Connector update over the target's stores; the requests it sent."""
    data = target.data
    engine = SyncEngine(data.state, data.mappings, target.queue)
    relay = QbwcRelay(data.tenants, data.sessions, engine, data.runs)
    ticket, status = relay.authenticate("shop", PASSWORD)[:2]
    assert status == "", status
    owner = data.tenants.deployment_owner_id()
    requests, percent = [], 0
    try:
        while 0 <= percent < 100:
            hcp = company.hcp_response(owner) if not requests else ""
            request = relay.send_request_xml(ticket, hcp, "", "US", 13, 0)
            assert request, relay.get_last_error(ticket)
            requests.append(request)
            percent = relay.receive_response_xml(ticket, company.process(request), "", "")
        assert percent == 100, relay.get_last_error(ticket)
        relay.close_connection(ticket)
    finally:
        company.end_session()
    return requests


def deliver(target: Target) -> list[Envelope]:
    """Apply every queued record as the forwarder would: ZOHO then holds its content."""
    mappings, applied = target.data.mappings, []
    while batch := target.queue.receive(10):
        for m in batch:
            env = Envelope.from_json(m.message.body)
            token = f"tok-{env.source_id}-{env.version}"
            ids = (env.tenant, env.source, env.entity, env.source_id)
            mappings.claim(Claim(*ids, env.version, token))
            mappings.record_outcome(
                DeliveryOutcome(
                    *ids,
                    DeliveryStatus.SYNCED,
                    env.version,
                    time.time(),
                    content_hash=env.content_hash,
                    zoho_module="Accounts",
                    zoho_id=f"old-org-{env.source_id}",
                    token=token,
                )
            )
            applied.append(env)
        target.queue.delete([m.receipt for m in batch])
    return applied


def incremental(requests: list[str], query: str) -> bool:
    """True when the session asked for the entity's changes only (``FromModifiedDate``)."""
    asked = [
        q
        for r in requests
        for q in etree.fromstring(r.encode(), etree.XMLParser(resolve_entities=False)).iter(query)
    ]
    assert asked, query
    return any(next(q.iter("FromModifiedDate"), None) is not None for q in asked)


def synced_shop(capsys: Any, target: Target) -> FakeCompany:
    """Tenant ``shop`` after one full sync whose records all reached ZOHO, plus forwarder state."""
    company = FakeCompany(customers=CUSTOMERS, items=ITEMS, seed=5)
    add_tenant(capsys, target)
    session(target, company)
    assert len(deliver(target)) == CUSTOMERS + ITEMS
    data = target.data
    data.state.request_refetch("shop", "qbd", "Customer", ["80000001-1"])
    data.forwarder.pause("shop", time.time() + 3600, "ZOHO API credits exhausted")
    data.forwarder.put_mapping("shop", {"modules": {}})
    data.tokens.try_lease("shop", "me", time.time(), 30)
    data.tokens.save("shop", "me", ZohoToken("1000.x", "https://www.zohoapis.eu", 9e9))
    return company


def test_remove_refuses_while_state_exists_and_changes_nothing(capsys, target) -> None:
    synced_shop(capsys, target)
    data = target.data
    before = (data.mappings.count("shop"), data.state.get_all("shop"), data.runs.count("shop"))
    code, _, err = run(capsys, "tenant", "remove", "shop", "--yes", *target.argv)
    assert code != 0
    for part in (
        f"{CUSTOMERS + ITEMS} mappings",
        "sync state of 2 entities",
        "1 pending re-read",
        "1 run",
        "a forwarder pause",
        "a ZOHO mapping override",
        "a cached ZOHO token",
        "--purge",
    ):
        assert part in err, part
    assert data.tenants.get("shop") is not None
    after = (data.mappings.count("shop"), data.state.get_all("shop"), data.runs.count("shop"))
    assert after == before
    code, _, err = run(capsys, "tenant", "remove", "shop", "--yes", "--purge-secrets", *target.argv)
    assert code != 0 and "add --purge" in err


def test_purged_tenant_comes_back_with_a_full_sync_and_no_old_mappings(capsys, target) -> None:
    company = synced_shop(capsys, target)
    code, out, err = run(capsys, "tenant", "remove", "shop", "--yes", "--purge", *target.argv)
    assert code == 0, err
    assert "Removed tenant 'shop'" in out and f"{CUSTOMERS + ITEMS} mappings" in out
    data = target.data
    assert data.tenants.get("shop") is None
    assert data.mappings.count("shop") == 0 and data.runs.count("shop") == 0
    assert data.state.get_all("shop") == {} and data.state.pending_refetch("shop", "qbd") == {}
    assert data.forwarder.paused("shop", time.time()) is None
    assert data.forwarder.get_mapping("shop") is None and data.tokens.load("shop") is None

    # Re-created under the same name (a new ZOHO org): it starts from nothing.
    add_tenant(capsys, target)
    assert list(data.mappings.scan("shop")) == []
    # Its new .qwc, added to the Web Connector, stamps the new FileID into the company file
    # (the company-file guard refuses the old one's).
    company.owner_id = data.tenants.deployment_owner_id()
    company.file_id = data.tenants.get("shop").file_id
    requests = session(target, company)
    assert not incremental(requests, "CustomerQueryRq")
    assert not incremental(requests, "ItemQueryRq")
    # No row knows a ZOHO record (of the old org) or content ZOHO would hold already.
    rows = list(data.mappings.scan("shop"))
    assert len(rows) == CUSTOMERS + ITEMS
    assert all(m.zoho_id is None and not m.applied_hash for m in rows)
    assert len(deliver(target)) == CUSTOMERS + ITEMS  # nothing held back as "ZOHO has it"
    assert data.runs.count("shop") == 1


def test_purge_is_idempotent_and_finishes_after_the_tenant_row_is_gone(capsys, target) -> None:
    synced_shop(capsys, target)
    data = target.data
    # A purge that stopped right after removing the row (the first step) left everything else.
    assert data.tenants.delete("shop")
    code, _, err = run(capsys, "tenant", "remove", "shop", "--yes", *target.argv)
    assert code != 0 and "no tenant named 'shop'" in err and "--purge" in err
    assert data.mappings.count("shop") == CUSTOMERS + ITEMS
    code, out, err = run(capsys, "tenant", "remove", "shop", "--yes", "--purge", *target.argv)
    assert code == 0, err
    assert "No tenant named 'shop'" in out and f"{CUSTOMERS + ITEMS} mappings" in out
    assert data.mappings.count("shop") == 0 and data.state.get_all("shop") == {}
    code, out, err = run(capsys, "tenant", "remove", "shop", "--yes", "--purge", *target.argv)
    assert code == 0 and "Purged the state of 'shop': nothing." in out, err
    # Without --purge, a name with nothing left is the plain error it always was.
    code, _, err = run(capsys, "tenant", "remove", "shop", "--yes", *target.argv)
    assert code != 0 and err.strip().endswith("no tenant named 'shop'")


def test_remove_refuses_while_a_session_runs_unless_forced(capsys, target) -> None:
    add_tenant(capsys, target)
    data = target.data
    relay = QbwcRelay(
        data.tenants, data.sessions, SyncEngine(data.state, data.mappings, target.queue), data.runs
    )
    ticket, status = relay.authenticate("shop", PASSWORD)[:2]
    assert status == ""  # a session is live now
    code, _, err = run(capsys, "tenant", "remove", "shop", "--yes", "--purge", *target.argv)
    assert code != 0 and "session running" in err and "--force" in err
    assert data.tenants.get("shop") is not None
    code, _, err = run(capsys, "resync", "--tenant", "shop", *target.argv)
    assert code != 0 and "session running" in err
    code, out, err = run(
        capsys, "tenant", "remove", "shop", "--yes", "--purge", "--force", *target.argv
    )
    assert code == 0 and "still running" in out, err
    assert data.tenants.get("shop") is None
    # The removed tenant's live session ended with it: its ticket is refused.
    assert "Ended 1 live Web Connector session(s) of 'shop'" in out
    assert relay.send_request_xml(ticket, "", "", "US", 13, 0) == ""
    assert "session has ended" in relay.get_last_error(ticket)


def test_rotate_password_ends_the_live_session(capsys, target) -> None:
    add_tenant(capsys, target)
    data = target.data
    relay = QbwcRelay(
        data.tenants, data.sessions, SyncEngine(data.state, data.mappings, target.queue), data.runs
    )
    ticket, status = relay.authenticate("shop", PASSWORD)[:2]
    assert status == "" and relay.send_request_xml(ticket, "", "", "US", 13, 0)
    code, out, err = run(capsys, "tenant", "rotate-password", "shop", *target.argv)
    assert code == 0 and "Ended 1 live Web Connector session(s) of 'shop'" in out, err
    # The ticket won with the old password is refused at once, and so is the old password;
    # the tenant is free for the next session (with the new password).
    assert relay.send_request_xml(ticket, "", "", "US", 13, 0) == ""
    assert relay.receive_response_xml(ticket, "<QBXML/>", "", "") == -1
    assert "password was changed" in relay.get_last_error(ticket)
    assert relay.authenticate("shop", PASSWORD)[1] == "nvu"
    assert data.sessions.lock_until("shop", 0.0) is None
    code, out, _ = run(capsys, "tenant", "rotate-password", "shop", *target.argv)
    assert code == 0 and "Ended" not in out  # nothing live to end


def test_credentials_stay_unless_purge_secrets(capsys, target) -> None:
    add_tenant(capsys, target)
    data = target.data
    data.secrets().put(secret_name("shop"), {"client_id": "1000.ABC", "refresh_token": "x"})
    code, out, err = run(capsys, "tenant", "remove", "shop", "--yes", *target.argv)
    assert code == 0, err
    assert "stay in the secret store" in out and "--purge-secrets" in out
    assert data.secrets().get(secret_name("shop")) is not None
    code, out, err = run(
        capsys, "tenant", "remove", "shop", "--yes", "--purge", "--purge-secrets", *target.argv
    )
    assert code == 0 and "Deleted the ZOHO credentials of 'shop'" in out, err
    assert data.secrets().get(secret_name("shop")) is None


def test_resync_reads_whole_but_zoho_gets_only_what_changed(capsys, target) -> None:
    company = synced_shop(capsys, target)
    data = target.data
    data.state.clear_refetch("shop", "qbd", "Customer", ["80000001-1"])
    renamed = next(iter(company.snapshot("Customer").records))
    company.modify("Customer", renamed, name="Renamed & Sons")
    requests = session(target, company)
    assert incremental(requests, "CustomerQueryRq") and incremental(requests, "ItemQueryRq")
    assert [e.source_id for e in deliver(target)] == [renamed]

    code, out, err = run(capsys, "resync", "--tenant", "shop", *target.argv)
    assert code == 0, err
    assert "re-reads 2 entities whole; unchanged records are not sent to ZOHO again" in out
    assert all(s.watermark is None for s in data.state.get_all("shop").values())
    company.modify("Customer", renamed, name="Renamed Again")
    requests = session(target, company)
    assert not incremental(requests, "CustomerQueryRq")
    assert not incremental(requests, "ItemQueryRq")
    # Every record was read; only the one changed since ZOHO's copy went to the queue.
    assert [e.source_id for e in deliver(target)] == [renamed]
    run_counts = data.runs.recent("shop")[0].entities
    assert run_counts["Customer"].received == CUSTOMERS
    assert run_counts["Customer"].unchanged == CUSTOMERS - 1
    assert run_counts["Item"].received == ITEMS and run_counts["Item"].queued == 0

    # One entity (any spelling): only its watermark goes.
    code, out, err = run(capsys, "resync", "--tenant", "shop", "--entity", "customer", *target.argv)
    assert code == 0 and "re-reads 1 entity whole" in out, err
    requests = session(target, company)
    assert not incremental(requests, "CustomerQueryRq") and incremental(requests, "ItemQueryRq")
    assert deliver(target) == []


def test_resync_refuses_unknown_tenants_and_entities(capsys, target) -> None:
    add_tenant(capsys, target)
    code, _, err = run(capsys, "resync", "--tenant", "ghost", *target.argv)
    assert code != 0 and "no tenant named 'ghost'" in err
    code, _, err = run(capsys, "resync", "--tenant", "shop", "--entity", "Widget", *target.argv)
    assert code != 0 and "unknown entities Widget; choose from Item, Customer" in err
    code, out, err = run(capsys, "resync", "--tenant", "shop", "--entity", "Vendor", *target.argv)
    assert code == 0 and "re-reads 0 entities" in out and "read whole once enabled" in out, err


def test_stack_outputs_are_read_once_for_every_table(capsys, monkeypatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in (*targets.TABLE_OUTPUTS.values(), "QBRELAY_SECRETS_PREFIX", "QBRELAY_ENV"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        ddb = boto3.client("dynamodb")
        tables = create_relay_tables(ddb)
        cloudformation = boto3.client("cloudformation")
        stub = Stubber(cloudformation)
        stub.activate()
        outputs = {key: tables[env] for key, env in targets.TABLE_OUTPUTS.items() if env in tables}
        outputs["SecretsPrefix"] = "qbxml-relay/dev/"
        reply = {
            "Stacks": [
                {
                    "StackName": "QbxmlRelay-dev",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
                }
            ]
        }
        clients = {"cloudformation": cloudformation, "dynamodb": ddb}
        monkeypatch.setattr(
            targets,
            "aws_client",
            lambda service, region=None: clients.get(service) or boto3.client(service),
        )
        aws = ["--aws", "--env", "dev"]
        stub.add_response("describe_stacks", reply, {"StackName": "QbxmlRelay-dev"})
        assert run(capsys, "tenant", "add", "shop", *aws)[0] == 0
        for argv in (["resync", "--tenant", "shop"], ["tenant", "remove", "shop", "--yes"]):
            stub.add_response("describe_stacks", reply, {"StackName": "QbxmlRelay-dev"})
            code, _, err = run(capsys, *argv, *aws)
            assert code == 0, err
        stub.assert_no_pending_responses()
