"""The simulated company's generic TransactionQuery: types, modified range, iterator, elements."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sim.fake_company import FakeCompany, SimulatorGap
from tests.sim_requests import assert_valid, el, load_schema, message_set, one, rets, rq, status

WHEN = "TransactionModifiedDateRangeFilter"


@pytest.fixture
def company() -> FakeCompany:
    return FakeCompany(customers=8, items=4, estimates=3, invoices=6, payments=4, seed=3)


def types(*names: str) -> str:
    return el("TransactionTypeFilter", None, *(el("TxnTypeFilter", n) for n in names))


def test_one_ret_per_transaction_of_the_types_asked(company) -> None:
    answer = one(company, rq("TransactionQueryRq", types("Invoice", "ReceivePayment")))
    found = {(r.findtext("TxnType"), r.findtext("TxnID")) for r in rets(answer)}
    expected = {
        (kind, txn_id)
        for kind in ("Invoice", "ReceivePayment")
        for txn_id in company.data.txns[kind]
    }
    assert status(answer) == 0 and found == expected
    every = one(company, rq("TransactionQueryRq", types("All")))
    assert len(rets(every)) == sum(len(t) for t in company.data.txns.values())


def test_the_modified_range_is_inclusive_and_elements_are_projected(company) -> None:
    invoice = next(iter(company.data.txns["Invoice"].values()))
    company.clock.advance(minutes=5)
    company.modify("Invoice", invoice.txn_id, memo="changed")
    stamp = company.workstation.format(company.record("Invoice", invoice.txn_id).time_modified)
    since = el(WHEN, None, el("FromModifiedDate", stamp[:19]))
    answer = one(
        company,
        rq(
            "TransactionQueryRq",
            since,
            types("Invoice", "Estimate"),
            el("IncludeRetElement", "TxnID"),
            el("IncludeRetElement", "TimeModified"),
        ),
    )
    (ret,) = rets(answer)
    assert [c.tag for c in ret] == ["TxnID", "TimeModified"]
    assert ret.findtext("TxnID") == invoice.txn_id
    later = company.record("Invoice", invoice.txn_id).time_modified + timedelta(seconds=1)
    after = el(WHEN, None, el("FromModifiedDate", company.workstation.format(later)[:19]))
    assert status(one(company, rq("TransactionQueryRq", after, types("Invoice")))) == 1


def test_an_iterator_pages_and_skips_what_was_deleted_meanwhile(company) -> None:
    first = one(
        company,
        rq("TransactionQueryRq", el("MaxReturned", 4), types("All"), iterator="Start"),
    )
    total = sum(len(t) for t in company.data.txns.values())
    assert len(rets(first)) == 4 and int(first.get("iteratorRemainingCount")) == total - 4
    seen = {r.findtext("TxnID") for r in rets(first)}
    # A transaction not handed out yet is deleted: the next page leaves it out.
    gone = next(i for t in company.data.txns.values() for i in t if i not in seen)
    kind = next(k for k, t in company.data.txns.items() if gone in t)
    company.delete(kind, gone)
    rest = one(
        company,
        rq(
            "TransactionQueryRq",
            el("MaxReturned", total),
            iterator="Continue",
            iteratorID=first.get("iteratorID"),
        ),
    )
    found = {r.findtext("TxnID") for r in rets(rest)}
    assert gone not in found and len(found) == total - 5


def test_filters_the_simulator_lacks_are_refused_not_ignored(company) -> None:
    with pytest.raises(SimulatorGap):
        one(company, rq("TransactionQueryRq", el("TransactionPaidStatusFilter", "All")))


def test_the_gate_the_relay_sends_and_its_answer_validate() -> None:
    schema = load_schema()
    company = FakeCompany(
        customers=4, items=2, invoices=3, estimates=2, seed=2, request_schema=schema
    )
    request = message_set(
        rq(
            "TransactionQueryRq",
            el("MaxReturned", 10),
            el(WHEN, None, el("FromModifiedDate", "2020-01-01T00:00:00")),
            types("Estimate", "Invoice"),
            el("IncludeRetElement", "TxnType"),
            el("IncludeRetElement", "TxnID"),
            el("IncludeRetElement", "TimeModified"),
            iterator="Start",
        )
    )
    answer = company.process(request)
    assert_valid(schema, request)
    assert_valid(schema, answer)
    assert answer.count("<TransactionRet>") == 5
