"""What a stolen Web Connector password can push: only answers to the requests sent, and past
the containment limits only records held for review."""

from __future__ import annotations

import pytest

from lambdas.store.ports import HandoffWindow
from lambdas.sync.plan import Plan, Step
from lambdas.sync.vetting import (
    DAILY_CAP,
    MASS_DELETION,
    RECORD_CAP,
    review_marks,
    unasked,
    vouched_version,
)
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
# An empty 24-hour window and a daily cap out of reach: the session limits alone decide.
QUIET = {"window": HandoffWindow(), "max_daily_records": 10**9}


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
    few = review_marks(
        p, [(step, [deleted(n) for n in range(5)])], 1000, 10, 0.1, lambda: 40, **QUIET
    )
    assert few == [None]
    counted: list[int] = []

    def mapped() -> int:
        counted.append(1)
        return 400

    # 30 deletions: past the minimum (10) but under 10% of 400 mapped records: not mass.
    assert review_marks(
        p, [(step, [deleted(n) for n in range(30)])], 1000, 10, 0.1, mapped, **QUIET
    ) == [None]
    assert counted == [1]
    marks = review_marks(
        p, [(step, [deleted(n) for n in range(50)])], 1000, 10, 0.1, mapped, **QUIET
    )
    assert marks[0] is not None and marks[0].startswith(MASS_DELETION)


def test_records_past_the_session_cap_are_marked() -> None:
    p = plan()
    p.steps[0].queued = 8
    customers = p.steps[0]
    marks = review_marks(
        p, [(customers, [customer(1), customer(2)])], 10, 25, 0.1, lambda: 0, **QUIET
    )
    assert marks == [None]
    marks = review_marks(
        p, [(customers, [customer(n) for n in range(3)])], 10, 25, 0.1, lambda: 0, **QUIET
    )
    assert marks[0] is not None and marks[0].startswith(RECORD_CAP)


def test_a_re_read_answers_with_the_records_asked_for_only() -> None:
    by_ids = Plan([Step("Customer", ids=[customer(1).list_id])])
    pending = {"1-r0": by_ids.steps[0].key}
    assert unasked(by_ids, pending, [rs(request_id="1-r0", records=[customer(1)])]) is None
    # One record, as asked, but another one: the thief's pick of a record to overwrite.
    other = rs(request_id="1-r0", records=[customer(2)])
    assert "other than the ones asked for" in (unasked(by_ids, pending, [other]) or "")


def test_deletions_add_up_over_a_days_sessions() -> None:
    p = plan()
    step = p.steps[1]

    def marks(prior: int, new: int, mapped: int = 100) -> list[str | None]:
        window = HandoffWindow(deletions=prior)
        batch = [(step, [deleted(n) for n in range(new)])]
        return review_marks(
            p, batch, 1000, 10, 0.1, lambda: mapped, window=window, max_daily_records=10**9
        )

    # Earlier sessions deleted 8: 8 + 2 is the minimum (10), not past it.
    assert marks(8, 2) == [None]
    (mark,) = marks(8, 3)
    assert mark == f"{MASS_DELETION}: 11 deletions in 24 hours"
    # Under the share of a large tenant (10% of 1000), the day's deletions are not mass.
    assert marks(80, 5, mapped=1000) == [None]
    assert marks(100, 1, mapped=1000) == [f"{MASS_DELETION}: 101 deletions in 24 hours"]
    # A response without deletions is not marked whatever the window holds.
    assert review_marks(
        p,
        [(p.steps[0], [customer(1)])],
        1000,
        10,
        0.1,
        lambda: 0,
        window=HandoffWindow(0, 500),
        max_daily_records=10**9,
    ) == [None]


def test_an_unreadable_window_weighs_the_sessions_deletions_against_the_minimum() -> None:
    p = plan()
    step = p.steps[1]

    def marks(new: int) -> list[str | None]:
        batch = [(step, [deleted(n) for n in range(new)])]
        return review_marks(
            p, batch, 1000, 10, 0.1, lambda: 10_000, window=None, max_daily_records=10
        )

    # 11 of 10,000 mapped records would pass the share; without the window, the minimum holds.
    assert marks(10) == [None]
    assert marks(11) == [f"{MASS_DELETION}: 11 deletions in one Web Connector session"]
    # The daily cap needs the window: records are weighed against the session cap only.
    customers = [(p.steps[0], [customer(n) for n in range(50)])]
    assert review_marks(
        p, customers, 1000, 10, 0.1, lambda: 0, window=None, max_daily_records=10
    ) == [None]


def test_records_past_the_daily_cap_are_marked() -> None:
    p = plan()
    customers = p.steps[0]

    def marks(prior: int, new: int) -> list[str | None]:
        batch = [(customers, [customer(n) for n in range(new)])]
        return review_marks(
            p,
            batch,
            1000,
            10,
            0.1,
            lambda: 0,
            window=HandoffWindow(records=prior),
            max_daily_records=100,
        )

    assert marks(90, 10) == [None]
    assert marks(91, 10) == [f"{DAILY_CAP}: more than 100 records in 24 hours"]
    # The session cap is named first when both are passed.
    p.steps[0].queued = 995
    (mark,) = marks(500, 10)
    assert mark is not None and mark.startswith(RECORD_CAP)


NOW = 1_780_000_000.0  # 2026-05-28T20:26:40Z


@pytest.mark.parametrize(
    ("version", "vouched"),
    [
        ("", None),
        ("7", None),  # a QuickBooks Online SyncToken: a small counter
        (str(int(NOW) - 86_400 * 400), None),  # saved a year ago
        (str(int(NOW) + 14 * 3600), None),  # a UTC+14 zone, or a clock a little fast
        (str(int(NOW) + 15 * 3600 + 1), str(int(NOW))),  # past every zone and the tolerance
        ("9999999999", str(int(NOW))),  # a thief's "newest ever"
        ("2026-05-29T10:00:00+14:00", None),
        ("2031-01-01T09:00:00", "2026-05-28T20:26:40+00:00"),  # a clock set to 2031
        ("2026-05-29T12:00:00+00:00", "2026-05-28T20:26:40+00:00"),
    ],
)
def test_a_version_past_the_relays_clock_is_replaced_by_the_read_time(
    version: str, vouched: str | None
) -> None:
    assert vouched_version(version, NOW) == vouched
