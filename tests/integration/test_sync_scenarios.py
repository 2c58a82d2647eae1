"""Full syncs of a large simulated company through the relay core, with the failures that
happen in the field: an abandoned update, the relay stopped between hand-off and checkpoint,
changes, deletions. The consumer's end state must equal the company's."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest

from lambdas.local.wiring import LocalRelay, build_local
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import QbwcRelay, RelaySettings
from lambdas.store.ports import Tenant
from sim.company_data import InUseError
from sim.fake_company import FakeCompany

PASSWORD = "Scenario-password-1"
ENTITIES = ("Item", "Customer", "Invoice", "ReceivePayment", "ListDeleted", "TxnDeleted")
TTL = RelaySettings().session_ttl_seconds


class Consumer:
    """Applies queue messages like the forwarder: idempotent, newer versions win."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict] = {}
        self.deliveries: Counter[tuple[str, str]] = Counter()

    def drain(self, local: LocalRelay) -> int:
        applied = 0
        while batch := local.queue.receive(10):
            for m in batch:
                self.apply(json.loads(m.message.body)["record"])
                applied += 1
            local.queue.delete([m.receipt for m in batch])
        return applied

    def apply(self, record: dict) -> None:
        if record["entity"] == "ListDeleted":
            self.records.pop((record["list_del_type"], record["list_id"]), None)
            return
        if record["entity"] == "TxnDeleted":
            self.records.pop((record["txn_del_type"], record["txn_id"]), None)
            return
        key = (record["entity"], record.get("list_id") or record["txn_id"])
        self.deliveries[key] += 1
        held = self.records.get(key)
        if held is None or int(held["edit_sequence"]) <= int(record["edit_sequence"]):
            self.records[key] = record

    def state(self, entity: str) -> dict[str, str]:
        return {i: r["edit_sequence"] for (e, i), r in self.records.items() if e == entity}


class Relay:
    """The relay over one data dir, with a clock the test moves (sessions expire)."""

    def __init__(self, data_dir: Path) -> None:
        self.now = time.time()
        self.data_dir = data_dir
        self.restart()

    def restart(self) -> None:
        self.local = build_local(self.data_dir)
        self.local.relay = QbwcRelay(
            self.local.tenants,
            self.local.sessions,
            self.local.engine,
            self.local.runs,
            clock=lambda: self.now,
        )

    def session(self, company: FakeCompany, stop_after: int | None = None) -> int:
        """One update; ``stop_after`` exchanges then the Web Connector vanishes. Exchanges."""
        relay = self.local.relay
        ticket, status = relay.authenticate("shop-qbwc", PASSWORD)
        assert status == "", status
        owner = self.local.tenants.deployment_owner_id()
        exchanges, percent = 0, 0
        try:
            while 0 <= percent < 100:
                if stop_after is not None and exchanges == stop_after:
                    return exchanges
                hcp = company.hcp_response(owner) if exchanges == 0 else ""
                request = relay.send_request_xml(ticket, hcp, "", "US", 13, 0)
                assert request, relay.get_last_error(ticket)
                exchanges += 1
                percent = relay.receive_response_xml(ticket, company.process(request), "", "")
            assert percent == 100, relay.get_last_error(ticket)
            relay.close_connection(ticket)
            return exchanges
        finally:
            company.end_session()


def check_end_state(consumer: Consumer, company: FakeCompany) -> None:
    """Every current record is there once, with QuickBooks' content; deleted ones are gone.

    EditSequences are not compared: a record saved without a content change keeps the version
    the consumer has, on purpose (unchanged content costs nothing downstream).
    """
    for entity in ("Item", "Customer", "Invoice", "ReceivePayment"):
        facts = company.snapshot(entity).records
        held = {i: r for (e, i), r in consumer.records.items() if e == entity}
        assert set(held) == set(facts), entity
        for list_id, f in facts.items():
            record = held[list_id]
            assert record.get("full_name", f.name) == f.name, (entity, list_id)
            assert record.get("ref_number", f.ref_number) == f.ref_number, (entity, list_id)
            assert record.get("is_active", f.is_active) == f.is_active, (entity, list_id)


def delete_one_unused(company: FakeCompany, candidates: list[str]) -> str:
    """Delete the first customer QuickBooks lets go (no transactions, no jobs)."""
    for list_id in candidates:
        try:
            company.delete("Customer", list_id)
        except InUseError:
            continue
        return list_id
    raise AssertionError("every customer is in use")


@pytest.fixture
def relay(tmp_path: Path) -> Relay:
    relay = Relay(tmp_path / "data")
    relay.local.tenants.create(
        Tenant(
            name="shop",
            qbwc_user="shop-qbwc",
            password_hash=hash_password(PASSWORD),
            enabled_entities=ENTITIES,
        )
    )
    return relay


def test_large_company_survives_abandon_and_crash_then_stays_in_step(relay, monkeypatch) -> None:
    company = FakeCompany(customers=10_000, items=100, invoices=5_000, payments=1_000, seed=3)
    consumer = Consumer()
    # 1. The Web Connector is killed after five exchanges.
    relay.session(company, stop_after=5)
    consumer.drain(relay.local)
    # 2. The next update (once the dead one's lease ran out) loses the relay process right
    #    after a hand-off, before the session is saved.
    relay.now += TTL + 1
    saves = Counter()
    real_save = relay.local.sessions.save

    def save(record):
        saves["n"] += 1
        if saves["n"] == 6:
            raise SystemExit("relay process stopped")
        real_save(record)

    monkeypatch.setattr(relay.local.sessions, "save", save)
    with pytest.raises(SystemExit):
        relay.session(company)
    monkeypatch.undo()
    consumer.drain(relay.local)
    # 3. A restarted relay, a later update: it completes and nothing is missing.
    relay.restart()
    relay.now += TTL + 1
    relay.session(company)
    consumer.drain(relay.local)
    check_end_state(consumer, company)
    # Pages re-read after the failures were recognised as unchanged: each record came once.
    assert set(consumer.deliveries.values()) == {1}
    # 4. Changes in QuickBooks: one customer renamed, one without transactions deleted, one
    #    invoice added; one customer saved unchanged.
    ids = list(company.snapshot("Customer").records)
    renamed, saved = ids[0], ids[1]
    company.modify("Customer", renamed, name="Renamed & Sons")
    company.modify("Customer", saved)
    removed = delete_one_unused(company, ids[2:])
    new_invoice = company.add("Invoice", customer_id=renamed)
    relay.now += 3600
    exchanges = relay.session(company)
    assert exchanges == 1  # every entity's changes in one message set
    queued = relay.local.runs.recent("shop")[0].entities
    assert queued["Customer"].queued == 1  # the renamed one; the unchanged save is held back
    assert queued["Invoice"].queued == 1 and queued["ListDeleted"].queued == 1
    consumer.drain(relay.local)
    check_end_state(consumer, company)
    assert ("Customer", removed) not in consumer.records
    assert consumer.records[("Invoice", new_invoice)]["customer"]["list_id"] == renamed
    # 5. Nothing changed: nothing queued at all.
    relay.now += 3600
    relay.session(company)
    assert sum(c.queued for c in relay.local.runs.recent("shop")[0].entities.values()) == 0
