"""Desktop write-back over real HTTP: operations in the store become QuickBooks customers and
invoices in the fake company through the fake Web Connector and the relay, each applied once,
also when the Web Connector dies after QuickBooks applied a write (error recovery, and the
query path when QuickBooks kept no status)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import datetime

import pytest

from lambdas.local.server import RelayServer
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from lambdas.qbwc.passwords import hash_password
from lambdas.store.ports import Tenant
from lambdas.writeback.model import (
    ACCOUNTS,
    ADD,
    CUSTOMER,
    DEALS,
    INVOICE,
    MOD,
    Conflict,
    OpStatus,
    WriteOp,
    op_id,
)
from sim.company_clock import QB_TZ
from sim.company_xml import rs
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from tests.conftest import PASSWORD

_seq = itertools.count(int(time.time() * 1e6))
VERSION = "2024-05-01T10:00:00+00:00"


@pytest.fixture
def writer_tenant(local) -> Tenant:
    t = Tenant(
        name="acme",
        qbwc_user="acme-qbwc",
        password_hash=hash_password(PASSWORD),
        enabled_entities=("Customer", "Invoice"),
        writeback=True,
        invoice_item="",
    )
    local.tenants.create(t)
    return t


class Rig:
    """The relay served on loopback, the fake Web Connector, and the requests QuickBooks saw."""

    def __init__(self, local, company: FakeCompany) -> None:
        self.local = local
        self.company = company
        self.requests: list[str] = []
        self.offset = 0.0
        process = company.process

        def recorded(request: str) -> str:
            self.requests.append(request)
            return process(request)

        company.process = recorded  # type: ignore[method-assign]
        self.server = RelayServer(RelayWsgiApp(local.endpoint), "127.0.0.1", 0, threads=2)
        self.server.start_in_thread()
        self.qbwc = FakeWebConnector(self.server.url + SOAP_PATH)
        local.relay.clock = lambda: time.time() + self.offset

    def session(self, **kwargs):
        # Each session after an abandoned one starts once the abandoned one's lease is over.
        self.offset += 3600
        self.requests.clear()
        return self.qbwc.run_session("acme-qbwc", PASSWORD, self.company, **kwargs)

    def close(self) -> None:
        self.qbwc.close()
        self.server.stop()

    def sent(self, tag: str) -> int:
        return sum(r.count(f"<{tag} ") for r in self.requests)


@pytest.fixture
def make_rig(local, writer_tenant) -> Iterator:
    rigs: list[Rig] = []

    def make(company: FakeCompany) -> Rig:
        rigs.append(Rig(local, company))
        return rigs[-1]

    yield make
    for rig in rigs:
        rig.close()


def account(zoho_id: str, name: str, **fields: str) -> WriteOp:
    return WriteOp(
        tenant="acme",
        op_id=op_id(ACCOUNTS, zoho_id, VERSION),
        seq=next(_seq),
        kind=CUSTOMER,
        action=ADD,
        edition="qbd",
        zoho_module=ACCOUNTS,
        zoho_id=zoho_id,
        zoho_version=VERSION,
        fields={"name": name, **fields},
    )


def deal(zoho_id: str, account_id: str, depends_on: str = "", **fields) -> WriteOp:
    return WriteOp(
        tenant="acme",
        op_id=op_id(DEALS, zoho_id, "invoice"),
        seq=next(_seq),
        kind=INVOICE,
        action=ADD,
        edition="qbd",
        zoho_module=DEALS,
        zoho_id=zoho_id,
        zoho_version=VERSION,
        customer_zoho_id=account_id,
        depends_on=depends_on,
        fields={"txn_date": "2024-05-02", "memo": "Big deal", **fields},
    )


def named(company: FakeCompany, name: str) -> list:
    return [c for c in company.data.customers.values() if c.name == name]


def invoices_of(company: FakeCompany, list_id: str) -> list:
    return [t for t in company.data.txns["Invoice"].values() if t.customer_id == list_id]


def queued(local) -> list[dict]:
    return [json.loads(body) for body in local.queue.peek(1000)]


def test_a_new_account_becomes_one_customer_and_is_not_sent_again(local, make_rig) -> None:
    rig = make_rig(FakeCompany(customers=3, seed=2))
    op = account(
        "z-1",
        "Northwind Traders",
        phone="555-0101",
        **{"bill_address.street": "Suite 4, 12 Harbour Road", "bill_address.city": "Oslo"},
    )
    local.writeback.enqueue(op)
    result = rig.session()
    assert result.percents[-1] == 100 and result.last_error is None
    (customer,) = named(rig.company, "Northwind Traders")
    assert customer.phone == "555-0101"
    assert (customer.bill_address.addr1, customer.bill_address.addr2) == (
        "Suite 4",
        "12 Harbour Road",
    )
    stored = local.writeback.get("acme", op.op_id)
    assert stored.status == OpStatus.APPLIED and stored.qb_id == customer.list_id
    assert stored.result_version == customer.edit_sequence and not stored.linked
    messages = queued(local)
    linked = [m for m in messages if m.get("link") == "Accounts/z-1"]
    assert [m["id"] for m in linked] == [customer.list_id]
    updates = [m for m in messages if m["entity"] == "ZohoUpdate"]
    assert updates and updates[0]["record"]["fields"]["QB_Sync_Status"] == "Synced"
    depth = local.queue.depth()
    again = rig.session()
    assert again.percents[-1] == 100
    assert rig.sent("CustomerAddRq") == 0 and len(named(rig.company, "Northwind Traders")) == 1
    # The read of the same EditSequence is recognised as handed off: no echo.
    assert local.queue.depth() == depth


def test_an_edit_flows_as_a_customer_mod(local, make_rig) -> None:
    rig = make_rig(FakeCompany(customers=3, seed=2))
    customer = next(iter(rig.company.data.customers.values()))
    base = {"name": customer.name, "phone": customer.phone or ""}
    op = account("z-2", customer.name, phone="555-0199").with_(
        action=MOD, qb_id=customer.list_id, qb_version=customer.edit_sequence, base=base
    )
    local.writeback.enqueue(op)
    rig.session()
    assert rig.sent("CustomerModRq") == 1 and rig.sent("CustomerAddRq") == 0
    assert rig.company.data.customers[customer.list_id].phone == "555-0199"
    stored = local.writeback.get("acme", op.op_id)
    assert stored.status == OpStatus.APPLIED and stored.result_version == customer.edit_sequence


def test_a_name_collision_links_the_existing_customer(local, make_rig) -> None:
    rig = make_rig(FakeCompany(customers=3, seed=2))
    existing = next(iter(rig.company.data.customers.values()))
    count = len(rig.company.data.customers)
    op = account("z-3", existing.name, phone="555-0123")
    local.writeback.enqueue(op)
    rig.session()
    assert len(rig.company.data.customers) == count
    stored = local.writeback.get("acme", op.op_id)
    assert stored.status == OpStatus.APPLIED and stored.linked and stored.qb_id == existing.list_id
    linked = [m for m in queued(local) if m.get("link") == "Accounts/z-3"]
    assert [m["id"] for m in linked] == [existing.list_id]


def test_a_conflict_keeps_quickbooks_value_by_default(local, make_rig) -> None:
    rig = make_rig(FakeCompany(customers=3, seed=2))
    customer = next(iter(rig.company.data.customers.values()))
    base = {"name": customer.name, "phone": "555-0000", "email": customer.email or ""}
    rig.company.modify("Customer", customer.list_id, phone="555-0000")
    synced = customer.edit_sequence
    # Meanwhile in QuickBooks the phone changes; in ZOHO the phone and the email.
    rig.company.clock.advance(minutes=5)
    rig.company.modify("Customer", customer.list_id, phone="555-1111")
    op = account("z-4", customer.name, phone="555-2222", email="new@example.com").with_(
        action=MOD, qb_id=customer.list_id, qb_version=synced, base=base
    )
    local.writeback.enqueue(op)
    rig.session()
    now = rig.company.data.customers[customer.list_id]
    assert now.phone == "555-1111" and now.email == "new@example.com"
    stored = local.writeback.get("acme", op.op_id)
    assert stored.status == OpStatus.APPLIED
    assert stored.conflicts == (Conflict("phone", "555-1111", "555-2222", "qb"),)
    assert rig.sent("CustomerModRq") == 2  # the stale one, then the resolved retry


def _items_company(**kwargs) -> FakeCompany:
    # The workstation clock is today's, as a verification by modified date needs.
    start = datetime.now(QB_TZ).replace(tzinfo=None, microsecond=0)
    return FakeCompany(customers=3, items=6, seed=2, clock_start=start, **kwargs)


def _item(company: FakeCompany) -> str:
    return next(i.name for i in company.data.items.values() if i.sellable)


def test_a_won_deal_becomes_exactly_one_invoice(local, make_rig) -> None:
    rig = make_rig(_items_company())
    customer_op = account("z-5", "Fabrikam Inc")
    invoice_op = deal(
        "d-5",
        "z-5",
        depends_on=customer_op.op_id,
        lines=[{"item": _item(rig.company), "quantity": "2", "rate": "150.00"}],
    )
    local.writeback.enqueue(customer_op)
    local.writeback.enqueue(invoice_op)
    rig.session()
    (customer,) = named(rig.company, "Fabrikam Inc")
    (invoice,) = invoices_of(rig.company, customer.list_id)
    assert invoice_op.op_id in invoice.memo and invoice.total == 300
    stored = local.writeback.get("acme", invoice_op.op_id)
    assert stored.status == OpStatus.APPLIED and stored.qb_id == invoice.txn_id
    assert stored.ref_number == invoice.ref_number
    update = next(
        m for m in queued(local) if m["entity"] == "ZohoUpdate" and m["id"] == "Deals:d-5"
    )
    assert update["record"]["fields"]["QB_TxnID"] == invoice.txn_id
    # The deal saved again: the same operation id, never a second invoice.
    assert not local.writeback.enqueue(deal("d-5", "z-5"))
    rig.session()
    assert len(invoices_of(rig.company, customer.list_id)) == 1


@pytest.mark.parametrize("keeps_status", [True, False], ids=["recovery", "query"])
def test_a_lost_answer_is_reconciled_without_duplicates(local, make_rig, keeps_status) -> None:
    rig = make_rig(_items_company(keeps_message_sets=keeps_status))
    customer_op = account("z-6", "Contoso Ltd")
    line = {"item": _item(rig.company), "quantity": "1", "rate": "99.50"}
    invoice_op = deal("d-6", "z-6", depends_on=customer_op.op_id, lines=[line])
    local.writeback.enqueue(customer_op)
    local.writeback.enqueue(invoice_op)
    # QuickBooks adds the customer; the Web Connector dies before posting the answer.
    lost = rig.session(lose_response_at=1)
    assert lost.abandoned and len(named(rig.company, "Contoso Ltd")) == 1
    assert local.writeback.get("acme", customer_op.op_id).status == OpStatus.SENT
    # The next session reconciles, sends the invoice, and loses that answer too.
    # recovery, clearing, (the query finding the customer,) the invoice
    steps = 3 if keeps_status else 4
    rig.session(lose_response_at=steps)
    assert rig.sent("CustomerAddRq") == 0 and rig.sent("InvoiceAddRq") == 1
    recovery = [r for r in rig.requests if 'oldMessageSetID="' in r]
    assert len(recovery) == 2  # the saved status asked for, then cleared
    # Without a saved status, a query by name finds the customer before anything is re-added.
    verified = sum(r.count('<CustomerQueryRq requestID="q-') for r in rig.requests)
    assert verified == (0 if keeps_status else 1)
    (customer,) = named(rig.company, "Contoso Ltd")
    assert local.writeback.get("acme", customer_op.op_id).status == OpStatus.APPLIED
    assert len(invoices_of(rig.company, customer.list_id)) == 1
    assert local.writeback.get("acme", invoice_op.op_id).status == OpStatus.SENT
    final = rig.session()
    assert final.percents[-1] == 100
    assert len(named(rig.company, "Contoso Ltd")) == 1
    (invoice,) = invoices_of(rig.company, customer.list_id)
    stored = local.writeback.get("acme", invoice_op.op_id)
    assert stored.status == OpStatus.APPLIED and stored.qb_id == invoice.txn_id
    assert rig.sent("InvoiceAddRq") == 0 and rig.sent("CustomerAddRq") == 0
    verified = sum(r.count('<InvoiceQueryRq requestID="q-') for r in rig.requests)
    assert verified == (0 if keeps_status else 1)
    linked = [m for m in queued(local) if m.get("link") == "Accounts/z-6"]
    assert [m["id"] for m in linked] == [customer.list_id]


def test_open_writes_alone_open_a_session_and_nothing_to_write_is_none(local, make_rig) -> None:
    rig = make_rig(FakeCompany(customers=2, seed=2))
    tenant = local.tenants.get("acme")
    tenant.enabled_entities = ()
    local.tenants.update(tenant)
    assert rig.session().auth_status == "none"
    local.writeback.enqueue(account("z-7", "Only Writes Ltd"))
    result = rig.session()
    assert result.auth_status != "none" and result.percents == [100]
    assert rig.sent("CustomerAddRq") == 1 and rig.sent("CustomerQueryRq") == 0
    tenant.writeback = False
    local.tenants.update(tenant)
    local.writeback.enqueue(account("z-8", "Not Written Ltd"))
    assert rig.session().auth_status == "none" and not named(rig.company, "Not Written Ltd")


def test_refusals_reach_zoho_and_locked_records_wait_for_the_next_session(local, make_rig) -> None:
    rig = make_rig(_items_company())
    customer = next(iter(rig.company.data.customers.values()))
    # The invoice's account is known through its applied customer operation.
    applied = account("z-9", customer.name).with_(qb_id=customer.list_id)
    local.writeback.enqueue(applied)
    local.writeback.mark("acme", applied.op_id, [OpStatus.PENDING], OpStatus.APPLIED)
    bad = deal("d-9", "z-9", lines=[{"item": "No Such Item", "quantity": "1", "rate": "5"}])
    local.writeback.enqueue(bad)
    locked = account("z-10", "Locked Ltd")
    local.writeback.enqueue(locked)
    message = "The record is in use by another user (simulated)."
    # QuickBooks refuses the CustomerAdd with 3175 (record in use), applying nothing.
    rig.company._handlers["CustomerAddRq"] = lambda rq, rid: (
        rs("CustomerAddRs", rid, 3175, message),
        3175,
    )
    rig.session()
    stored = local.writeback.get("acme", bad.op_id)
    assert stored.status == OpStatus.NOT_APPLIED and stored.error_code == "3140"
    assert "No Such Item" in stored.error
    update = next(m for m in queued(local) if m["id"] == "Deals:d-9")
    assert update["record"]["fields"]["QB_Sync_Status"] == "Failed"
    waiting = local.writeback.get("acme", locked.op_id)
    assert waiting.status == OpStatus.PENDING and waiting.attempts == 1
    assert waiting.error_code == "3175"


def test_an_operation_superseded_while_the_session_runs_is_sent_as_superseded(
    local, make_rig
) -> None:
    rig = make_rig(_items_company())
    customer_op = account("z-11", "Tailspin Toys")
    item = _item(rig.company)
    first = [{"item": item, "quantity": "1", "rate": "10.00"}]
    invoice_op = deal("d-11", "z-11", depends_on=customer_op.op_id, lines=first)
    local.writeback.enqueue(customer_op)
    local.writeback.enqueue(invoice_op)
    process = rig.company.process

    def capture_meanwhile(request: str) -> str:
        # The capture sees the deal again while QuickBooks adds its customer.
        if "CustomerAddRq" in request:
            pending = local.writeback.get("acme", invoice_op.op_id)
            local.writeback.supersede(
                "acme",
                invoice_op.op_id,
                pending.rev,
                fields={**pending.fields, "lines": [{**first[0], "rate": "12.00"}]},
                zoho_version="2024-05-01T11:00:00+00:00",
                base={},
            )
        return process(request)

    rig.company.process = capture_meanwhile  # type: ignore[method-assign]
    rig.session()
    (customer,) = named(rig.company, "Tailspin Toys")
    (invoice,) = invoices_of(rig.company, customer.list_id)
    assert invoice.total == 12
    stored = local.writeback.get("acme", invoice_op.op_id)
    assert stored.status == OpStatus.APPLIED and stored.rev == 1


def test_an_edit_behind_an_add_that_was_refused_adds_the_customer_itself(local, make_rig) -> None:
    rig = make_rig(FakeCompany(customers=3, seed=2))
    refused = account("z-9", "Bad:Name")
    local.writeback.enqueue(refused)
    local.writeback.mark("acme", refused.op_id, [OpStatus.PENDING], OpStatus.SENT)
    # Captured while the Add was unanswered: a MOD of the customer the Add would make.
    fix = account("z-9", "Good Name").with_(
        op_id="wb-a-fix", action=MOD, depends_on=refused.op_id, base={"name": "Bad:Name"}
    )
    local.writeback.enqueue(fix)
    local.writeback.mark(
        "acme", refused.op_id, [OpStatus.SENT], OpStatus.NOT_APPLIED, error="refused"
    )
    rig.session()
    (customer,) = named(rig.company, "Good Name")
    stored = local.writeback.get("acme", fix.op_id)
    assert stored.status == OpStatus.APPLIED and stored.qb_id == customer.list_id
    assert rig.sent("CustomerAddRq") == 1 and rig.sent("CustomerModRq") == 0
    linked = [m for m in queued(local) if m.get("link") == "Accounts/z-9"]
    assert [m["id"] for m in linked] == [customer.list_id]
