"""Unpaid invoices become Overdue in ZOHO when their due date passes, with no QuickBooks change.

The status is computed when an invoice is forwarded; an invoice nobody touches is never sent
again, so a scheduled step (``overdue_updates``: the serve worker's job and the ``Overdue``
Lambda) asks ZOHO for the invoices still Pending past their due date and moves only those.
"""

from __future__ import annotations

from datetime import timedelta

from lambdas.zoho.mapping import build_config, payment_status
from lambdas.zoho.payments import overdue_updates
from tests.integration.integrity_rig import company, rig_for, today
from tests.integration.zoho_helpers import ZohoEnv


def test_pending_invoices_fall_overdue_when_their_date_passes(
    zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    books = company(customers=8, items=3, invoices=0, payments=0)
    customers = list(books.snapshot("Customer").records)
    item = next(iter(books.snapshot("Item").records))
    soon = today() + timedelta(days=5)
    later = today() + timedelta(days=40)
    lines = [{"item_id": item, "quantity": 1, "rate": 25}]
    open_soon = [
        books.add("Invoice", customer_id=c, lines=lines, due_date=soon) for c in customers[:3]
    ]
    open_later = books.add("Invoice", customer_id=customers[3], lines=lines, due_date=later)
    paid = books.add("Invoice", customer_id=customers[4], lines=lines, due_date=soon)
    books.add(
        "ReceivePayment", applied={paid: books.snapshot("Invoice").records[paid].balance_remaining}
    )
    with rig_for("local", zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()

        def statuses() -> dict[str, str]:
            return {r["QB_TxnID"]: r["Status"] for r in zoho.fake.all("Invoices")}

        assert statuses() == {
            **dict.fromkeys(open_soon, "Pending"),
            open_later: "Pending",
            paid: "Paid",
        }
        client, config = zoho.client("acme"), build_config()
        writes = len(zoho.fake.requests)
        assert overdue_updates(client, config, today()) == 0  # nothing is due yet
        assert len(zoho.fake.requests) == writes
        # A week on: the three due in five days are overdue; the rest stay as they are.
        week_on = today() + timedelta(days=7)
        assert overdue_updates(client, config, week_on) == 3
        got = statuses()
        for sid, facts in books.snapshot("Invoice").records.items():
            due = books.record("Invoice", sid).due_date
            want = payment_status(
                {"balance_remaining": str(facts.balance_remaining), "due_date": due.isoformat()},
                week_on,
            )
            assert got[sid] == want, sid
        # Only the invoices whose status changed were written; a second run changes nothing.
        assert len(zoho.fake.requests) == writes + 1
        assert overdue_updates(client, config, week_on) == 0
