"""The simulated company's payment life cycle: partial payments, voids, deletions, credits.

Voiding or deleting a payment (or credit memo) gives its invoices their balances back without
saving them, the pessimistic reading of QuickBooks Desktop: a consumer has to read the invoices
again, because their TimeModified and EditSequence say nothing changed. Every answer is checked
against Intuit's 13.0 schema as well.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from lxml import etree

from sim.company_records import ZERO
from sim.fake_company import FakeCompany, SimulatorGap
from tests.sim_requests import assert_valid, el, load_schema, message_set, one, rets, rq


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return load_schema()


@pytest.fixture
def company() -> FakeCompany:
    """Customers and items but no generated transactions: each test makes its own."""
    books = FakeCompany(customers=4, items=6, seed=9)
    books.clock.set(datetime(2025, 7, 1, 9, 0))
    return books


def _invoice(company: FakeCompany, customer: int = 0, rate: str = "100.00") -> str:
    customer_id = list(company.data.customers)[customer]
    item = next(i for i in company.data.items.values() if i.sellable)
    return company.add(
        "Invoice",
        customer_id=customer_id,
        lines=[{"item_id": item.list_id, "quantity": 1, "rate": rate}],
    )


def _credit_memo(company: FakeCompany, customer_id: str, rate: str) -> str:
    item = next(i for i in company.data.items.values() if i.sellable)
    return company.add(
        "CreditMemo",
        customer_id=customer_id,
        lines=[{"item_id": item.list_id, "quantity": 1, "rate": rate}],
    )


def _query(company: FakeCompany, kind: str, txn_id: str, linked: bool = True) -> etree._Element:
    children = [el("TxnID", txn_id), el("IncludeLineItems", "true")]
    if linked:
        children.append(el("IncludeLinkedTxns", "true"))
    (ret,) = rets(one(company, rq(f"{kind}QueryRq", *children)))
    return ret


def _stamp(company: FakeCompany, txn_id: str) -> tuple[str, datetime]:
    txn = company.data.find_txn(txn_id)
    assert txn is not None
    return txn.edit_sequence, txn.time_modified


def test_partial_payment_leaves_the_rest_owed(company) -> None:
    invoice = _invoice(company)
    company.clock.advance(hours=1)
    payment = company.add("ReceivePayment", applied={invoice: "40.00"}, payment_total="50.00")
    facts = company.snapshot("Invoice").records[invoice]
    assert facts.balance_remaining == Decimal("60.00") and facts.is_paid is False
    ret = _query(company, "ReceivePayment", payment, linked=False)
    assert ret.findtext("TotalAmount") == "50.00" and ret.findtext("UnusedPayment") == "10.00"
    (applied,) = ret.findall("AppliedToTxnRet")
    assert applied.findtext("Amount") == "40.00"
    assert applied.findtext("BalanceRemaining") == "60.00"
    customer = company.data.customers[company.data.txns["Invoice"][invoice].customer_id]
    assert customer.balance == Decimal("50.00")  # 60 owed less 10 unused


def test_void_payment_keeps_the_record_and_reopens_its_invoices_unsaved(company) -> None:
    first, second = _invoice(company), _invoice(company, rate="30.00")
    company.clock.advance(hours=1)
    payment = company.add("ReceivePayment", applied={first: "100.00", second: "30.00"})
    assert company.snapshot("Invoice").records[first].is_paid
    invoice_stamps = {i: _stamp(company, i) for i in (first, second)}
    before = _stamp(company, payment)
    company.clock.advance(hours=1)
    new_sequence = company.void("ReceivePayment", payment)
    # The payment is still there, saved now, with nothing left on it.
    sequence, modified = _stamp(company, payment)
    assert sequence == new_sequence != before[0] and modified > before[1]
    ret = _query(company, "ReceivePayment", payment, linked=False)
    assert ret.findtext("TotalAmount") == "0.00" and ret.findtext("UnusedPayment") == "0.00"
    assert ret.findall("AppliedToTxnRet") == []
    assert (ret.findtext("Memo") or "").startswith("VOID:")
    # The invoices are owed again, but their TimeModified and EditSequence did not move.
    facts = company.snapshot("Invoice").records
    assert facts[first].balance_remaining == Decimal("100.00") and not facts[first].is_paid
    assert facts[second].balance_remaining == Decimal("30.00")
    assert {i: _stamp(company, i) for i in (first, second)} == invoice_stamps
    invoice = _query(company, "Invoice", first)
    assert invoice.findtext("IsPaid") == "false" and invoice.findall("LinkedTxn") == []
    customer = company.data.customers[company.data.txns["Invoice"][first].customer_id]
    assert customer.balance == Decimal("130.00")
    assert company.snapshot("ReceivePayment").deleted == {}


def test_deleted_payment_reopens_its_invoice_unsaved(company) -> None:
    invoice = _invoice(company)
    company.clock.advance(hours=1)
    payment = company.add("ReceivePayment", applied={invoice: "100.00"})
    stamp = _stamp(company, invoice)
    company.clock.advance(hours=1)
    company.delete("ReceivePayment", payment)
    facts = company.snapshot("Invoice").records[invoice]
    assert facts.balance_remaining == Decimal("100.00") and not facts.is_paid
    assert _stamp(company, invoice) == stamp
    assert payment in company.snapshot("ReceivePayment").deleted
    (entry,) = rets(one(company, rq("TxnDeletedQueryRq", el("TxnDelType", "ReceivePayment"))))
    assert entry.findtext("TxnID") == payment
    assert entry.findtext("TimeDeleted") == "2025-07-01T11:00:00-05:00"
    assert _query(company, "Invoice", invoice).findall("LinkedTxn") == []


def test_credit_memo_applied_to_an_invoice_is_linked_both_ways(company) -> None:
    invoice = _invoice(company)
    customer_id = company.data.txns["Invoice"][invoice].customer_id
    memo = _credit_memo(company, customer_id, "70.00")
    stamp, memo_before = _stamp(company, invoice), _stamp(company, memo)
    company.clock.advance(hours=1)
    company.apply_credit(memo, {invoice: "25.00"})
    # Only the credit memo is saved; the invoice owes less but is not stamped.
    assert _stamp(company, invoice) == stamp and _stamp(company, memo) != memo_before
    facts = company.snapshot("Invoice").records[invoice]
    assert facts.balance_remaining == Decimal("75.00")
    memo_ret = _query(company, "CreditMemo", memo)
    assert memo_ret.findtext("TotalAmount") == "70.00"
    assert memo_ret.findtext("CreditRemaining") == "45.00"
    (link,) = memo_ret.findall("LinkedTxn")
    assert (link.findtext("TxnID"), link.findtext("TxnType")) == (invoice, "Invoice")
    assert link.findtext("Amount") == "-25.00"
    invoice_ret = _query(company, "Invoice", invoice)
    (link,) = invoice_ret.findall("LinkedTxn")
    assert (link.findtext("TxnID"), link.findtext("TxnType")) == (memo, "CreditMemo")
    assert invoice_ret.findtext("AppliedAmount") == "-25.00"
    assert invoice_ret.findtext("BalanceRemaining") == "75.00"
    # The rest of the credit pays the invoice off together with a payment.
    company.apply_credit(memo, {invoice: "45.00"})
    company.add("ReceivePayment", applied={invoice: "30.00"})
    assert company.snapshot("Invoice").records[invoice].is_paid
    assert company.data.txns["CreditMemo"][memo].balance_remaining == ZERO
    assert len(_query(company, "Invoice", invoice).findall("LinkedTxn")) == 2


def test_credit_memo_refusals_change_nothing(company) -> None:
    invoice = _invoice(company)
    other = _invoice(company, customer=1)
    customer_id = company.data.txns["Invoice"][invoice].customer_id
    memo = _credit_memo(company, customer_id, "20.00")
    before = _stamp(company, memo)
    with pytest.raises(ValueError, match="another customer"):
        company.apply_credit(memo, {other: "5.00"})
    with pytest.raises(ValueError, match="credit left"):
        company.apply_credit(memo, {invoice: "20.00", _invoice(company): "5.00"})
    with pytest.raises(ValueError, match="more than the amount due"):
        company.apply_credit(memo, {invoice: "100.01"})
    assert _stamp(company, memo) == before
    assert company.data.txns["CreditMemo"][memo].applications == []
    assert company.snapshot("Invoice").records[invoice].balance_remaining == Decimal("100.00")


def test_void_and_delete_of_a_credit_memo_reopen_the_invoice(company) -> None:
    invoice = _invoice(company)
    customer_id = company.data.txns["Invoice"][invoice].customer_id
    voided, deleted = (_credit_memo(company, customer_id, r) for r in ("60.00", "40.00"))
    company.apply_credit(voided, {invoice: "60.00"})
    company.apply_credit(deleted, {invoice: "40.00"})
    assert company.snapshot("Invoice").records[invoice].is_paid
    stamp = _stamp(company, invoice)
    company.clock.advance(hours=1)
    company.void("CreditMemo", voided)
    memo = _query(company, "CreditMemo", voided)
    assert memo.findtext("TotalAmount") == "0.00" and memo.findall("LinkedTxn") == []
    assert company.snapshot("Invoice").records[invoice].balance_remaining == Decimal("60.00")
    company.delete("CreditMemo", deleted)
    assert company.snapshot("Invoice").records[invoice].balance_remaining == Decimal("100.00")
    assert _stamp(company, invoice) == stamp
    with pytest.raises(SimulatorGap):
        company.void("Invoice", invoice)


def test_deleting_an_invoice_unlinks_its_credit_memo(company) -> None:
    invoice = _invoice(company)
    customer_id = company.data.txns["Invoice"][invoice].customer_id
    memo = _credit_memo(company, customer_id, "50.00")
    company.apply_credit(memo, {invoice: "50.00"})
    before = _stamp(company, memo)
    company.clock.advance(hours=1)
    company.delete("Invoice", invoice)
    # The credit memo loses its link (and is saved, as a payment is): its credit is free again.
    assert _stamp(company, memo) != before
    assert company.data.txns["CreditMemo"][memo].balance_remaining == Decimal("50.00")
    assert _query(company, "CreditMemo", memo).findall("LinkedTxn") == []


def test_payment_life_cycle_answers_validate(schema) -> None:
    company = FakeCompany(customers=4, items=6, seed=9, request_schema=schema)
    paid, credited = _invoice(company), _invoice(company)
    customer_id = company.data.txns["Invoice"][paid].customer_id
    payment = company.add("ReceivePayment", applied={paid: "100.00"})
    partial = company.add("ReceivePayment", applied={credited: "10.00"}, payment_total="12.00")
    memo = _credit_memo(company, customer_id, "50.00")
    company.apply_credit(memo, {credited: "50.00"})
    company.void("ReceivePayment", payment)
    company.delete("ReceivePayment", partial)
    voided_memo = _credit_memo(company, customer_id, "5.00")
    company.void("CreditMemo", voided_memo)
    linked = [el("IncludeLineItems", "true"), el("IncludeLinkedTxns", "true")]
    document = company.process(
        message_set(
            rq("InvoiceQueryRq", *linked),
            rq("CreditMemoQueryRq", *linked, request_id="2"),
            rq("ReceivePaymentQueryRq", el("IncludeLineItems", "true"), request_id="3"),
            rq("TxnDeletedQueryRq", el("TxnDelType", "ReceivePayment"), request_id="4"),
        )
    )
    assert_valid(schema, document)
    assert "<LinkType>AMTTYPE</LinkType>" in document and "VOID:" in document
