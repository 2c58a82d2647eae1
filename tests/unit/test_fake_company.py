"""The simulated QuickBooks company: its books, queries, iterators, filters and deletions."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from sim.company_records import ZERO
from sim.fake_company import FakeCompany, InUseError, QuickBooksError, SimulatorGap
from tests.sim_requests import (
    OWNER_ID,
    ask,
    el,
    message_set,
    one,
    rets,
    rq,
    status,
)

BOOKS = dict(
    customers=60,
    vendors=6,
    items=25,
    estimates=8,
    sales_orders=8,
    invoices=40,
    sales_receipts=8,
    payments=30,
    credit_memos=6,
)


@pytest.fixture(scope="module")
def books() -> FakeCompany:
    """A company the tests only read."""
    return FakeCompany(**BOOKS, seed=5)


@pytest.fixture
def company() -> FakeCompany:
    """A company a test may change."""
    return FakeCompany(**BOOKS, seed=5)


def ids(response) -> list[str]:
    return [(r.findtext("ListID") or r.findtext("TxnID")) for r in rets(response)]


# --- the generated books -----------------------------------------------------------------------


def test_same_arguments_give_byte_identical_answers() -> None:
    requests = message_set(
        rq("CustomerQueryRq", el("MaxReturned", 7), el("OwnerID", "0"), iterator="Start"),
        rq("InvoiceQueryRq", el("IncludeLineItems", "true"), el("IncludeLinkedTxns", "true")),
        rq("ItemQueryRq", el("ActiveStatus", "All")),
        rq("ReceivePaymentQueryRq", el("IncludeLineItems", "true")),
    )
    a, b = FakeCompany(**BOOKS, seed=5), FakeCompany(**BOOKS, seed=5)
    assert a.process(requests) == b.process(requests)
    assert a.hcp_response(OWNER_ID) == b.hcp_response(OWNER_ID)
    a.add("Customer")
    b.add("Customer")
    assert a.process(requests) == b.process(requests)
    assert FakeCompany(**BOOKS, seed=6).process(requests) != a.process(requests)


def test_counts_are_exact_and_every_item_type_is_there(books) -> None:
    data = books.data
    assert len(data.customers) == 60 and len(data.vendors) == 6 and len(data.items) == 25
    for kind, count in [("Invoice", 40), ("Estimate", 8), ("ReceivePayment", 30)]:
        assert len(data.txns[kind]) == count
    types = Counter(i.item_type for i in data.items.values())
    assert set(types) == {
        "Service",
        "Inventory",
        "NonInventory",
        "OtherCharge",
        "Discount",
        "Subtotal",
    }
    assert all(len(t.lines) == 5 for t in data.txns["Invoice"].values())


def test_books_are_referentially_consistent(books) -> None:
    data = books.data
    sellable = {i.list_id for i in data.items.values() if i.sellable}
    for kind in ("Estimate", "SalesOrder", "Invoice", "SalesReceipt", "CreditMemo"):
        for txn in data.txns[kind].values():
            customer = data.customers[txn.customer_id]
            assert customer.time_created <= txn.time_created <= txn.time_modified
            assert all(line.item_id in sellable for line in txn.lines)
            assert all(
                line.amount == (line.quantity * line.rate).quantize(Decimal("0.01"))
                for line in txn.lines
            )
    paid: Counter[str] = Counter()
    for payment in data.txns["ReceivePayment"].values():
        applied = sum((a.amount for a in payment.applications), ZERO)
        assert payment.balance_remaining == payment.payment_total - applied >= ZERO
        for application in payment.applications:
            invoice = data.txns["Invoice"][application.invoice_id]
            assert invoice.customer_id == payment.customer_id
            assert invoice.time_modified >= payment.time_created
            paid[invoice.txn_id] += application.amount
    for invoice in data.txns["Invoice"].values():
        assert invoice.applied == paid[invoice.txn_id]
        assert ZERO <= invoice.balance_remaining <= invoice.subtotal
    statuses = {
        (i.balance_remaining == ZERO, i.applied > ZERO) for i in data.txns["Invoice"].values()
    }
    assert statuses >= {(True, True), (False, True), (False, False)}  # paid, part paid, open
    for customer in data.customers.values():
        expected = ZERO
        for txn in data.customer_txns(customer.list_id):
            sign = {"Invoice": 1, "CreditMemo": -1, "ReceivePayment": -1}.get(txn.txn_type, 0)
            expected += sign * txn.balance_remaining
        assert customer.balance == expected


def test_books_are_awkward_like_real_ones(books) -> None:
    data = books.data
    names = [data.full_name(c) for c in data.customers.values()]
    assert any("&" in n for n in names) and any("<" in n for n in names)
    assert any('"' in n for n in names) and any("é" in n or "ü" in n for n in names)
    assert any(":" in n for n in names)  # jobs under customers
    assert any(not c.is_active for c in data.customers.values())
    assert any(c.list_id in data.ext_values for c in data.customers.values())
    today = books.clock.today()
    due = [t.due_date for t in data.txns["Invoice"].values() if t.balance_remaining > ZERO]
    assert any(d < today for d in due)  # overdue
    # QuickBooks stores ISO-8859-1 only: every generated text must fit it.
    texts = names + [data.full_name(i) for i in data.items.values()]
    texts += [t.memo for table in data.txns.values() for t in table.values() if t.memo]
    for text in texts:
        text.encode("latin-1")


def test_invoice_balances_in_responses_agree(books) -> None:
    response = one(books, rq("InvoiceQueryRq", el("IncludeLinkedTxns", "true")))
    for ret in rets(response):
        subtotal = Decimal(ret.findtext("Subtotal"))
        applied = Decimal(ret.findtext("AppliedAmount"))
        balance = Decimal(ret.findtext("BalanceRemaining"))
        assert balance == subtotal + applied
        assert ret.findtext("IsPaid") == ("true" if balance == 0 else "false")
        links = sum(Decimal(link.findtext("Amount")) for link in ret.findall("LinkedTxn"))
        assert links == applied


# --- queries -------------------------------------------------------------------------------


def test_lists_default_to_active_only(books) -> None:
    everyone = books.data.customers.values()
    active = one(books, rq("CustomerQueryRq"))
    assert ids(active) == [c.list_id for c in everyone if c.is_active]
    both = one(books, rq("CustomerQueryRq", el("ActiveStatus", "All")))
    assert ids(both) == [c.list_id for c in everyone]
    inactive = one(books, rq("CustomerQueryRq", el("ActiveStatus", "InactiveOnly")))
    assert ids(inactive) == [c.list_id for c in everyone if not c.is_active]
    assert int(both.get("retCount")) == len(everyone)


def test_by_id_and_name_not_found(books) -> None:
    some = list(books.data.customers.values())[:2]
    found = one(
        books, rq("CustomerQueryRq", el("ListID", some[1].list_id), el("ListID", some[0].list_id))
    )
    assert ids(found) == [some[1].list_id, some[0].list_id]
    missing = one(books, rq("CustomerQueryRq", el("ListID", "80000999-1")))
    assert status(missing) == 3120 and '"80000999-1"' in missing.get("statusMessage")
    partly = one(
        books,
        rq(
            "CustomerQueryRq",
            el("FullName", books.data.full_name(some[0])),
            el("FullName", "Nobody"),
        ),
    )
    assert status(partly) == 500 and partly.get("statusSeverity") == "Warn"
    assert ids(partly) == [some[0].list_id]
    none = one(books, rq("InvoiceQueryRq", el("RefNumber", "no-such")))
    assert status(none) == 1 and rets(none) == []


def test_items_come_back_each_as_its_own_type(books) -> None:
    response = one(books, rq("ItemQueryRq", el("ActiveStatus", "All")))
    tags = Counter(r.tag for r in rets(response))
    expected = Counter(f"Item{i.item_type}Ret" for i in books.data.items.values())
    assert tags == expected


def test_line_items_linked_txns_and_custom_fields_only_when_asked(books) -> None:
    plain = rets(one(books, rq("InvoiceQueryRq")))
    assert not any(
        r.find("InvoiceLineRet") is not None or r.find("LinkedTxn") is not None for r in plain
    )
    full = rets(
        one(
            books,
            rq("InvoiceQueryRq", el("IncludeLineItems", "true"), el("IncludeLinkedTxns", "true")),
        )
    )
    assert all(len(r.findall("InvoiceLineRet")) == 5 for r in full)
    assert any(r.find("LinkedTxn") is not None for r in full)
    payments = rets(one(books, rq("ReceivePaymentQueryRq")))
    assert not any(p.find("AppliedToTxnRet") is not None for p in payments)
    payments = rets(one(books, rq("ReceivePaymentQueryRq", el("IncludeLineItems", "true"))))
    assert any(p.find("AppliedToTxnRet") is not None for p in payments)
    customers = rets(one(books, rq("CustomerQueryRq", el("ActiveStatus", "All"))))
    assert not any(c.find("DataExtRet") is not None for c in customers)
    public = rets(one(books, rq("CustomerQueryRq", el("ActiveStatus", "All"), el("OwnerID", "0"))))
    fields = [d for c in public for d in c.findall("DataExtRet")]
    assert fields and {f.findtext("OwnerID") for f in fields} == {"0"}
    private = rets(
        one(books, rq("CustomerQueryRq", el("ActiveStatus", "All"), el("OwnerID", OWNER_ID)))
    )
    assert not any(c.find("DataExtRet") is not None for c in private)


def test_include_ret_element_keeps_only_those(books) -> None:
    response = one(
        books,
        rq(
            "CustomerQueryRq",
            el("IncludeRetElement", "ListID"),
            el("IncludeRetElement", "EditSequence"),
        ),
    )
    assert {tuple(child.tag for child in r) for r in rets(response)} == {("ListID", "EditSequence")}


def test_entity_txn_date_and_paid_filters(books) -> None:
    data = books.data
    invoice = next(iter(data.txns["Invoice"].values()))
    customer = data.customers[invoice.customer_id]
    by_customer = one(
        books,
        rq("InvoiceQueryRq", el("EntityFilter", None, el("FullName", data.full_name(customer)))),
    )
    assert ids(by_customer) == [
        t.txn_id for t in data.txns["Invoice"].values() if t.customer_id == customer.list_id
    ]
    day = invoice.txn_date.isoformat()
    by_date = one(
        books,
        rq(
            "InvoiceQueryRq",
            el("TxnDateRangeFilter", None, el("FromTxnDate", day), el("ToTxnDate", day)),
        ),
    )
    assert invoice.txn_id in ids(by_date)
    assert all(r.findtext("TxnDate") == day for r in rets(by_date))
    unpaid = one(books, rq("InvoiceQueryRq", el("PaidStatus", "NotPaidOnly")))
    assert all(r.findtext("IsPaid") == "false" for r in rets(unpaid))


def test_unimplemented_filters_are_loud(books) -> None:
    with pytest.raises(SimulatorGap, match="CurrencyFilter"):
        books.process(
            message_set(rq("InvoiceQueryRq", el("CurrencyFilter", None, el("FullName", "x"))))
        )
    with pytest.raises(SimulatorGap, match="AccountQueryRq"):
        books.process(message_set(rq("AccountQueryRq")))


def test_requests_quickbooks_cannot_parse_fail_the_whole_set(books) -> None:
    for bad in [
        "<not xml",
        '<?xml version="1.0"?><QBXML><QBXMLMsgsRq><CustomerQueryRq/></QBXMLMsgsRq></QBXML>',
        message_set(rq("CustomerQueryRq"), version="15.0"),
        message_set(rq("CustomerQueryRq", iterator="Sideways")),
        message_set(rq("TermsQueryRq", iterator="Start")),
        message_set(rq("EstimateQueryRq", el("PaidStatus", "PaidOnly"))),
        message_set(rq("CustomerModRq", el("CustomerMod", None, el("Name", "x")))),
    ]:
        with pytest.raises(QuickBooksError) as caught:
            books.process(bad)
        assert caught.value.hresult == "0x80040400"


def test_request_id_is_echoed_even_when_absent(books) -> None:
    (response,) = ask(books, "<HostQueryRq/>")
    assert response.get("requestID") == ""
    assert one(books, rq("HostQueryRq", request_id="r-7")).get("requestID") == "r-7"


# --- iterators -----------------------------------------------------------------------------


def _start(company: FakeCompany, size: int, tag: str = "CustomerQueryRq", *children: str):
    return one(company, rq(tag, el("MaxReturned", size), *children, iterator="Start"))


def _continue(company: FakeCompany, iterator_id: str, size: int = 25, tag: str = "CustomerQueryRq"):
    return one(
        company, rq(tag, el("MaxReturned", size), iterator="Continue", iteratorID=iterator_id)
    )


def test_iterator_pages_through_everything_once(company) -> None:
    first = _start(company, 25, "CustomerQueryRq", el("ActiveStatus", "All"))
    iterator_id = first.get("iteratorID")
    assert iterator_id.startswith("{") and first.get("retCount") == "25"
    assert first.get("iteratorRemainingCount") == "35"
    second = _continue(company, iterator_id)
    third = _continue(company, iterator_id)
    assert [r.get("iteratorRemainingCount") for r in (second, third)] == ["10", "0"]
    assert third.get("retCount") == "10"
    seen = ids(first) + ids(second) + ids(third)
    assert seen == list(company.data.customers)
    stale = _continue(company, iterator_id)  # finished: QuickBooks has let it go
    assert status(stale) == 3391 and iterator_id in stale.get("statusMessage")


def test_unknown_stopped_foreign_and_ended_iterators_are_stale(company) -> None:
    assert status(_continue(company, "{00000000-0000-4000-8000-000000000000}")) == 3391
    stopped = _start(company, 5).get("iteratorID")
    response = one(company, rq("CustomerQueryRq", iterator="Stop", iteratorID=stopped))
    assert status(response) == 0
    assert status(_continue(company, stopped)) == 3391
    invoices = _start(company, 5, "InvoiceQueryRq").get("iteratorID")
    assert status(_continue(company, invoices, tag="CustomerQueryRq")) == 3391
    assert status(_continue(company, invoices, tag="InvoiceQueryRq")) == 0
    company.end_session()  # the Web Connector closed the QuickBooks session
    assert status(_continue(company, invoices, tag="InvoiceQueryRq")) == 3391


def test_a_stale_iterator_stops_the_rest_of_a_stop_on_error_set(company) -> None:
    stale, after = ask(
        company,
        rq("CustomerQueryRq", iterator="Continue", iteratorID="{gone}"),
        rq("VendorQueryRq", request_id="2"),
    )
    assert status(stale) == 3391 and status(after) == 3231
    stale, after = ask(
        company,
        rq("CustomerQueryRq", iterator="Continue", iteratorID="{gone}"),
        rq("VendorQueryRq", request_id="2"),
        on_error="continueOnError",
    )
    assert status(after) == 0


def test_iterator_shows_live_records_and_skips_deleted_ones(company) -> None:
    first = _start(company, 10, "CustomerQueryRq", el("ActiveStatus", "All"))
    remaining = list(company.data.customers)[10:]
    unused = [c for c in remaining if not company.data.references(c)]
    gone, renamed = unused[0], remaining[-1]
    company.delete("Customer", gone)
    company.modify("Customer", renamed, company_name="Renamed & Co")
    rest = _continue(company, first.get("iteratorID"), size=100)
    assert gone not in ids(rest) and len(ids(rest)) == len(remaining) - 1
    (ret,) = [r for r in rets(rest) if r.findtext("ListID") == renamed]
    assert ret.findtext("CompanyName") == "Renamed & Co"
    added = company.add("Customer")
    assert added not in ids(rest)  # the result set was fixed when the iterator started


# --- modified-date filters -----------------------------------------------------------------


def test_modified_date_filters_are_inclusive_at_both_ends(company) -> None:
    customer = list(company.data.customers)[3]
    company.clock.set(datetime(2025, 8, 1, 10, 0, 0))
    company.modify("Customer", customer)
    stamp = company.record("Customer", customer).time_modified
    text = company.workstation.format(stamp)
    assert text == "2025-08-01T10:00:00-05:00"
    for lo, hi in [
        (text, text),
        ("2025-08-01T10:00:00", None),
        (None, "2025-08-01T15:00:00+00:00"),
    ]:
        children = [el("ActiveStatus", "All")]
        children += [el("FromModifiedDate", lo)] if lo else []
        children += [el("ToModifiedDate", hi)] if hi else []
        assert customer in ids(one(company, rq("CustomerQueryRq", *children)))
    after = one(company, rq("CustomerQueryRq", el("FromModifiedDate", "2025-08-01T10:00:01")))
    assert status(after) == 1
    before = one(
        company,
        rq(
            "CustomerQueryRq",
            el("ActiveStatus", "All"),
            el("ToModifiedDate", "2025-08-01T09:59:59"),
        ),
    )
    assert customer not in ids(before)


def test_transaction_modified_range_and_a_bad_date(company) -> None:
    invoice = next(iter(company.data.txns["Invoice"]))
    company.clock.set(datetime(2025, 9, 1, 8, 30))
    company.modify("Invoice", invoice, memo="Re-sent with <new> terms & notes")
    window = el(
        "ModifiedDateRangeFilter",
        None,
        el("FromModifiedDate", "2025-09-01T08:30:00"),
        el("ToModifiedDate", "2025-09-01T08:30:00"),
    )
    (ret,) = rets(one(company, rq("InvoiceQueryRq", window)))
    assert (
        ret.findtext("TxnID") == invoice
        and ret.findtext("Memo") == "Re-sent with <new> terms & notes"
    )
    bad = one(
        company,
        rq("InvoiceQueryRq", el("ModifiedDateRangeFilter", None, el("FromModifiedDate", "soon"))),
    )
    assert status(bad) == 3020


def _eastern():
    zoneinfo = pytest.importorskip("zoneinfo")
    try:
        return zoneinfo.ZoneInfo("America/New_York")
    except zoneinfo.ZoneInfoNotFoundError:
        pytest.skip("the IANA time zone database is not installed")


def test_daylight_saving_offsets_and_the_repeated_hour() -> None:
    eastern = _eastern()
    company = FakeCompany(customers=3, tz=eastern, clock_start=datetime(2024, 11, 3, 1, 30))
    a, b, c = list(company.data.customers)
    company.modify("Customer", a)  # 01:30 EDT, the first time round
    company.clock.advance(hours=1)
    company.modify("Customer", b)  # 01:30 EST, an hour later in real time
    company.clock.advance(hours=1)
    company.modify("Customer", c)  # 02:30 EST
    texts = [company.snapshot("Customer").records[x].time_modified_text for x in (a, b, c)]
    assert texts == [
        "2024-11-03T01:30:00-04:00",
        "2024-11-03T01:30:00-05:00",
        "2024-11-03T02:30:00-05:00",
    ]
    # A zone-less time in the repeated hour is its first occurrence: both are on or after it.
    wall = one(company, rq("CustomerQueryRq", el("FromModifiedDate", "2024-11-03T01:30:00")))
    assert ids(wall) == [a, b, c]
    # With an offset it is one instant: 01:30 EST excludes 01:30 EDT.
    est = one(company, rq("CustomerQueryRq", el("FromModifiedDate", "2024-11-03T01:30:00-05:00")))
    assert ids(est) == [b, c]


def test_older_quickbooks_prints_the_standard_offset_during_daylight_saving() -> None:
    eastern = _eastern()
    company = FakeCompany(
        customers=2, tz=eastern, dst_offset_bug=True, clock_start=datetime(2024, 7, 1, 12, 0)
    )
    first, second = list(company.data.customers)
    company.modify("Customer", first)
    (ret,) = rets(one(company, rq("CustomerQueryRq", el("ListID", first))))
    # Wall-clock time right, offset wrong: the printed instant is an hour later than the save.
    assert ret.findtext("TimeModified") == "2024-07-01T12:00:00-05:00"
    company.clock.advance(minutes=30)
    company.modify("Customer", second)
    # Taking the printed value as an instant misses the second save...
    trusting = one(
        company, rq("CustomerQueryRq", el("FromModifiedDate", "2024-07-01T12:00:00-05:00"))
    )
    assert status(trusting) == 1
    # ...reading it as wall-clock time does not.
    wall = one(company, rq("CustomerQueryRq", el("FromModifiedDate", "2024-07-01T12:00:00")))
    assert ids(wall) == [first, second]
    winter = company.workstation.format(datetime(2024, 12, 1, 12, 0, tzinfo=eastern))
    assert winter == "2024-12-01T12:00:00-05:00"


# --- deletions -----------------------------------------------------------------------------


def test_deleted_list_elements_and_transactions_are_reported(company) -> None:
    company.clock.set(datetime(2025, 7, 2, 9, 0))
    new = company.add("Customer", name="Short-lived & Co")
    company.clock.advance(hours=1)
    company.delete("Customer", new)
    payment = next(p for p in company.data.txns["ReceivePayment"].values() if p.applications)
    invoice_id = payment.applications[0].invoice_id
    before = payment.edit_sequence
    company.clock.advance(hours=1)
    company.delete("Invoice", invoice_id)
    assert payment.edit_sequence != before and payment.applications == []
    assert payment.balance_remaining == payment.payment_total  # now unapplied credit
    lists, txns = ask(
        company,
        rq("ListDeletedQueryRq", el("ListDelType", "Customer"), el("ListDelType", "Vendor")),
        rq("TxnDeletedQueryRq", el("TxnDelType", "Invoice"), request_id="2"),
    )
    (entry,) = rets(lists)
    assert [entry.findtext(t) for t in ("ListDelType", "ListID", "FullName")] == [
        "Customer",
        new,
        "Short-lived & Co",
    ]
    assert entry.findtext("TimeDeleted") == "2025-07-02T10:00:00-05:00"
    (entry,) = rets(txns)
    assert (
        entry.findtext("TxnID") == invoice_id
        and entry.findtext("TimeDeleted") == "2025-07-02T11:00:00-05:00"
    )
    snapshot = company.snapshot("Invoice")
    assert invoice_id not in snapshot.records and invoice_id in snapshot.deleted
    assert status(one(company, rq("InvoiceQueryRq", el("TxnID", invoice_id)))) == 3120


def test_deleted_date_range_is_inclusive(company) -> None:
    company.clock.set(datetime(2025, 7, 2, 9, 0))
    company.delete("Estimate", next(iter(company.data.txns["Estimate"])))
    window = [("2025-07-02T09:00:00", "2025-07-02T09:00:00", 0), ("2025-07-02T09:00:01", None, 1)]
    for lo, hi, code in window:
        children = [el("FromDeletedDate", lo)] + ([el("ToDeletedDate", hi)] if hi else [])
        response = one(
            company,
            rq(
                "TxnDeletedQueryRq",
                el("TxnDelType", "Estimate"),
                el("DeletedDateRangeFilter", None, *children),
            ),
        )
        assert status(response) == code
    assert status(one(company, rq("ListDeletedQueryRq", el("ListDelType", "Class")))) == 1


def test_records_in_use_cannot_be_deleted(company) -> None:
    used = next(iter(company.data.txns["Invoice"].values())).customer_id
    with pytest.raises(InUseError):
        company.delete("Customer", used)
    item = next(iter(company.data.txns["Invoice"].values())).lines[0].item_id
    with pytest.raises(InUseError):
        company.delete("Item", item)
    assert used in company.data.customers and item in company.data.items


# --- the mutation API ----------------------------------------------------------------------


def test_modify_add_and_snapshot(company) -> None:
    customer = next(iter(company.data.customers))
    old = company.snapshot("Customer").records[customer]
    company.clock.set(datetime(2025, 7, 5, 12, 0))
    new_sequence = company.modify("Customer", customer, email="new@example.com")
    facts = company.snapshot("Customer").records[customer]
    assert facts.edit_sequence == new_sequence != old.edit_sequence
    assert facts.time_modified == company.clock.now() and facts.name == old.name
    again = company.modify("Customer", customer)  # saved without a change, same second
    assert int(again) == int(new_sequence) + 1
    with pytest.raises(ValueError, match="list_id"):
        company.modify("Customer", customer, list_id="x")
    with pytest.raises(ValueError, match="already in use"):
        company.add("Customer", name=facts.name.upper())
    item = company.add(
        "Item", item_type="Service", name="Brand-new service", price=Decimal("80.00")
    )
    invoice = company.add("Invoice", customer_id=customer, lines=[{"item_id": item, "quantity": 3}])
    facts = company.snapshot("Invoice").records[invoice]
    assert facts.total == Decimal("240.00") and facts.balance_remaining == Decimal("240.00")
    payment = company.add("ReceivePayment", applied={invoice: "100.00"})
    facts = company.snapshot("Invoice").records[invoice]
    assert facts.balance_remaining == Decimal("140.00") and facts.is_paid is False
    company.add("ReceivePayment", customer_id=customer)  # pays the oldest open invoice in full
    with pytest.raises(ValueError, match="more than the amount due"):
        company.add("ReceivePayment", applied={invoice: "9999.00"})
    company.delete("ReceivePayment", payment)
    assert company.snapshot("Invoice").records[invoice].balance_remaining > Decimal("140.00")


def test_clock_moves_only_when_told(company) -> None:
    start = company.clock.now()
    assert company.clock.now() == start and start.tzinfo is not None
    assert company.clock.advance(minutes=5) == start + timedelta(minutes=5)
    with pytest.raises(ValueError):
        company.clock.advance(timedelta(seconds=-1))
    assert company.clock.set(datetime(2030, 1, 1)).date() == date(2030, 1, 1)


def test_bad_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="items"):
        FakeCompany(customers=5, invoices=3)
    with pytest.raises(ValueError, match="negative"):
        FakeCompany(customers=-1)
    with pytest.raises(ValueError, match="owner_id"):
        FakeCompany(customers=1, file_id="{x}")


def test_refused_changes_leave_the_record_as_it_was(company) -> None:
    data = company.data
    invoice = next(t for t in data.txns["Invoice"].values() if t.applied > ZERO)
    before = (invoice.customer_id, invoice.memo, invoice.edit_sequence, list(invoice.lines))
    other = next(c for c in data.customers if c != invoice.customer_id)
    with pytest.raises(ValueError, match="payments applied"):
        company.modify("Invoice", invoice.txn_id, customer_id=other, memo="moved")
    item = invoice.lines[0].item_id
    with pytest.raises(ValueError, match="less than the amounts already applied"):
        company.modify("Invoice", invoice.txn_id, lines=[{"item_id": item, "quantity": 0}])
    assert (invoice.customer_id, invoice.memo, invoice.edit_sequence, invoice.lines) == before
    parent, job = list(data.customers)[:2]
    company.modify("Customer", job, parent_id=parent)
    assert data.full_name(data.customers[job]).startswith(data.full_name(data.customers[parent]))
    with pytest.raises(ValueError, match="under itself"):
        company.modify("Customer", parent, parent_id=job)
    company.modify("Customer", job, parent_id=None)
    assert ":" not in data.full_name(data.customers[job])


def test_added_records_are_top_level_unless_asked(company) -> None:
    added = [company.add("Customer") for _ in range(15)]
    assert all(company.record("Customer", a).parent_id is None for a in added)
    assert len({company.snapshot("Customer").records[a].name for a in added}) == 15
    job = company.add("Customer", name="Phase 2", parent_id=added[0])
    assert company.snapshot("Customer").records[job].name.endswith(":Phase 2")


def test_hcp_queries_refuse_what_they_would_ignore(books) -> None:
    with pytest.raises(SimulatorGap, match="IncludeRetElement"):
        books.process(message_set(rq("CompanyQueryRq", el("IncludeRetElement", "CompanyName"))))


# --- editions and feature preferences -------------------------------------------------------


def test_the_edition_shows_in_the_host_answer() -> None:
    for edition, name in [("Pro", "QuickBooks Pro"), ("Premier", "Premier"), ("Enterprise", "Ent")]:
        host = rets(one(FakeCompany(1, edition=edition), rq("HostQueryRq")))[0]
        assert name in host.findtext("ProductName")
    with pytest.raises(ValueError, match="edition"):
        FakeCompany(1, edition="Platinum")


def test_pro_has_no_sales_orders() -> None:
    with pytest.raises(ValueError, match="no sales orders"):
        FakeCompany(1, edition="Pro", sales_orders=3)
    pro = FakeCompany(1, items=2, edition="Pro", invoices=2)
    refused = one(pro, rq("SalesOrderQueryRq", el("MaxReturned", 10), iterator="Start"))
    assert status(refused) == 3250 and refused.get("statusSeverity") == "Error"
    assert "not enabled or not available" in refused.get("statusMessage")
    assert not rets(refused)
    assert status(one(pro, rq("InvoiceQueryRq"))) == 0


def test_switched_off_features_show_in_preferences_and_refuse_queries() -> None:
    company = FakeCompany(
        1, items=2, estimates=2, sales_orders=2, features_off={"estimates", "inventory"}
    )
    prefs = rets(one(company, rq("PreferencesQueryRq")))[0]
    assert prefs.findtext("JobsAndEstimatesPreferences/IsUsingEstimates") == "false"
    assert prefs.findtext("PurchasesAndVendorsPreferences/IsUsingInventory") == "false"
    assert status(one(company, rq("EstimateQueryRq"))) == 3250
    assert status(one(company, rq("SalesOrderQueryRq"))) == 0
    company.set_feature("estimates", True)
    company.set_feature("sales_orders", False)
    prefs = rets(one(company, rq("PreferencesQueryRq")))[0]
    assert prefs.findtext("JobsAndEstimatesPreferences/IsUsingEstimates") == "true"
    assert len(rets(one(company, rq("EstimateQueryRq")))) == 2
    # No PreferencesRet element reports sales orders: only the query's answer tells.
    assert status(one(company, rq("SalesOrderQueryRq"))) == 3250
    with pytest.raises(ValueError, match="unknown feature"):
        FakeCompany(1, features_off={"payroll"})
