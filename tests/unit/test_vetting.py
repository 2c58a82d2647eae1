"""What a stolen Web Connector password can push: only answers to the requests sent, and past
the containment limits only records held for review."""

from __future__ import annotations

import pytest

from lambdas.sync.plan import Plan, Step
from lambdas.sync.vetting import MASS_DELETION, RECORD_CAP, review_marks, unasked
from qbxml.parser import Response
from qbxml.records import Customer, Invoice, ListDeleted


def customer(n: int) -> Customer:
    return Customer(list_id=f"80000{n:03d}-1", edit_sequence="1", name=f"C{n}")


def rs(
    request_type: str = "CustomerQuery",
    request_id: str | None = "1-Customer",
    records: list | None = None,
    iterator_id: str | None = None,
) -> Response:
    return Response(
        request_type, request_id, 0, "Info", "Status OK", iterator_id, 0, None, records or []
    )


def plan(**step: object) -> Plan:
    return Plan([Step("Customer", **step), Step("ListDeleted")])


PENDING = {"1-Customer": "Customer"}


def test_the_answers_to_the_requests_sent_pass() -> None:
    assert unasked(plan(), PENDING, [rs(records=[customer(1)])], asked={"1-Customer": 5}) is None
    # The relay's own writes in the message set are asked for too.
    stamp = rs("DataExtAdd", "stamp-set")
    assert unasked(plan(), PENDING, [rs(), stamp], also_sent=("stamp-set",)) is None


@pytest.mark.parametrize(
    ("responses", "why"),
    [
        ([rs(), rs("CustomerQuery", "9-Customer")], "did not send"),
        ([rs(), rs()], "two answers"),
        ([rs(request_id=None)], "did not send"),
        ([rs("InvoiceQuery")], "expected CustomerQuery"),
        ([rs(records=[Invoice(txn_id="1-1", edit_sequence="1")])], "other than Customer"),
        ([rs(records=[customer(n) for n in range(6)])], "at most 5"),
    ],
)
def test_anything_unasked_is_refused(responses: list[Response], why: str) -> None:
    refusal = unasked(plan(), PENDING, responses, asked={"1-Customer": 5})
    assert refusal is not None and why in refusal


def test_iterators_must_be_the_ones_asked_for() -> None:
    continuing = plan(iterator_id="{abc}")
    assert unasked(continuing, PENDING, [rs(iterator_id="{abc}")]) is None
    assert "another iterator" in (unasked(continuing, PENDING, [rs(iterator_id="{xyz}")]) or "")
    by_ids = Plan([Step("Customer", ids=["1", "2"])])
    pending = {"1-r0": by_ids.steps[0].key}
    many = rs(request_id="1-r0", records=[customer(n) for n in range(3)])
    assert "at most 2" in (unasked(by_ids, pending, [many]) or "")
    with_iterator = rs(request_id="1-r0", iterator_id="{abc}")
    assert "no" in (unasked(by_ids, pending, [with_iterator]) or "none")


def deleted(n: int) -> ListDeleted:
    return ListDeleted(
        list_del_type="Customer", list_id=f"D{n}", time_deleted="2026-01-01T00:00:00"
    )


def test_a_mass_deletion_is_marked_for_review() -> None:
    p = plan()
    step = p.steps[1]
    few = review_marks(p, [(step, [deleted(n) for n in range(5)])], 1000, 10, 0.1, lambda: 40)
    assert few == [None]
    counted: list[int] = []

    def mapped() -> int:
        counted.append(1)
        return 400

    # 30 deletions: past the minimum (10) but under 10% of 400 mapped records: not mass.
    assert review_marks(p, [(step, [deleted(n) for n in range(30)])], 1000, 10, 0.1, mapped) == [
        None
    ]
    assert counted == [1]
    marks = review_marks(p, [(step, [deleted(n) for n in range(50)])], 1000, 10, 0.1, mapped)
    assert marks[0] is not None and marks[0].startswith(MASS_DELETION)


def test_records_past_the_session_cap_are_marked() -> None:
    p = plan()
    p.steps[0].received = 8
    customers = p.steps[0]
    marks = review_marks(p, [(customers, [customer(1), customer(2)])], 10, 25, 0.1, lambda: 0)
    assert marks == [None]
    marks = review_marks(p, [(customers, [customer(n) for n in range(3)])], 10, 25, 0.1, lambda: 0)
    assert marks[0] is not None and marks[0].startswith(RECORD_CAP)


def test_a_re_read_answers_with_the_records_asked_for_only() -> None:
    by_ids = Plan([Step("Customer", ids=[customer(1).list_id])])
    pending = {"1-r0": by_ids.steps[0].key}
    assert unasked(by_ids, pending, [rs(request_id="1-r0", records=[customer(1)])]) is None
    # One record, as asked, but another one: the thief's pick of a record to overwrite.
    other = rs(request_id="1-r0", records=[customer(2)])
    assert "other than the ones asked for" in (unasked(by_ids, pending, [other]) or "")
