"""The forwarder's side of write-back against the fake ZOHO CRM over HTTP, on SQLite and moto.

Linked records (a QuickBooks customer written back from a ZOHO account) land in that account by
id, never as a second account, whatever order their versions come in; ``ZohoUpdate`` messages
set fields by id, newest first; the mapping keeps the values written (``applied_fields``).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.model.envelope import Envelope
from lambdas.store.dynamo import DynamoMappingStore
from lambdas.store.sqlite import (
    SqliteDeadLetterQueue,
    SqliteForwarderState,
    SqliteMappingStore,
    SqliteSyncStateStore,
)
from lambdas.writeback.outcomes import zoho_update
from lambdas.zoho.forwarder import ForwardReport, ZohoForwarder
from sim.fake_zoho import FakeField, FakeModule, FakeZoho, FakeZohoServer, standard_modules
from tests.aws_tables import SerialClient, create_mappings_table
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv, customer

QB = "QB_ListID"


def writeback_modules() -> list[FakeModule]:
    """The standard organisation with write-back's status fields, and a minimal Deals."""
    mods = standard_modules()
    status = [
        FakeField(
            "QB_Sync_Status",
            "picklist",
            custom=True,
            picklist=("Synced", "Failed", "Pending", "Conflict"),
        ),
        FakeField("QB_Sync_Message", "text", 255, custom=True),
    ]
    for m in mods:
        if m.api_name == "Accounts":
            m.fields.update({f.api_name: f for f in status})
    deal = [
        FakeField("Deal_Name", "text", 120, mandatory=True),
        FakeField("Account_Name", "lookup", lookup="Accounts"),
        FakeField("Stage", "picklist"),
        FakeField("QB_TxnID", "text", 255, custom=True),
        FakeField("QB_RefNumber", "text", 40, custom=True),
        *status,
    ]
    mods.append(FakeModule("Deals", {f.api_name: f for f in deal}, "Deal_Name"))
    return mods


@dataclass
class Rig:
    zoho: ZohoEnv
    mappings: Any
    refetch: SqliteSyncStateStore
    dlq: SqliteDeadLetterQueue

    def forwarder(self) -> ZohoForwarder:
        return ZohoForwarder(
            self.mappings,
            SqliteForwarderState(self.zoho.db),
            self.dlq,
            self.zoho.factory(),
            refetch=self.refetch,
        )

    def forward(self, *bodies: str) -> ForwardReport:
        return self.forwarder().forward([(str(i), b) for i, b in enumerate(bodies)])

    @property
    def fake(self) -> FakeZoho:
        return self.zoho.fake

    def account(self, name: str = "Acme (from ZOHO)") -> str:
        """An account a person made in ZOHO, with no QuickBooks id."""
        return self.fake.add_records("Accounts", [{"Account_Name": name}])[0]

    def contact(self, account: str, last: str, created: str) -> str:
        rid = self.fake.add_records(
            "Contacts", [{"Last_Name": last, "Account_Name": {"id": account}}]
        )[0]
        self.fake.records["Contacts"][rid]["Created_Time"] = created
        return rid

    def row(self, entity: str, sid: str):
        return self.mappings.get("acme", "qbd", entity, sid)


@pytest.fixture(params=["sqlite", "aws"])
def rig(request, tmp_path) -> Iterator[Rig]:
    from lambdas.store.sqlite import SqliteDatabase

    fake = FakeZoho(modules=writeback_modules(), timeout_delay=0.6)
    fake.add_client(CLIENT_ID, SECRET, REFRESH)
    server = FakeZohoServer(fake).start()
    env = ZohoEnv(fake, server.url, SqliteDatabase.in_dir(tmp_path / "store"))
    refetch, dlq = SqliteSyncStateStore(env.db), SqliteDeadLetterQueue(env.db)
    try:
        if request.param == "sqlite":
            yield Rig(env, SqliteMappingStore(env.db), refetch, dlq)
        else:
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
            with mock_aws():
                ddb = boto3.client("dynamodb", region_name="us-east-1")
                create_mappings_table(ddb, "mappings")
                store = DynamoMappingStore(SerialClient(ddb), "mappings", sleep=lambda _s: None)
                yield Rig(env, store, refetch, dlq)
    finally:
        for s in env.sessions:
            s.close()
        server.stop()


def body(record: dict[str, Any], link: str | None = None, read_at: float = 0.0) -> str:
    """A record-queue message; ``link`` "Accounts/<id>" marks it written back from there."""
    envelope = Envelope.of("acme", "qbd", record, read_at=read_at)
    return replace(envelope, link=link).to_json()


def statuses(report: ForwardReport) -> list[str]:
    return [report.outcomes[str(i)].status for i in range(len(report.outcomes))]


def test_a_linked_customer_lands_in_its_account_and_later_versions_follow(rig: Rig) -> None:
    x = rig.account()
    primary = rig.contact(x, "Lee", "2026-01-01T09:00:00+00:00")
    later = rig.contact(x, "Later", "2026-01-05T09:00:00+00:00")
    other = rig.contact(rig.account("Someone else"), "Other", "2025-01-01T09:00:00+00:00")
    c = customer(1)
    report = rig.forward(body(c, link=f"Accounts/{x}"))
    assert statuses(report) == ["applied"], report.outcomes
    # Written into the account and its primary contact by id: nothing created.
    assert len(rig.fake.all("Accounts")) == 2 and len(rig.fake.all("Contacts")) == 3
    assert rig.fake.duplicates("Accounts", QB) == 0
    account = rig.fake.records["Accounts"][x]
    assert (account[QB], account["Account_Name"], account["Phone"]) == (
        c["list_id"],
        "Customer 1",
        "555-0100",
    )
    contact = rig.fake.records["Contacts"][primary]
    assert (contact[QB], contact["Last_Name"], contact["Account_Name"]) == (
        c["list_id"],
        "Lee1",
        {"id": x},
    )
    assert QB not in rig.fake.records["Contacts"][later]
    assert QB not in rig.fake.records["Contacts"][other]
    writes = [(r["module"], r["duplicate_check_fields"]) for r in rig.fake.requests]
    assert writes == [("Accounts", None), ("Contacts", None)]  # updates by id, no upsert
    row, contact_row = rig.row("Customer", c["list_id"]), rig.row("CustomerContact", c["list_id"])
    assert (row.status, row.zoho_module, row.zoho_id) == ("synced", "Accounts", x)
    assert (contact_row.status, contact_row.zoho_id) == ("synced", primary)
    assert row.applied_fields == {
        "Account_Name": "Customer 1",
        "Phone": "555-0100",
        "Billing_Street": "1 Main St",
        "Billing_City": "Austin",
        "Billing_State": "TX",
    }
    assert contact_row.applied_fields == {
        "First_Name": "Ann",
        "Last_Name": "Lee1",
        "Email": "ann.1@example.com",
    }
    assert rig.mappings.find_by_zoho_id("acme", "Accounts", x).source_id == c["list_id"]
    # The next version, read by the sync engine (no link), upserts into the same records.
    newer = customer(1, edit_sequence="1001", phone="555-0199", email="ann@new.example.com")
    assert statuses(rig.forward(body(newer))) == ["applied"]
    assert [r["duplicate_check_fields"] for r in rig.fake.requests[2:]] == [[QB], [QB]]
    assert len(rig.fake.all("Accounts")) == 2 and len(rig.fake.all("Contacts")) == 3
    assert rig.fake.records["Accounts"][x]["Phone"] == "555-0199"
    assert rig.fake.records["Contacts"][primary]["Email"] == "ann@new.example.com"
    assert rig.row("Customer", c["list_id"]).applied_fields["Phone"] == "555-0199"
    assert rig.row("CustomerContact", c["list_id"]).applied_fields["Email"] == (
        "ann@new.example.com"
    )
    # The linked message delivered again (at least once) changes nothing.
    assert statuses(rig.forward(body(c, link=f"Accounts/{x}"))) == ["stale"]
    assert rig.fake.records["Accounts"][x]["Phone"] == "555-0199"


def test_a_linked_account_without_a_contact_gets_one_and_a_deleted_one_is_upserted(
    rig: Rig,
) -> None:
    x, gone = rig.account("Has no contact"), rig.account("Deleted in ZOHO")
    rig.fake.records["Accounts"].pop(gone)
    c1, c2 = customer(1), customer(2)
    report = rig.forward(body(c1, link=f"Accounts/{x}"), body(c2, link=f"Accounts/{gone}"))
    assert statuses(report) == ["applied", "applied"]
    assert report.outcomes["0"].reason == ""
    assert f"Accounts/{gone} is gone" in report.outcomes["1"].reason
    assert rig.fake.records["Accounts"][x][QB] == c1["list_id"]
    made = rig.fake.by_field("Accounts", QB, c2["list_id"])
    assert len(made) == 1 and made[0]["id"] != gone
    assert rig.row("Customer", c2["list_id"]).zoho_id == made[0]["id"]
    # Both contacts made (neither account has one), each on its account.
    for c, account in ((c1, x), (c2, made[0]["id"])):
        (contact,) = rig.fake.by_field("Contacts", QB, c["list_id"])
        assert contact["Account_Name"] == {"id": account}
    assert rig.fake.duplicates("Accounts", QB) == 0 and len(rig.fake.all("Accounts")) == 2


def test_a_linked_version_and_an_unlinked_one_in_one_batch(rig: Rig) -> None:
    # The linked version is the newer: the older unlinked one loses, the linked one lands.
    x = rig.account()
    old, new = customer(1, phone="555-0001"), customer(1, edit_sequence="1001", phone="555-0002")
    report = rig.forward(body(old), body(new, link=f"Accounts/{x}"))
    assert statuses(report) == ["stale", "applied"]
    assert rig.fake.by_field("Accounts", QB, old["list_id"]) == [rig.fake.records["Accounts"][x]]
    assert rig.fake.records["Accounts"][x]["Phone"] == "555-0002"
    # The linked version is the older: the newer one goes where it was written back from.
    y = rig.account("Other")
    old, new = customer(2, phone="555-0003"), customer(2, edit_sequence="1001", phone="555-0004")
    report = rig.forward(body(new), body(old, link=f"Accounts/{y}"))
    assert statuses(report) == ["applied", "stale"]
    assert rig.fake.by_field("Accounts", QB, old["list_id"]) == [rig.fake.records["Accounts"][y]]
    assert rig.fake.records["Accounts"][y]["Phone"] == "555-0004"
    assert len(rig.fake.all("Accounts")) == 2 and rig.fake.duplicates("Contacts", QB) == 0


def _settle(rig: Rig, record: dict[str, Any], read_at: float) -> None:
    """The relay's part: while the forwarder asks for the record again, it is read again."""
    for n in range(5):
        pending = rig.refetch.pending_refetch("acme", "qbd").get("Customer", [])
        if record["list_id"] not in pending:
            return
        rig.refetch.clear_refetch("acme", "qbd", "Customer", [record["list_id"]])
        rig.forward(body(record, read_at=read_at + n + 1))
    raise AssertionError("the forwarder kept asking for the record")


def _concurrently(rig: Rig, bodies: list[str], jitter: random.Random) -> None:
    """Each body forwarded by its own forwarder on its own thread, started together."""
    start = threading.Barrier(len(bodies))
    errors: list[BaseException] = []

    def run(msg: str, delay: float) -> None:
        try:
            start.wait(timeout=10)
            time.sleep(delay)
            rig.forward(msg)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(b, jitter.uniform(0, 0.05))) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and not any(t.is_alive() for t in threads)


@pytest.mark.parametrize("order", ["unlinked_first", "linked_first", "threads"])
def test_two_forwarders_with_a_linked_and_a_newer_unlinked_version(rig: Rig, order: str) -> None:
    """Whatever the interleaving, ZOHO ends on the newer version, in the one linked account."""
    rounds = 4 if order == "threads" else 1
    for n in range(1, rounds + 1):
        x = rig.account(f"Account {n}")
        primary = rig.contact(x, "Lee", "2026-01-01T09:00:00+00:00")
        v1 = customer(n)
        v2 = customer(n, edit_sequence="1001", phone="555-0999", fax="555-0111")
        linked_msg, unlinked_msg = body(v1, f"Accounts/{x}", read_at=10.0), body(v2, read_at=20.0)
        if order == "unlinked_first":
            rig.forward(unlinked_msg)
            rig.forward(linked_msg)
        elif order == "linked_first":
            rig.forward(linked_msg)
            rig.forward(unlinked_msg)
        else:
            _concurrently(rig, [linked_msg, unlinked_msg], random.Random(n))
        _settle(rig, v2, read_at=30.0)
        accounts = rig.fake.by_field("Accounts", QB, v1["list_id"])
        assert [a["id"] for a in accounts] == [x], order
        assert (accounts[0]["Phone"], accounts[0]["Fax"]) == ("555-0999", "555-0111")
        contacts = rig.fake.by_field("Contacts", QB, v1["list_id"])
        assert [c["id"] for c in contacts] == [primary]
        assert contacts[0]["Account_Name"] == {"id": x} and contacts[0]["Phone"] == "555-0999"
        row = rig.row("Customer", v1["list_id"])
        assert (row.status, row.zoho_id, row.applied_version) == ("synced", x, "1001")
        assert row.applied_fields["Phone"] == "555-0999"
    assert len(rig.fake.all("Accounts")) == rounds
    assert rig.fake.duplicates("Accounts", QB) == 0 and rig.fake.duplicates("Contacts", QB) == 0


def test_zoho_updates_set_fields_by_id_newest_first(rig: Rig) -> None:
    x = rig.account()
    deal = rig.fake.add_records("Deals", [{"Deal_Name": "Big one", "Account_Name": {"id": x}}])[0]
    newer = zoho_update(
        "acme", "qbd", "Accounts", x, {"QB_Sync_Status": "Synced", "QB_Sync_Message": ""}, 200.0
    )
    older = zoho_update(
        "acme",
        "qbd",
        "Accounts",
        x,
        {"QB_Sync_Status": "Failed", "QB_Sync_Message": "name too long"},
        100.0,
    )
    invoiced = zoho_update(
        "acme", "qbd", "Deals", deal, {"QB_TxnID": "12-345", "QB_RefNumber": "1001"}, 150.0
    )
    report = rig.forward(newer.to_json(), invoiced.to_json())
    assert statuses(report) == ["applied", "applied"]
    assert rig.fake.records["Accounts"][x]["QB_Sync_Status"] == "Synced"
    assert rig.fake.records["Deals"][deal]["QB_RefNumber"] == "1001"
    assert [(r["module"], r["duplicate_check_fields"]) for r in rig.fake.requests] == [
        ("Accounts", None),
        ("Deals", None),
    ]
    # The older update, delivered later in another batch, does not overwrite the newer one.
    assert statuses(rig.forward(older.to_json())) == ["stale"]
    assert rig.fake.records["Accounts"][x]["QB_Sync_Status"] == "Synced"
    assert len(rig.fake.requests) == 2
    # Delivered again: no call; in one batch with a newer one, the older loses there.
    assert statuses(rig.forward(newer.to_json())) == ["unchanged"]
    newest = zoho_update("acme", "qbd", "Accounts", x, {"QB_Sync_Status": "Conflict"}, 300.0)
    assert statuses(rig.forward(newest.to_json(), older.to_json())) == ["applied", "stale"]
    assert rig.fake.records["Accounts"][x]["QB_Sync_Status"] == "Conflict"
    row = rig.row("ZohoUpdate", f"Accounts:{x}")
    assert (row.status, row.zoho_module, row.zoho_id) == ("synced", "Accounts", None)
    # Its rows are not the account's: the reverse index still finds no record for it.
    assert rig.mappings.find_by_zoho_id("acme", "Accounts", x) is None


# SQLite only: 120 records' claims and outcomes one at a time through moto take seconds.
@pytest.mark.parametrize("rig", ["sqlite"], indirect=True)
def test_zoho_updates_batch_by_module_and_settle_each_record(rig: Rig) -> None:
    ids = rig.fake.add_records("Accounts", [{"Account_Name": f"A{i}"} for i in range(120)])
    gone, bad = ids[5], ids[7]
    rig.fake.records["Accounts"].pop(gone)
    updates = [
        zoho_update(
            "acme",
            "qbd",
            "Accounts",
            i,
            {"QB_Sync_Status": "Failed", "QB_Sync_Message": "x" * (300 if i == bad else 10)},
            500.0,
        )
        for i in ids
    ]
    report = rig.forward(*(u.to_json() for u in updates))
    assert [r["records"] for r in rig.fake.requests] == [100, 20]
    got = statuses(report)
    assert got[5] == "ignored" and got[7] == "parked"
    assert got.count("applied") == 118
    assert (
        report.outcomes["5"].reason == f"the ZOHO record Accounts/{gone} is gone (deleted in ZOHO)"
    )
    assert report.outcomes["7"].reason.startswith("Accounts: INVALID_DATA")
    assert rig.row("ZohoUpdate", f"Accounts:{gone}").status == "ignored"
    assert rig.row("ZohoUpdate", f"Accounts:{bad}").status == "parked"
    assert [letter.reason for letter in rig.dlq.list("acme")] == [report.outcomes["7"].reason]
    assert rig.fake.records["Accounts"][ids[0]]["QB_Sync_Status"] == "Failed"
