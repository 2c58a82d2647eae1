"""The QuickBooks Online sync end to end on one machine: an in-memory QBO company, the real
webhook core, change queue, sync, SQLite stores, HandOff and local forwarder, into the fake ZOHO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lambdas.local.forwarder import DrainResult, build_local_forwarder, drain
from lambdas.qbo.cdc import CatchUpReport, CdcCatchUp, state_key
from lambdas.qbo.notices import NOTICES_PER_MESSAGE
from lambdas.qbo.sync import QboSync, SyncReport
from lambdas.qbo.webhooks import WebhookResult, receive_webhook
from lambdas.store.payloads import FolderPayloadStore
from lambdas.store.ports import QueueMessage
from lambdas.store.qbo_ports import QueuedChange
from lambdas.store.sqlite import (
    SqliteChangeQueue,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteSeenEvents,
    SqliteSyncStateStore,
)
from lambdas.zoho.forwarder import ZohoForwarder
from tests.integration.zoho_helpers import ZohoEnv, message
from tests.integration.zoho_helpers import customer as desktop_customer
from tests.qbo_double import Change, InMemoryQbo, signed
from tests.qbo_samples import customer, invoice, item, payment

TOKEN = "webhook-verifier-7d1e"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Directory(dict):
    """realm -> tenant, as QboConnectionStore.find_by_realm answers it."""

    def find_by_realm(self, realm_id: str) -> str | None:
        return self.get(realm_id)


@dataclass
class Pipeline:
    zoho: ZohoEnv
    companies: dict[str, InMemoryQbo] = field(default_factory=dict)  # by tenant
    realms: Directory = field(default_factory=Directory)

    def __post_init__(self) -> None:
        db = self.zoho.db
        self.records = SqliteRecordQueue(db, clock=self.clock)
        self.changes = SqliteChangeQueue(db, clock=self.clock)
        self.seen = SqliteSeenEvents(db)
        self.state = SqliteSyncStateStore(db)
        self.mappings = SqliteMappingStore(db)
        self.sync = QboSync(
            self.realms,
            lambda tenant: self.companies[tenant],
            self.mappings,
            self.records,
            self.state,
            FolderPayloadStore.in_dir(db.path.parent),
            clock=self.clock,
        )
        self.cdc = CdcCatchUp(self.sync, self.state, self.mappings, clock=self.clock)
        self.forwarder: ZohoForwarder = build_local_forwarder(
            db, db.path.parent, clients=self.zoho.factory(), clock=self.clock
        )

    def clock(self) -> float:
        return max((c.now for c in self.companies.values()), default=START).timestamp()

    def company(self, realm: str, tenant: str) -> InMemoryQbo:
        qbo = InMemoryQbo(realm, START)
        self.companies[tenant] = qbo
        self.realms[realm] = tenant
        return qbo

    def webhook(self, qbo: InMemoryQbo, changes: list[Change] | None = None, legacy=False):
        picked = qbo.changes if changes is None else changes
        body = qbo.legacy(picked) if legacy else qbo.cloud_events(picked)
        result: WebhookResult = receive_webhook(
            body, signed(body, TOKEN), TOKEN, self.seen, self.changes, self.clock
        )
        assert result.status == 200
        return result

    def run(self) -> tuple[SyncReport, DrainResult]:
        synced = self.sync.drain(self.changes)
        return synced, drain(self.records, self.forwarder)

    def catch_up(self, tenant: str) -> tuple[CatchUpReport, DrainResult]:
        report = self.cdc.run(tenant, self.companies[tenant])
        return report, drain(self.records, self.forwarder)

    def one(self, module: str, id_field: str, value: str) -> dict[str, Any]:
        found = self.zoho.fake.by_field(module, id_field, value)
        assert len(found) == 1, f"{module} {value}: {len(found)} records"
        return found[0]


@pytest.fixture
def pipe(zoho: ZohoEnv) -> Pipeline:
    return Pipeline(zoho)


def _company(qbo: InMemoryQbo) -> tuple[dict, dict, dict]:
    c = qbo.create("Customer", **customer(1))
    i = qbo.create("Item", **item(1))
    inv = qbo.create("Invoice", **invoice(c["Id"], [i["Id"]]))
    return c, i, inv


def test_a_webhook_brings_the_records_into_zoho(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    c, i, inv = _company(qbo)
    assert (c["Id"], i["Id"], inv["Id"]) == ("1", "1", "1")  # one id, three entities
    assert pipe.webhook(qbo).queued == 3
    synced, drained = pipe.run()
    assert (synced.read, synced.queued, synced.failed_realms) == (3, 3, {})
    assert drained.outcomes["applied"] == 3 and drained.failed == 0
    account = pipe.one("Accounts", "QB_ListID", "qbo:1")
    assert account["Account_Name"] == "Customer 1" and account["Billing_Country"] == "United States"
    contact = pipe.one("Contacts", "QB_ListID", "qbo:1")
    assert contact["Last_Name"] == "Lee1" and contact["Account_Name"] == {"id": account["id"]}
    product = pipe.one("Products", "QB_ListID", "qbo:1")
    zinv = pipe.one("Invoices", "QB_TxnID", "qbo:1")
    assert zinv["Status"] == "Pending" and zinv["Account_Name"] == {"id": account["id"]}
    assert [li["Product_Name"]["id"] for li in zinv["Invoiced_Items"]] == [product["id"]]
    row = pipe.mappings.get("acme", "qbo", "Invoice", "qbo:1")
    assert (row.status, row.applied_version, row.zoho_id) == ("synced", "0", zinv["id"])
    # The same changes announced again (a retried delivery) are not queued again.
    assert pipe.webhook(qbo).queued == 0

    # A payment: its notice alone brings the invoice's new balance (the link is followed).
    pay = qbo.create("Payment", **payment(c["Id"], inv["Id"], 10.0))
    qbo.update("Invoice", inv["Id"], Balance=0)
    pipe.webhook(qbo, [ch for ch in qbo.changes if ch.entity == "Payment"])
    synced, drained = pipe.run()
    assert synced.read == 2  # the payment, then its invoice
    assert pipe.one("Invoices", "QB_TxnID", "qbo:1")["Status"] == "Paid"
    assert pipe.mappings.get("acme", "qbo", "ReceivePayment", "qbo:" + pay["Id"]).links == (
        "qbo:1",
    )
    assert pipe.state.pending_refetch("acme", "qbo") == {}


def test_the_legacy_format_drives_the_same_sync(pipe: Pipeline) -> None:
    qbo = pipe.company("4620816365", "acme")
    _company(qbo)
    assert pipe.webhook(qbo, legacy=True).queued == 3
    pipe.run()
    assert pipe.one("Invoices", "QB_TxnID", "qbo:1")["Subject"] == "Invoice 1037"


def test_a_catch_up_delivers_the_change_whose_webhook_was_missed(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    _company(qbo)
    first, _ = pipe.catch_up("acme")  # first load: every entity read whole
    assert set(first.full_loads) >= {"Customer", "Item", "Invoice"} and first.queued == 3
    assert pipe.one("Accounts", "QB_ListID", "qbo:1")["Phone"] == "555-0100"
    assert pipe.state.get_all("acme")[state_key("Customer")].watermark

    qbo.tick(3600)
    qbo.update("Customer", "1", PrimaryPhone={"FreeFormNumber": "555-0199"})  # no webhook
    queries = sum(1 for kind, _ in qbo.calls if kind == "query")
    report, drained = pipe.catch_up("acme")
    assert (report.full_loads, report.cdc_calls, report.queued) == ([], 1, 1)
    assert sum(1 for kind, _ in qbo.calls if kind == "query") == queries  # CDC only
    assert drained.outcomes["applied"] == 1
    assert pipe.one("Accounts", "QB_ListID", "qbo:1")["Phone"] == "555-0199"
    # Nothing changed since: the next catch-up queues nothing.
    assert pipe.catch_up("acme")[0].queued == 0


def test_deletions_and_merges_propagate(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    c, i, inv = _company(qbo)
    other = qbo.create("Invoice", **invoice(c["Id"], [i["Id"]], DocNumber="1038"))
    c2 = qbo.create("Customer", **customer(2))
    pipe.webhook(qbo)
    pipe.run()
    assert pipe.one("Invoices", "QB_TxnID", "qbo:2")["QB_Active"] is True

    qbo.delete("Invoice", inv["Id"])  # announced
    pipe.webhook(qbo, qbo.changes[-1:])
    qbo.merge("Customer", c["Id"], c2["Id"])  # announced, naming the merged customer
    pipe.webhook(qbo, qbo.changes[-1:])
    synced, drained = pipe.run()
    assert synced.deletions == 2 and drained.failed == 0
    assert pipe.one("Invoices", "QB_TxnID", "qbo:1")["QB_Active"] is False
    assert pipe.one("Accounts", "QB_ListID", "qbo:1")["QB_Active"] is False
    assert pipe.one("Contacts", "QB_ListID", "qbo:1")["QB_Active"] is False
    assert pipe.one("Accounts", "QB_ListID", "qbo:2")["QB_Active"] is True
    assert pipe.mappings.get("acme", "qbo", "Invoice", "qbo:1").status == "deleted"

    # A deletion nobody announced: change-data-capture reports it as status Deleted.
    pipe.cdc.run("acme", qbo)  # first catch-up: full loads set the watermarks
    drain(pipe.records, pipe.forwarder)
    qbo.delete("Invoice", other["Id"])
    report, _ = pipe.catch_up("acme")
    # The window's margin brings recent records again; only the deletion is new.
    assert report.cdc_calls == 1 and report.queued == 1
    assert pipe.one("Invoices", "QB_TxnID", "qbo:2")["QB_Active"] is False


def test_a_deactivated_customer_stays_in_zoho_as_inactive(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    _company(qbo)
    pipe.webhook(qbo)
    pipe.run()
    qbo.update("Customer", "1", Active=False, DisplayName="Customer 1 (deleted)")
    pipe.webhook(qbo, qbo.changes[-1:])
    pipe.run()
    account = pipe.one("Accounts", "QB_ListID", "qbo:1")
    assert account["QB_Active"] is False and account["Account_Name"] == "Customer 1"
    # A full re-load lists inactive customers too, so it does not take this one for deleted.
    pipe.state.reset("acme", [state_key("Customer")])
    report, _ = pipe.catch_up("acme")
    assert "Customer" in report.full_loads and report.swept == 0


def test_a_full_reload_finds_objects_deleted_while_nobody_watched(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    _, _, inv = _company(qbo)
    pipe.catch_up("acme")
    qbo.delete("Invoice", inv["Id"])
    qbo.tick(40 * 24 * 3600)  # past change-data-capture's 30 days: the window is gone
    report, drained = pipe.catch_up("acme")
    assert "Invoice" in report.full_loads and report.swept == 1 and report.cdc_calls == 0
    assert drained.failed == 0 and drained.outcomes["applied"] == 1
    assert pipe.one("Invoices", "QB_TxnID", "qbo:1")["QB_Active"] is False


def test_a_window_with_too_many_changes_is_split(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    qbo.cdc_cap = 4
    pipe.catch_up("acme")  # empty company: watermarks set
    qbo.tick(3600)
    for n in range(1, 8):
        qbo.create("Customer", **customer(n))
        qbo.tick(600)
    qbo.create("Item", **item(1))
    report, drained = pipe.catch_up("acme")
    assert report.cdc_calls > 2 and report.range_queries >= 1 and not report.full_loads
    assert drained.outcomes["applied"] == 8
    assert len(pipe.zoho.fake.all("Accounts")) == 7 and len(pipe.zoho.fake.all("Products")) == 1
    cdc_entities = [entities for kind, (entities, *_) in qbo.calls if kind == "cdc"]
    assert len(cdc_entities[1]) > 1 and ("Customer",) in cdc_entities  # entities split first


def test_qbo_and_desktop_records_of_one_tenant_coexist(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    _company(qbo)
    desktop = desktop_customer(1, list_id="80000001-1")
    pipe.records.send([QueueMessage("acme", message(desktop), "desktop-1")])
    pipe.webhook(qbo)
    pipe.run()
    accounts = pipe.zoho.fake.all("Accounts")
    assert sorted(a["QB_ListID"] for a in accounts) == ["80000001-1", "qbo:1"]
    assert pipe.mappings.get("acme", "qbd", "Customer", "80000001-1").status == "synced"
    assert pipe.mappings.get("acme", "qbo", "Customer", "qbo:1").status == "synced"


def test_one_realms_backlog_does_not_hold_up_another(pipe: Pipeline) -> None:
    big = pipe.company("111", "big")
    small = pipe.company("222", "small")
    for n in range(3 * NOTICES_PER_MESSAGE):
        big.create("Customer", **customer(n))
    pipe.webhook(big)  # three messages of the big realm first
    small.create("Customer", **customer(1))
    pipe.webhook(small)
    first = pipe.sync.drain(pipe.changes, batch_size=1, max_batches=2)
    assert first.realms_order == ["111", "222"]  # the small realm's first record: batch two
    assert {m.message.tenant for m in pipe.records.receive(1000)} == {"big", "small"}


def test_a_failing_realm_keeps_its_notices_and_others_go_on(pipe: Pipeline) -> None:
    broken, fine = pipe.company("111", "broken"), pipe.company("222", "fine")
    broken.create("Customer", **customer(1))
    fine.create("Customer", **customer(2))
    pipe.webhook(broken)
    pipe.webhook(fine)
    broken.fail_reads = RuntimeError("QBO unavailable")
    report = pipe.sync.drain(pipe.changes)
    assert set(report.failed_realms) == {"111"} and report.queued == 1
    assert pipe.changes.depth() == 1  # the broken realm's message waits for redelivery
    broken.fail_reads = None
    pipe.changes._clock = lambda: pipe.clock() + timedelta(minutes=10).total_seconds()
    assert pipe.sync.drain(pipe.changes).queued == 1 and pipe.changes.depth() == 0


def test_changes_of_an_unknown_realm_are_dropped(pipe: Pipeline) -> None:
    stray = InMemoryQbo("999", START)
    stray.create("Customer", **customer(1))
    pipe.webhook(stray)
    report = pipe.sync.drain(pipe.changes)
    assert report.unknown_realms == {"999"} and report.queued == 0
    assert pipe.changes.depth() == 0


def test_a_malformed_change_message_is_dropped_and_the_rest_synced(pipe: Pipeline) -> None:
    qbo = pipe.company("9130350", "acme")
    qbo.create("Customer", **customer(1))
    pipe.changes.send([QueuedChange("9130350", "not json", "bad")])
    pipe.webhook(qbo)
    report = pipe.sync.drain(pipe.changes)
    assert (report.malformed, report.queued) == (1, 1) and pipe.changes.depth() == 0
