"""QuickBooks Online webhooks: signatures, both payload formats, de-duplication, bounds."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from lambdas.qbo.notices import NOTICES_PER_MESSAGE, ChangeNotice, pack, unpack
from lambdas.qbo.webhooks import (
    parse_notices,
    receive_webhook,
    sign,
    verify_signature,
)
from lambdas.store.ports import StoreError
from lambdas.store.sqlite import SqliteChangeQueue, SqliteDatabase, SqliteSeenEvents
from tests.qbo_double import InMemoryQbo, signed
from tests.qbo_samples import customer, invoice

TOKEN = "verifier-token-3f9a1c"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Ports:
    def __init__(self, tmp_path) -> None:
        db = SqliteDatabase.in_dir(tmp_path)
        self.seen = SqliteSeenEvents(db)
        self.queue = SqliteChangeQueue(db)
        self.now = 1_780_000_000.0

    def deliver(self, body: bytes, headers: dict[str, str], **kw):
        return receive_webhook(body, headers, TOKEN, self.seen, self.queue, lambda: self.now, **kw)

    def queued(self) -> list[ChangeNotice]:
        got = self.queue.receive(100)
        self.queue.delete([m.receipt for m in got])
        return unpack([m.change.body for m in got])


@pytest.fixture
def ports(tmp_path) -> Ports:
    return Ports(tmp_path)


@pytest.fixture
def company() -> InMemoryQbo:
    qbo = InMemoryQbo("9130350", NOW)
    c = qbo.create("Customer", **customer(1))
    qbo.create("Invoice", **invoice(c["Id"], []))
    qbo.update("Customer", c["Id"], Notes="x")
    return qbo


def test_the_signature_is_the_base64_hmac_of_the_raw_body():
    body = b'[{"id":"1"}]'
    assert verify_signature(body, sign(body, TOKEN), TOKEN)
    assert not verify_signature(body, sign(body, "another-token"), TOKEN)
    assert not verify_signature(body + b" ", sign(body, TOKEN), TOKEN)
    assert not verify_signature(body, None, TOKEN)
    assert not verify_signature(body, "", TOKEN)
    assert not verify_signature(body, "not base64 !!", TOKEN)
    assert not verify_signature(body, sign(body, ""), "")  # no token configured: refuse all
    assert not verify_signature(body, base64.b64encode(b"short").decode(), TOKEN)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"intuit-signature": "bm9wZQ=="},
        "wrong key",
        "altered body",
    ],
)
def test_refused_deliveries_are_401_and_queue_nothing(ports, company, headers):
    body = company.cloud_events(company.changes)
    if headers == "wrong key":
        headers = signed(body, "wrong-" + TOKEN)
    elif headers == "altered body":
        headers = signed(body, TOKEN)
        body = body.replace(b'"1"', b'"2"', 1)
    result = ports.deliver(body, headers)
    assert result.status == 401 and result.queued == 0
    assert ports.queue.depth() == 0
    # Nothing was remembered either: the genuine delivery still goes through.
    genuine = company.cloud_events(company.changes)
    assert ports.deliver(genuine, signed(genuine, TOKEN)).queued == 3


def test_cloud_events_become_notices(ports, company):
    body = company.cloud_events(company.changes)
    result = ports.deliver(body, {"Intuit-Signature": sign(body, TOKEN)})  # any header case
    assert (result.status, result.queued, result.duplicates) == (200, 3, 0)
    got = ports.queued()
    assert [(n.realm, n.entity, n.id, n.operation) for n in got] == [
        ("9130350", "Customer", "1", "Create"),
        ("9130350", "Invoice", "1", "Create"),
        ("9130350", "Customer", "1", "Update"),
    ]
    assert [n.event_id for n in got] == [c.event_id for c in company.changes]
    assert got[0].occurred == "2026-03-01T12:00:01+00:00"


def test_legacy_event_notifications_become_notices(ports, company):
    company.merge("Customer", "1", company.create("Customer", **customer(2))["Id"])
    body = company.legacy(company.changes)
    result = ports.deliver(body, signed(body, TOKEN))
    assert (result.status, result.queued) == (200, 5)
    got = ports.queued()
    assert [n.operation for n in got] == ["Create", "Create", "Update", "Create", "Merge"]
    merge = got[-1]
    assert (merge.entity, merge.id, merge.merged_id) == ("Customer", "2", "1")
    assert merge.event_id == f"9130350:Customer:2:Merge:{merge.occurred}"


def test_cloud_event_types_map_to_operations_and_unknown_entities_are_skipped():
    events = [
        {"id": f"e{i}", "type": t, "intuitaccountid": "1", "intuitentityid": "5", "time": ""}
        for i, t in enumerate(
            [
                "qbo.salesreceipt.voided.v1",
                "qbo.creditmemo.deleted.v1",
                "qbo.payment.emailed.v1",
                "qbo.account.created.v1",
                "qbo.customer.merged.v1",
            ]
        )
    ]
    events[4]["data"] = {"deletedId": "4"}
    notices, skipped = parse_notices(json.dumps(events).encode())
    assert [(n.entity, n.operation) for n in notices] == [
        ("SalesReceipt", "Void"),
        ("CreditMemo", "Delete"),
        ("Payment", "Emailed"),
        ("Customer", "Merge"),
    ]
    assert skipped == 1 and notices[-1].merged_id == "4"


def test_a_repeated_event_id_is_queued_once(ports, company):
    body = company.cloud_events(company.changes)
    first = ports.deliver(body, signed(body, TOKEN))
    again = ports.deliver(body, signed(body, TOKEN))  # Intuit's retry of the same delivery
    assert (first.queued, again.queued, again.duplicates) == (3, 0, 3)
    doubled = company.cloud_events(company.changes[:1] * 2 + [company.changes[1]])
    assert ports.deliver(doubled, signed(doubled, TOKEN)).queued == 0
    assert len(ports.queued()) == 3
    # Past the remembered time an id is new again.
    ports.now += 4 * 24 * 3600
    assert ports.deliver(body, signed(body, TOKEN)).queued == 3


def test_a_refused_queue_is_503_and_the_retry_goes_through(ports, company):
    body = company.cloud_events(company.changes)

    class Broken:
        def send(self, changes):
            raise StoreError("queue down")

    result = receive_webhook(body, signed(body, TOKEN), TOKEN, ports.seen, Broken(), lambda: 1.0)
    assert result.status == 503 and result.queued == 0
    assert ports.deliver(body, signed(body, TOKEN)).queued == 3


def test_bounds_and_unreadable_signed_bodies(ports, company):
    body = company.cloud_events(company.changes)
    assert ports.deliver(body, signed(body, TOKEN), max_body_bytes=len(body) - 1).status == 413
    assert ports.deliver(body, signed(body, TOKEN), max_events=2).status == 413
    for junk in (b"not json", b'{"something": 1}', b'[{"type": "qbo.customer.created.v1"}]'):
        result = ports.deliver(junk, signed(junk, TOKEN))
        assert (
            result.status == 200 and result.queued == 0 and result.reason.startswith("unreadable")
        )
    assert ports.queue.depth() == 0


def test_notices_travel_in_bounded_messages_per_realm():
    notices = [
        ChangeNotice(
            realm=r,
            entity="Customer",
            id=str(i),
            operation="Update",
            occurred="",
            event_id=f"{r}{i}",
        )
        for r in ("a", "b")
        for i in range(NOTICES_PER_MESSAGE + 3)
    ]
    messages = pack(notices)
    assert [m.realm for m in messages] == ["a", "a", "b", "b"]
    assert all(len(json.loads(m.body)) <= NOTICES_PER_MESSAGE for m in messages)
    assert unpack([m.body for m in messages]) == notices
    assert len({m.dedup_id for m in messages}) == 4


def test_a_signed_body_nested_past_the_stack_is_unreadable_not_a_crash(ports):
    # 2 MiB allows far deeper nesting than json.loads can recurse: a 500 would have Intuit
    # retry the delivery and hold back the realm's later events.
    deep = b"[" * 200_000 + b"]" * 200_000
    result = ports.deliver(deep, signed(deep, TOKEN))
    assert result.status == 200 and result.reason.startswith("unreadable")
    assert ports.queue.depth() == 0
