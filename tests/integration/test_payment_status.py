"""Invoice payment status in ZOHO follows QuickBooks' own numbers through a payment's life.

End to end: the simulated company answers the fake Web Connector, which talks SOAP over HTTP on
127.0.0.1 to the relay; the forwarder drains the relay's queue into the fake ZOHO CRM, also on
127.0.0.1. After every step, every invoice QuickBooks holds is checked record by record: its ZOHO
Status must be the rule (``payment_status``) applied to QuickBooks' current balance remaining
and due date. The steps: a full payment, partial payments, a void, deletions, credit memos and an
old payment (and invoice) message delivered again after newer ones.

The simulator does not save an invoice when a payment or credit applied to it is voided,
deleted or added as a credit (no new TimeModified or EditSequence), and the company clock moves
past the relay's watermark margin between steps, so only the relay's re-read of the linked
invoices can bring their new balances.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lambdas.local.forwarder import DrainResult, build_local_forwarder, drain
from lambdas.local.server import RelayServer
from lambdas.local.wiring import LocalRelay, build_local
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from lambdas.qbwc.passwords import hash_password
from lambdas.store.ports import QueueMessage, Tenant
from lambdas.zoho.forwarder import ZohoForwarder
from lambdas.zoho.mapping import build_config, payment_status
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from tests.integration.zoho_helpers import ZohoEnv

TENANT = "paystat"
USER = "paystat-qbwc"
PASSWORD = "Payment-status-password-1"
ENTITIES = (
    "Item",
    "Customer",
    "Invoice",
    "ReceivePayment",
    "CreditMemo",
    "ListDeleted",
    "TxnDeleted",
)
# The forwarder's pinned clock: "today" for overdue, the same in every step.
FORWARDER_NOW = datetime(2025, 7, 15, 16, 0, tzinfo=UTC)
TODAY = FORWARDER_NOW.date()
PAST_DUE = TODAY - timedelta(days=10)
FUTURE_DUE = TODAY + timedelta(days=20)
# More than the tenant's watermark margin (2 h): a change query cannot see older records.
STEP = timedelta(hours=3)
CONFIG = build_config()
INVOICES = CONFIG.spec("Invoice")
assert INVOICES is not None and CONFIG.payment is not None
STATUS_FIELD = CONFIG.payment.status_field


@dataclass
class Books:
    """The relay, the forwarder, the company and the fake ZOHO of one test, and what was sent."""

    company: FakeCompany
    local: LocalRelay
    forwarder: ZohoForwarder
    zoho: ZohoEnv
    soap_url: str
    owner_id: str
    sent: list[dict[str, Any]] = field(default_factory=list)  # every queue message, in order

    def session(self) -> DrainResult:
        """One Web Connector update over HTTP, then the forwarder drains the queue."""
        qbwc = FakeWebConnector(self.soap_url, owner_id=self.owner_id)
        try:
            result = qbwc.run_session(USER, PASSWORD, self.company, max_exchanges=200)
        finally:
            qbwc.close()
        assert result.auth_status == "" and result.last_error is None, result.last_error
        assert result.percents[-1] == 100, result.percents
        depth = self.local.queue.depth()
        self.sent += [json.loads(body) for body in self.local.queue.peek(depth + 1)]
        return self.drain()

    def drain(self) -> DrainResult:
        drained = drain(self.local.queue, self.forwarder, max_batches=20)
        assert self.local.queue.depth() == 0
        problems = drained.outcomes["parked"] + drained.outcomes["retry"]
        assert problems == 0, drained.reasons
        return drained

    def later(self) -> None:
        """Time passes at the workstation, past the relay's watermark margin."""
        self.company.clock.advance(STEP)

    def messages(self, entity: str, source_id: str) -> list[dict[str, Any]]:
        """The queue messages sent for one record, oldest first."""
        return [m for m in self.sent if m["entity"] == entity and m["id"] == source_id]

    def invoice(self, customer: int, amount: str, due: date) -> str:
        data = self.company.data
        item = next(i for i in data.items.values() if i.sellable)
        return self.company.add(
            "Invoice",
            customer_id=list(data.customers)[customer],
            lines=[{"item_id": item.list_id, "quantity": 1, "rate": amount}],
            due_date=due,
        )

    def credit_memo(self, invoice_id: str, amount: str) -> str:
        data = self.company.data
        item = next(i for i in data.items.values() if i.sellable)
        return self.company.add(
            "CreditMemo",
            customer_id=data.txns["Invoice"][invoice_id].customer_id,
            lines=[{"item_id": item.list_id, "quantity": 1, "rate": amount}],
        )

    def edit_sequence(self, txn_id: str) -> str:
        return self.company.record("Invoice", txn_id).edit_sequence


def expected(company: FakeCompany) -> dict[str, str]:
    """What every current invoice's Status must be: the rule on QuickBooks' own numbers."""
    out = {}
    for txn_id, facts in company.snapshot("Invoice").records.items():
        assert facts.balance_remaining is not None
        numbers = {
            "balance_remaining": str(facts.balance_remaining),
            "due_date": facts.due_date.isoformat() if facts.due_date else None,
        }
        out[txn_id] = payment_status(numbers, TODAY)
    return out


def held(zoho: ZohoEnv) -> dict[str, str]:
    """ZOHO's Status of each invoice, by QuickBooks TxnID (one record per invoice)."""
    assert INVOICES is not None
    records = zoho.fake.all(INVOICES.module)
    ids = [r.get(INVOICES.id_field) for r in records]
    assert len(ids) == len(set(ids)), "an invoice is in ZOHO twice"
    return {str(r[INVOICES.id_field]): r.get(STATUS_FIELD) for r in records}


def check(books: Books) -> dict[str, str]:
    """Every invoice QuickBooks holds has the status QuickBooks' numbers give, record by record."""
    want, have = expected(books.company), held(books.zoho)
    wrong = {i: (have.get(i), s) for i, s in want.items() if have.get(i) != s}
    assert not wrong, f"ZOHO status != QuickBooks (held, expected): {wrong}"
    return want


@pytest.fixture
def books(tmp_path: Path, zoho: ZohoEnv) -> Iterator[Books]:
    data_dir = tmp_path / "relay"
    local = build_local(data_dir)
    local.tenants.create(
        Tenant(
            name=TENANT,
            qbwc_user=USER,
            password_hash=hash_password(PASSWORD),
            enabled_entities=ENTITIES,
        )
    )
    owner_id = local.tenants.deployment_owner_id()
    # Generated books: invoices partly paid, payments, unapplied credit memos; plus the test's.
    company = FakeCompany(
        customers=8, items=10, invoices=12, payments=6, credit_memos=2, seed=21, owner_id=owner_id
    )
    company.file_id = local.tenants.ensure_file_id(TENANT)
    forwarder = build_local_forwarder(
        local.db, data_dir, zoho.factory(), clock=FORWARDER_NOW.timestamp
    )
    server = RelayServer(
        RelayWsgiApp(local.endpoint, tenants=local.tenants, state=local.state), "127.0.0.1", 0
    ).start_in_thread()
    try:
        yield Books(company, local, forwarder, zoho, server.url + SOAP_PATH, owner_id)
    finally:
        server.stop()


def test_status_follows_quickbooks_through_a_payments_life(books: Books) -> None:
    company = books.company
    future = books.invoice(0, "100.00", FUTURE_DUE)  # paid in full, then the payment voided
    overdue = books.invoice(1, "80.00", PAST_DUE)  # paid in part, then that payment deleted
    pending = books.invoice(2, "60.00", FUTURE_DUE)  # paid in part
    deleted = books.invoice(3, "50.00", PAST_DUE)  # paid in full, then that payment deleted
    credited = books.invoice(4, "90.00", FUTURE_DUE)  # credit memos
    late = books.invoice(5, "70.00", PAST_DUE)  # its payment's messages come again, late
    books.session()
    want = check(books)
    assert {want[i] for i in (future, pending, credited)} == {"Pending"}
    assert {want[i] for i in (overdue, deleted, late)} == {"Overdue"}
    assert len(want) == 12 + 6  # generated and added invoices, all checked

    # 1. A full payment: Paid.
    books.later()
    full = company.add("ReceivePayment", applied={future: "100.00"})
    books.session()
    assert check(books)[future] == "Paid"

    # 2. Partial payments (one with money left unapplied): Overdue past due, else Pending.
    books.later()
    part = company.add("ReceivePayment", applied={overdue: "30.00"}, payment_total="45.00")
    company.add("ReceivePayment", applied={pending: "59.99"})
    books.session()
    want = check(books)
    assert (want[overdue], want[pending]) == ("Overdue", "Pending")

    # 3. The full payment is voided: it comes with no applied transactions; the invoice,
    #    unsaved in QuickBooks, is read again by id and is owed again.
    books.later()
    before = books.edit_sequence(future)
    company.void("ReceivePayment", full)
    books.session()
    assert books.edit_sequence(future) == before
    assert books.messages("Invoice", future)[-1]["record"]["balance_remaining"] == "100.00"
    assert check(books)[future] == "Pending"

    # 4. Deleted payments (TxnDeleted of a ReceivePayment): the invoices are owed again.
    books.later()
    paid_then_deleted = company.add("ReceivePayment", applied={deleted: "50.00"})
    books.session()
    assert check(books)[deleted] == "Paid"
    books.later()
    before = books.edit_sequence(deleted)
    company.delete("ReceivePayment", paid_then_deleted)
    company.delete("ReceivePayment", part)
    books.session()
    assert books.edit_sequence(deleted) == before
    want = check(books)
    assert (want[deleted], want[overdue]) == ("Overdue", "Overdue")
    assert company.snapshot("Invoice").records[overdue].balance_remaining == 80

    # 5. Credit memos applied: Pending while something is owed, Paid once nothing is.
    books.later()
    first = books.credit_memo(credited, "40.00")
    company.apply_credit(first, {credited: "40.00"})
    books.session()
    assert check(books)[credited] == "Pending"
    books.later()
    second = books.credit_memo(credited, "75.00")  # more credit than the invoice still owes
    company.apply_credit(second, {credited: "50.00"})
    books.session()
    assert check(books)[credited] == "Paid"
    # ...and a voided credit memo gives the invoice its balance back.
    books.later()
    company.void("CreditMemo", second)
    books.session()
    assert check(books)[credited] == "Pending"

    # 6. Out of order: a payment, then its void; then the payment's first message, and the
    #    invoice message of the same EditSequence that said Paid, are delivered again.
    books.later()
    payment = company.add("ReceivePayment", applied={late: "70.00"})
    books.session()
    assert check(books)[late] == "Paid"
    books.later()
    company.void("ReceivePayment", payment)
    books.session()
    assert check(books)[late] == "Overdue"
    paid_invoice = next(
        m for m in books.messages("Invoice", late) if m["record"]["balance_remaining"] == "0.00"
    )
    assert paid_invoice["version"] == books.edit_sequence(late)  # the same QuickBooks version
    old = [books.messages("ReceivePayment", payment)[0], paid_invoice]
    books.local.queue.send(
        [
            QueueMessage(tenant=TENANT, body=json.dumps(m), dedup_id=f"again-{i}")
            for i, m in enumerate(old)
        ]
    )
    redelivered = books.drain()
    assert redelivered.messages == 2 and redelivered.outcomes["stale"] == 2
    assert check(books)[late] == "Overdue"
    # The later read already in ZOHO wins by its read time; the next update writes nothing.
    books.later()
    again = books.session()
    assert again.outcomes["applied"] == 0 and again.messages == 0
    check(books)
