"""Nothing lost, nothing duplicated, under the concurrency production has.

Each scenario runs on both deployments of ``integrity_rig``: the AWS-shaped one, where the
forwarder Lambda handles messages the instant the relay sends them (inside the relay's own
invocation), and the local ``qbrelay serve`` twin, whose forwarder worker thread drains the
queue while the session runs. Each ends by comparing ZOHO with the simulated QuickBooks company
record by record, and with an audit that finds no drift.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.integrity_rig import (
    MAX_RECEIVE_COUNT,
    Pipeline,
    assert_zoho_matches,
    company,
    rig_for,
)
from tests.integration.zoho_helpers import ZohoEnv

KINDS = ["aws", "local"]


def _quiet_customer(books: Any) -> str:
    """A customer QuickBooks lets us delete: no transactions, no jobs."""
    for sid in books.snapshot("Customer").records:
        try:
            books.delete("Customer", sid)
        except Exception:  # in use: try the next one
            continue
        return sid
    raise AssertionError("no deletable customer in the simulated company")


def _open_invoice(books: Any) -> str:
    snap = books.snapshot("Invoice")
    return next(
        sid for sid, f in snap.records.items() if f.balance_remaining and f.balance_remaining > 0
    )


def _no_drift(rig: Pipeline) -> None:
    report = rig.audit()
    assert report.drift == 0, report.to_json()
    assert report.in_flight == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_forwarder_racing_the_relay_loses_no_deletion_payment_or_change(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    books = company()
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        rig.session()
        assert_zoho_matches(zoho.fake, books)
        # Then, in QuickBooks: a deletion, a full payment and a modification.
        deleted = _quiet_customer(books)
        invoice = _open_invoice(books)
        balance = books.snapshot("Invoice").records[invoice].balance_remaining
        books.add("ReceivePayment", applied={invoice: balance})
        changed = next(iter(books.snapshot("Customer").records))
        books.modify("Customer", changed, phone="555-0142")
        second = rig.session()
        assert "deletion" in second.close_message
        assert_zoho_matches(zoho.fake, books)
        accounts = zoho.fake.by_field("Accounts", "QB_ListID", deleted)
        assert [a["QB_Active"] for a in accounts] == [False]
        paid = zoho.fake.by_field("Invoices", "QB_TxnID", invoice)
        assert [i["Status"] for i in paid] == ["Paid"]
        _no_drift(rig)
        # A re-sync over unchanged data sends nothing.
        third = rig.session()
        assert third.close_message.startswith("No changes"), third.close_message
        assert rig.depth() == 0


@pytest.mark.parametrize("kind", KINDS)
def test_a_zoho_outage_past_max_receive_count_parks_with_reasons_then_recovers(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    books = company(customers=12, items=4, invoices=10, payments=0)
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        zoho.fake.inject("503", times=1_000_000)
        rig.session()
        # Delivery after delivery while ZOHO is down, past the queue's maxReceiveCount.
        rig.deliver(rounds=MAX_RECEIVE_COUNT + 2)
        assert rig.depth() == 0, "messages are still on the record queue"
        letters = rig.dead_letters()
        assert len(letters) == 12 + 4 + 10
        # Parked by the forwarder, with why, before the queue could move them silently.
        assert all("deliveries" in reason and "503" in reason for _, reason in letters), letters
        assert zoho.fake.all("Accounts") == []
        # ZOHO is back. The audit sees every record missing; a re-read of unchanged data does
        # not re-send parked content (that is what the re-drive is for).
        zoho.fake.clear_faults()
        assert rig.audit().counts["missing"] == 12 + 4 + 10
        rig.session()
        assert zoho.fake.all("Accounts") == []
        rig.redrive()
        rig.deliver(rounds=3)
        assert_zoho_matches(zoho.fake, books)
        assert rig.dead_letters() == []
        _no_drift(rig)


def _big_lines(books: Any, count: int, desc_chars: int) -> list[dict[str, Any]]:
    items = list(books.snapshot("Item").records)
    return [
        {
            "item_id": items[i % len(items)],
            "quantity": 1,
            "rate": 10,
            "desc": f"{i:04d}" + "x" * desc_chars,
        }
        for i in range(count)
    ]


@pytest.mark.parametrize("kind", KINDS)
def test_a_page_of_large_invoices_and_an_oversized_one_all_arrive(
    kind: str, zoho: ZohoEnv, tmp_path, monkeypatch
) -> None:
    books = company(customers=6, items=5, invoices=0, payments=0)
    customers = list(books.snapshot("Customer").records)
    # Twelve invoices of 50 lines (about 60 KB each: ten of them exceed SQS's 256 KiB batch)
    # and one of about 300 KB (over the 256 KiB message limit: it travels by claim check).
    large = [
        books.add("Invoice", customer_id=customers[n % 6], lines=_big_lines(books, 50, 1000))
        for n in range(12)
    ]
    huge = books.add("Invoice", customer_id=customers[0], lines=_big_lines(books, 150, 1900))
    with rig_for(kind, zoho, books, tmp_path, monkeypatch) as rig:
        result = rig.session()
        assert "error" not in result.close_message, result.close_message
        assert_zoho_matches(zoho.fake, books)
        assert rig.claim_checks() == 1  # the oversized invoice only
        for sid, lines in [(s, 50) for s in large] + [(huge, 150)]:
            (inv,) = zoho.fake.by_field("Invoices", "QB_TxnID", sid)
            assert len(inv["Invoiced_Items"]) == lines
        _no_drift(rig)


def test_the_aws_rig_refuses_what_sqs_refuses(monkeypatch) -> None:
    """moto accepts oversized batches; the rig's hooks make them fail as SQS does."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from tests.integration.integrity_rig import enforce_sqs_limits

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        session = boto3.Session()
        enforce_sqs_limits(session)
        sqs = session.client("sqs")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        entries = [{"Id": str(i), "MessageBody": "x" * 60_000} for i in range(10)]
        with pytest.raises(ClientError, match="BatchRequestTooLong"):
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        with pytest.raises(ClientError, match="InvalidParameterValue"):
            sqs.send_message(QueueUrl=url, MessageBody="x" * (256 * 1024 + 1))
        sqs.send_message_batch(QueueUrl=url, Entries=entries[:4])
