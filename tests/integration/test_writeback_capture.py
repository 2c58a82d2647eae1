"""Change capture against the fake ZOHO over loopback HTTP with the real ZohoClient, the SQLite
write-back store, mapping store and record queue."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import pytest

from lambdas.model.envelope import Envelope
from lambdas.store.ports import Claim, DeliveryOutcome, DeliveryStatus, Handoff, Tenant
from lambdas.store.sqlite import SqliteMappingStore, SqliteRecordQueue, SqliteWriteBackStore
from lambdas.writeback.capture import ZohoCapture
from lambdas.writeback.model import ADD, INVOICE, MOD, OpStatus, WriteOp, content_op_id, op_id
from lambdas.writeback.projection import customer_fields
from lambdas.writeback.zoho_fields import kept_values
from qbxml.requests.writes import CUSTOMER_ADD_FIELDS
from sim.fake_zoho import ADMIN
from tests.integration.zoho_helpers import ZohoEnv

START = 1_780_000_000.0


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> float:
        return self.at

    def tick(self, seconds: float = 1.0) -> None:
        self.at += seconds


@dataclass
class Rig:
    zoho: ZohoEnv
    clock: Clock
    store: SqliteWriteBackStore
    mappings: SqliteMappingStore
    queue: SqliteRecordQueue
    tenant: Tenant
    edition: str = "qbd"

    def capture(self, **kw: Any) -> ZohoCapture:
        return ZohoCapture(
            self.store,
            self.mappings,
            self.queue,
            self.zoho.factory(),
            lambda tenant: self.edition,
            clock=self.clock,
            **kw,
        )

    def run(self, **kw: Any):
        return self.capture(**kw).run(self.tenant)

    def ops(self, status: OpStatus | None = None) -> list[WriteOp]:
        return sorted(self.store.list("acme", status, limit=1000), key=lambda o: o.seq)

    def account(self, name: str, **fields: Any) -> str:
        self.clock.tick()
        (rid,) = self.zoho.fake.add_records("Accounts", [{"Account_Name": name, **fields}])
        return rid

    def edit(self, module: str, rid: str, **changes: Any) -> str:
        self.clock.tick()
        return self.zoho.fake.edit(module, rid, changes)

    def messages(self) -> list[Envelope]:
        received = self.queue.receive(10)
        self.queue.delete([m.receipt for m in received])
        return [Envelope.from_json(m.message.body) for m in received]


@pytest.fixture
def rig(zoho: ZohoEnv) -> Rig:
    clock = Clock()
    zoho.fake.clock = clock
    tenant = Tenant(
        "acme", "acme-user", "x", writeback=True, writeback_since=START, invoice_item="Services"
    )
    return Rig(
        zoho,
        clock,
        SqliteWriteBackStore(zoho.db, clock=clock),
        SqliteMappingStore(zoho.db),
        SqliteRecordQueue(zoho.db, clock=clock),
        tenant,
    )


def test_a_new_account_is_one_add_however_often_it_is_read(rig: Rig) -> None:
    rid = rig.account("Acme Tools", Phone="555-0100")
    rig.clock.tick()
    (cid,) = rig.zoho.fake.add_records(
        "Contacts", [{"Last_Name": "Lee", "First_Name": "Ann", "Account_Name": {"id": rid}}]
    )
    report = rig.run()
    assert (report.accounts_seen, report.ops_added) == (1, 1)
    (op,) = rig.ops()
    assert (op.kind, op.action, op.zoho_module, op.zoho_id) == ("customer", ADD, "Accounts", rid)
    assert op.fields["name"] == "Acme Tools" and op.fields["last_name"] == "Lee"
    # The contact's time is the version: a change of either is a change of the customer.
    assert op.zoho_version == rig.zoho.fake.records["Contacts"][cid]["Modified_Time"]
    assert (
        op.op_id == content_op_id("Accounts", rid, op.zoho_version, op.fields)
        and op.status == OpStatus.PENDING
    )
    again = rig.run()
    assert again.ops_added == 0 and again.echoes_skipped >= 1
    assert len(rig.ops()) == 1
    assert rig.messages() == []


def test_an_edit_while_pending_supersedes_while_sent_waits_behind(rig: Rig) -> None:
    rid = rig.account("Acme")
    rig.run()
    rig.edit("Accounts", rid, Phone="555-0199")
    report = rig.run()
    assert report.ops_superseded == 1 and report.ops_added == 0
    (op,) = rig.ops()
    assert op.rev == 1 and op.fields["phone"] == "555-0199" and op.action == ADD
    sent = rig.store.mark("acme", op.op_id, [OpStatus.PENDING], OpStatus.SENT, rev=1, attempts=1)
    version = rig.edit("Accounts", rid, Phone="555-0200")
    assert rig.run().ops_added == 1
    first, second = rig.ops()
    assert first.op_id == sent.op_id and first.status == OpStatus.SENT
    assert second.depends_on == first.op_id and second.action == MOD and second.qb_id == ""
    assert second.zoho_version == version and second.fields["phone"] == "555-0200"
    assert second.base == first.fields  # what the Add will have written


def _forwarded(rig: Rig, list_id: str, name: str) -> str:
    """What the forwarder does with a QuickBooks customer: writes the account through the API
    (as the relay's user) and records the mapping with the values it wrote."""
    payload = {"Account_Name": name, "Phone": "555-0100", "QB_ListID": list_id}
    client = rig.zoho.client()
    (result,) = client.upsert("Accounts", [payload], ["QB_ListID"])
    assert result.ok and result.zoho_id
    key = ("acme", "qbd", "Customer", list_id)
    rig.mappings.record_handoffs([Handoff(*key, "hash-1", "1000", rig.clock())])
    rig.mappings.claim(Claim(*key, "1000", "token-1", rig.clock()))
    rig.mappings.record_outcome(
        DeliveryOutcome(
            *key,
            DeliveryStatus.SYNCED,
            "1000",
            rig.clock(),
            content_hash="hash-1",
            zoho_module="Accounts",
            zoho_id=result.zoho_id,
            token="token-1",
            applied_fields=kept_values("Accounts", payload),
        )
    )
    return result.zoho_id


def test_the_forwarders_own_write_is_an_echo_and_a_persons_edit_a_mod(rig: Rig) -> None:
    rig.clock.tick()
    rid = _forwarded(rig, "80000001-1", "Bolt Inc")
    record = rig.zoho.fake.records["Accounts"][rid]
    assert record["Modified_By"] != ADMIN  # written by the relay's API user
    report = rig.run()
    assert report.accounts_seen == 1 and report.echoes_skipped == 1 and rig.ops() == []
    rig.edit("Accounts", rid, Account_Name="Bolt Incorporated")
    assert rig.run().ops_added == 1
    (op,) = rig.ops()
    assert (op.action, op.qb_id, op.qb_version) == (MOD, "80000001-1", "1000")
    assert op.base == customer_fields({"Account_Name": "Bolt Inc", "Phone": "555-0100"}, None)
    assert op.fields["name"] == "Bolt Incorporated"


def _won_deal(rig: Rig, account: str | None, **fields: Any) -> str:
    rig.clock.tick()
    deal = {"Deal_Name": "Big one", "Stage": "Closed Won", "Amount": 1200, **fields}
    if account:
        deal["Account_Name"] = {"id": account}
    (rid,) = rig.zoho.fake.add_records("Deals", [deal])
    return rid


def test_a_won_deal_is_one_invoice_however_often_it_is_saved(rig: Rig) -> None:
    rig.clock.tick()
    rid_account = _forwarded(rig, "80000002-1", "Known Ltd")
    products = rig.zoho.fake.add_records(
        "Products", [{"Product_Name": "Widget", "Unit_Price": 10}, {"Product_Name": "Bolt"}]
    )
    deal = _won_deal(rig, rid_account, Closing_Date="2026-05-30")
    rig.zoho.fake.relate("Deals", deal, "Products", products)
    (lost,) = rig.zoho.fake.add_records("Deals", [{"Deal_Name": "Nope", "Stage": "Closed Lost"}])
    report = rig.run()
    assert report.deals_seen == 1 and report.ops_added == 1
    (op,) = rig.ops()
    assert (op.kind, op.action, op.op_id) == (INVOICE, ADD, op_id("Deals", deal, "invoice"))
    assert op.customer_zoho_id == rid_account and op.depends_on == ""
    assert op.fields["txn_date"] == "2026-05-30" and op.fields["amount"] == "1200.00"
    assert [line["item"] for line in op.fields["lines"]] == ["Widget", "Bolt"]
    rig.edit("Deals", deal, Description="re-saved")
    rig.edit("Deals", deal, Stage="Negotiation/Review")
    rig.edit("Deals", deal, Stage="Closed Won", Amount=1300)
    rig.run()
    assert len(rig.ops()) == 1
    assert lost not in {o.zoho_id for o in rig.ops()}


def test_the_deal_of_a_new_account_waits_for_its_add(rig: Rig) -> None:
    # The account was made before write-back was on, so only its deal brings it in.
    rig.clock.at = START - 3600
    (account,) = rig.zoho.fake.add_records("Accounts", [{"Account_Name": "Newco"}])
    rig.clock.at = START
    deal = _won_deal(rig, account)
    report = rig.run()
    assert report.ops_added == 2
    add, invoice = rig.ops()
    assert (add.zoho_module, add.zoho_id, add.action) == ("Accounts", account, ADD)
    assert invoice.zoho_id == deal and invoice.depends_on == add.op_id
    assert add.seq < invoice.seq and invoice.fields["lines"] == []  # one line of the item


def test_a_too_long_name_is_refused_before_quickbooks_and_told_to_zoho(rig: Rig) -> None:
    limit = next(s.max_length for s in CUSTOMER_ADD_FIELDS if s.attr == "name")
    assert limit is not None
    rid = rig.account("N" * (limit + 16))
    report = rig.run()
    assert report.invalid == 1 and report.ops_added == 0
    (op,) = rig.ops()
    message = f"Account name is {limit + 16} characters; QuickBooks allows {limit}"
    assert op.status == OpStatus.NOT_APPLIED and op.error == message
    assert op.expires_at is not None and op.outcome_at is not None
    (update,) = rig.messages()
    assert update.entity == "ZohoUpdate" and update.record is not None
    assert update.record["zoho_id"] == rid
    assert update.record["fields"] == {"QB_Sync_Message": message, "QB_Sync_Status": "Failed"}
    # The status the forwarder then writes on the account changes nothing for QuickBooks.
    client = rig.zoho.client()
    rig.clock.tick()
    client.update("Accounts", [{"id": rid, **update.record["fields"]}])
    assert rig.run().invalid == 0 and rig.messages() == [] and len(rig.ops()) == 1
    # Online takes a name this long.
    rig.edition = "qbo"
    rig.edit("Accounts", rid, Phone="1")
    assert rig.run().ops_added == 1


def test_the_cursor_moves_and_records_of_one_second_are_not_lost(rig: Rig) -> None:
    rig.clock.tick()
    rig.zoho.fake.add_records("Accounts", [{"Account_Name": f"A{n}"} for n in range(250)])
    report = rig.run(max_pages=1)  # 200 a page: the bound stops the run inside the second
    assert report.ops_added == 200 and report.more
    second = rig.zoho.fake.records["Accounts"]
    stamp = next(iter(second.values()))["Modified_Time"]
    assert rig.store.cursor("acme", "Accounts") == stamp
    # More in the same second, after the run read it.
    rig.zoho.fake.add_records("Accounts", [{"Account_Name": f"B{n}"} for n in range(5)])
    report = rig.run()
    assert report.ops_added == 55 and not report.more
    assert len(rig.ops()) == 255
    assert {o.fields["name"] for o in rig.ops()} == {r["Account_Name"] for r in second.values()}
    rig.clock.tick(10)
    rid = rig.account("Later")
    rig.run()
    assert rig.store.cursor("acme", "Accounts") == second[rid]["Modified_Time"]
    queries = [q for q in rig.zoho.fake.queries if "from Accounts" in q]
    assert all("limit 200" in q for q in queries)


def test_a_second_long_past_is_not_read_again(rig: Rig) -> None:
    rig.clock.tick()
    rig.zoho.fake.add_records("Accounts", [{"Account_Name": f"A{n}"} for n in range(30)])
    assert rig.run().ops_added == 30
    # While ZOHO may still save records in that second, the next run reads it again.
    assert rig.run().accounts_seen == 30
    rig.clock.tick(600)
    rig.run()  # the second is past: the cursor now names the last record read
    cursor = rig.store.cursor("acme", "Accounts")
    assert cursor is not None and "|" in cursor
    assert rig.run().accounts_seen == 0
    rid = rig.account("Later")
    report = rig.run()
    assert (report.accounts_seen, report.ops_added) == (1, 1)
    assert (
        rig.store.cursor("acme", "Accounts")
        == rig.zoho.fake.records["Accounts"][rid]["Modified_Time"]
    )


def test_two_runs_at_once_store_each_operation_once(rig: Rig) -> None:
    for n in range(30):
        rig.clock.tick(0.25)
        rid = rig.account(f"Co {n}")
        if n % 5 == 0:
            _won_deal(rig, rid)
    reports: list[Any] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        capture = rig.capture()
        try:
            barrier.wait(timeout=5)
            reports.append(capture.run(rig.tenant))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(reports) == 2
    ops = rig.ops()
    assert len(ops) == 36 and len({(o.zoho_module, o.zoho_id) for o in ops}) == 36
    assert sum(r.ops_added for r in reports) == 36
    for invoice in (o for o in ops if o.kind == INVOICE):
        assert invoice.depends_on in {o.op_id for o in ops if o.zoho_id == invoice.customer_zoho_id}


def test_a_tenant_without_write_back_is_not_read(rig: Rig) -> None:
    rig.account("Acme")
    rig.tenant.writeback = False
    calls = rig.zoho.fake.calls
    assert rig.run().accounts_seen == 0 and rig.zoho.fake.calls == calls


def test_the_status_message_is_json_for_the_forwarder(rig: Rig) -> None:
    rig.account("")  # ZOHO itself refuses this; a fake record without a name shows the check
    rig.run()
    (update,) = rig.messages()
    body = json.loads(update.to_json())
    assert body["record"]["fields"]["QB_Sync_Status"] == "Failed"
    assert "empty" in body["record"]["fields"]["QB_Sync_Message"]


def test_a_page_that_fails_leaves_its_cursor_for_the_next_run(rig: Rig) -> None:
    from lambdas.zoho.errors import ZohoUnavailable

    rid = rig.account("Acme")
    rig.clock.tick()
    _forwarded(rig, "80000003-1", "Known")
    deal = _won_deal(rig, rid)
    rig.zoho.fake.inject("500", times=5, path=f"/crm/v8/Deals/{deal}/Products")
    with pytest.raises(ZohoUnavailable):
        rig.run()
    assert rig.store.cursor("acme", "Accounts") is not None  # its page was stored
    assert rig.store.cursor("acme", "Deals") is None
    assert [o.zoho_module for o in rig.ops()] == ["Accounts"]
    rig.clock.tick()
    report = rig.run()
    assert report.ops_added == 1 and [o.zoho_module for o in rig.ops()] == ["Accounts", "Deals"]
    assert rig.ops()[1].depends_on == rig.ops()[0].op_id
