"""One contract for the WriteBackStore adapters: SQLite and DynamoDB (via moto)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.store.dynamo import DynamoWriteBackStore
from lambdas.store.ports import ConcurrentUpdate
from lambdas.store.sqlite import SqliteDatabase, SqliteWriteBackStore
from lambdas.writeback.model import (
    ACCOUNTS,
    ADD,
    CUSTOMER,
    DEALS,
    INVOICE,
    MOD,
    OUTCOME_SECONDS,
    Conflict,
    OpStatus,
    WriteOp,
    op_id,
)
from lambdas.writeback.targets import TargetedStore
from tests.aws_tables import SerialClient, create_writeback_table

P, S, U, A, N = (
    OpStatus.PENDING,
    OpStatus.SENT,
    OpStatus.UNKNOWN,
    OpStatus.APPLIED,
    OpStatus.NOT_APPLIED,
)


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Fixture:
    kind: str
    store: Any
    clock: Clock
    raw: Callable[[str, str], dict[str, Any] | None]  # the stored row/item of an operation


@pytest.fixture(params=["sqlite", "aws"])
def wb(request, tmp_path) -> Iterator[Fixture]:
    clock = Clock()
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)

        def row(tenant: str, op: str) -> dict[str, Any] | None:
            conn = db.connection()
            cur = conn.execute(
                "SELECT * FROM writeback_ops WHERE tenant = ? AND op_id = ?", (tenant, op)
            )
            found = cur.fetchone()
            names = [d[0] for d in cur.description]
            return (
                {k: v for k, v in zip(names, found, strict=True) if v is not None}
                if found
                else None
            )

        yield Fixture("sqlite", SqliteWriteBackStore(db, clock=clock), clock, row)
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_writeback_table(ddb, "writeback")

        def item(tenant: str, op: str) -> dict[str, Any] | None:
            key = {"pk": {"S": tenant}, "sk": {"S": "op#" + op}}
            return ddb.get_item(TableName="writeback", Key=key).get("Item")

        store = DynamoWriteBackStore(
            SerialClient(ddb), "writeback", sleep=lambda _s: None, clock=clock
        )
        yield Fixture("aws", store, clock, item)


def _op(
    zoho_id: str = "1", seq: int = 1, *, tenant: str = "acme", version: str = "v1", **kw: Any
) -> WriteOp:
    return WriteOp(
        tenant=tenant,
        op_id=kw.pop("op_id", op_id(ACCOUNTS, zoho_id, version)),
        seq=seq,
        kind=kw.pop("kind", CUSTOMER),
        action=kw.pop("action", ADD),
        edition=kw.pop("edition", "qbd"),
        zoho_module=kw.pop("zoho_module", ACCOUNTS),
        zoho_id=zoho_id,
        zoho_version=version,
        fields=kw.pop("fields", {"name": f"Account {zoho_id}", "bill_address.city": "Tulsa"}),
        created_at=kw.pop("created_at", 500.0),
        **kw,
    )


def test_enqueue_is_idempotent_by_op_id_and_round_trips_every_attribute(wb: Fixture) -> None:
    op = _op(
        action=MOD,
        base={"name": "Old name"},
        qb_id="80000001-1",
        qb_version="1700000000",
        depends_on="wb-a-123",
    )
    assert wb.store.enqueue(op) is True
    assert wb.store.enqueue(op.with_(fields={"name": "other"})) is False
    assert wb.store.get("acme", op.op_id) == op
    assert wb.store.get("beta", op.op_id) is None
    assert wb.store.get("acme", "wb-a-missing") is None

    invoice = _op(
        "d1",
        2,
        op_id=op_id(DEALS, "d1", "invoice"),
        kind=INVOICE,
        zoho_module=DEALS,
        customer_zoho_id="1",
        fields={
            "txn_date": "2024-05-01",
            "memo": "Big deal",
            "amount": "20.00",
            "lines": [{"item": "Consulting", "description": "é", "quantity": "2", "rate": "10.00"}],
        },
    )
    wb.store.enqueue(invoice)
    done = wb.store.mark(
        "acme",
        invoice.op_id,
        [P],
        A,
        outcome_at=900.0,
        attempts=1,
        sent_at=800.0,
        message_set_id="ms-1",
        qb_id="1A-1",
        ref_number="1001",
        result_version="17",
        linked=True,
        error_code="",
        error="",
        conflicts=(Conflict("name", "QB name", "Zoho name", "qb"),),
    )
    assert done == wb.store.get("acme", invoice.op_id)
    assert done.fields == invoice.fields
    assert (done.status, done.qb_id, done.ref_number, done.linked) == (A, "1A-1", "1001", True)
    assert done.conflicts == (Conflict("name", "QB name", "Zoho name", "qb"),)
    assert (done.sent_at, done.outcome_at, done.attempts) == (800.0, 900.0, 1)


def test_open_ops_are_the_open_ones_lowest_seq_first_up_to_limit(wb: Fixture) -> None:
    for zoho_id, seq in (("a", 30), ("b", 10), ("c", 50), ("d", 20), ("e", 40)):
        wb.store.enqueue(_op(zoho_id, seq))
    wb.store.enqueue(_op("z", 5, tenant="beta"))
    ids = {o.zoho_id: o.op_id for o in wb.store.list("acme")}
    wb.store.mark("acme", ids["d"], [P], S, attempts=1)
    wb.store.mark("acme", ids["d"], [S], U)
    wb.store.mark("acme", ids["b"], [P], A, outcome_at=2.0)
    wb.store.mark("acme", ids["c"], [P], S)
    assert [o.zoho_id for o in wb.store.open_ops("acme")] == ["d", "a", "e", "c"]
    assert [o.status for o in wb.store.open_ops("acme")] == [U, P, P, S]
    assert [o.zoho_id for o in wb.store.open_ops("acme", limit=2)] == ["d", "a"]
    assert [o.zoho_id for o in wb.store.open_ops("beta")] == ["z"]
    assert wb.store.open_ops("nobody") == []
    # An operation that becomes open again (e.g. a retryable answer) is listed again.
    wb.store.mark("acme", ids["c"], [S], P)
    assert [o.zoho_id for o in wb.store.open_ops("acme")] == ["d", "a", "e", "c"]


def test_latest_for_is_the_highest_seq_of_the_record_whatever_its_status(wb: Fixture) -> None:
    first = _op("7", 10, version="v1")
    newer = _op("7", 30, version="v3")
    late_older = _op("7", 20, version="v2")  # enqueued after a later one (a slow capture)
    wb.store.enqueue(first)
    assert wb.store.latest_for("acme", ACCOUNTS, "7") == first
    wb.store.enqueue(newer)
    wb.store.enqueue(late_older)
    assert wb.store.latest_for("acme", ACCOUNTS, "7").op_id == newer.op_id
    wb.store.mark("acme", newer.op_id, [P], N, error="refused", outcome_at=5.0)
    latest = wb.store.latest_for("acme", ACCOUNTS, "7")
    assert (latest.op_id, latest.status, latest.error) == (newer.op_id, N, "refused")
    assert wb.store.get("acme", late_older.op_id) == late_older
    assert wb.store.latest_for("acme", ACCOUNTS, "8") is None
    assert wb.store.latest_for("acme", DEALS, "7") is None
    assert wb.store.latest_for("beta", ACCOUNTS, "7") is None


def test_mark_holds_only_when_status_and_rev_are_the_expected_ones(wb: Fixture) -> None:
    op = _op()
    wb.store.enqueue(op)
    with pytest.raises(ConcurrentUpdate):
        wb.store.mark("acme", op.op_id, [S], A)  # wrong status
    with pytest.raises(ConcurrentUpdate):
        wb.store.mark("acme", op.op_id, [P], S, rev=1)  # wrong rev
    with pytest.raises(ConcurrentUpdate):
        wb.store.mark("acme", "wb-a-missing", [P], S)  # no such operation
    with pytest.raises(ConcurrentUpdate):
        wb.store.mark("beta", op.op_id, [P], S)  # another tenant's
    assert wb.store.get("acme", "wb-a-missing") is None  # a failed mark creates nothing
    with pytest.raises(ValueError):
        wb.store.mark("acme", op.op_id, [P], S, fields={"name": "x"})  # not the writer's
    with pytest.raises(ValueError):
        wb.store.mark("acme", op.op_id, [], S)
    assert wb.store.get("acme", op.op_id) == op
    sent = wb.store.mark(
        "acme", op.op_id, [P, U], S, rev=0, attempts=1, sent_at=10.0, message_set_id="m1"
    )
    assert (sent.status, sent.attempts, sent.sent_at, sent.message_set_id) == (S, 1, 10.0, "m1")
    # Only the outcome attributes and the status changed.
    assert sent.with_(status=P, attempts=0, sent_at=None, message_set_id="") == op
    lost = wb.store.mark("acme", op.op_id, [S], U)
    assert (lost.status, lost.attempts, lost.sent_at) == (U, 1, 10.0)


def test_mark_can_hold_only_for_the_send_it_saw(wb: Fixture) -> None:
    op = _op()
    wb.store.enqueue(op)
    wb.store.mark("acme", op.op_id, [P], S, sent_at=1_800_000_000.123456)
    with pytest.raises(ConcurrentUpdate):  # another writer sent it again since
        wb.store.mark("acme", op.op_id, [S], U, expect_sent_at=1_800_000_000.0)
    lost = wb.store.mark("acme", op.op_id, [S], U, expect_sent_at=1_800_000_000.123456)
    assert lost.status == U and lost.sent_at == 1_800_000_000.123456


def test_supersede_replaces_content_only_while_pending_at_the_expected_rev(wb: Fixture) -> None:
    op = _op(base={"name": "Base"})
    wb.store.enqueue(op)
    new = wb.store.supersede(
        "acme", op.op_id, 0, fields={"name": "Newer"}, zoho_version="v2", base={"name": "B2"}
    )
    assert (new.rev, new.fields, new.zoho_version, new.base) == (
        1,
        {"name": "Newer"},
        "v2",
        {"name": "B2"},
    )
    assert new.with_(rev=0, fields=op.fields, zoho_version="v1", base=op.base) == op
    assert wb.store.get("acme", op.op_id) == new
    with pytest.raises(ConcurrentUpdate):  # rev moved
        wb.store.supersede("acme", op.op_id, 0, fields={}, zoho_version="v3", base={})
    with pytest.raises(ConcurrentUpdate):  # no such operation
        wb.store.supersede("acme", "wb-a-missing", 0, fields={}, zoho_version="v3", base={})
    with pytest.raises(ConcurrentUpdate):
        wb.store.mark("acme", op.op_id, [P], S, rev=0)  # the writer's copy is stale
    wb.store.mark("acme", op.op_id, [P], S, rev=1)
    with pytest.raises(ConcurrentUpdate):  # no longer pending
        wb.store.supersede("acme", op.op_id, 1, fields={}, zoho_version="v3", base={})
    assert wb.store.get("acme", op.op_id).fields == {"name": "Newer"}


def test_final_operations_carry_the_ttl_attribute_and_open_ones_do_not(wb: Fixture) -> None:
    op = _op()
    wb.store.enqueue(op.with_(expires_at=5.0))  # an open operation never expires
    assert wb.store.get("acme", op.op_id).expires_at is None
    assert "expires_at" not in wb.raw("acme", op.op_id)
    wb.store.mark("acme", op.op_id, [P], S)
    with pytest.raises(ValueError):
        wb.store.mark("acme", op.op_id, [S], U, expires_at=9.0)
    done = wb.store.mark("acme", op.op_id, [S], A, outcome_at=2000.0)
    assert done.expires_at == 2000.0 + OUTCOME_SECONDS
    assert float(_raw_number(wb.raw("acme", op.op_id)["expires_at"])) == done.expires_at
    explicit = _op("2", 2)
    wb.store.enqueue(explicit)
    given = wb.store.mark("acme", explicit.op_id, [P], N, outcome_at=10.0, expires_at=99.0)
    assert given.expires_at == 99.0
    # Validation refuses an operation before sending: it is stored final and expires too.
    refused = _op("3", 3, status=N, error="name too long", outcome_at=None)
    wb.store.enqueue(refused)
    assert wb.store.get("acme", refused.op_id).expires_at == wb.clock.now + OUTCOME_SECONDS
    if wb.kind == "aws":
        assert "open_seq" not in wb.raw("acme", op.op_id)
        assert "open_seq" in wb.raw("acme", _enqueue(wb, _op("4", 4)).op_id)


def _raw_number(value: Any) -> Any:
    return value["N"] if isinstance(value, dict) else value


def _enqueue(wb: Fixture, op: WriteOp) -> WriteOp:
    wb.store.enqueue(op)
    return op


def test_sqlite_removes_expired_outcomes_as_dynamodb_ttl_does(wb: Fixture) -> None:
    if wb.kind != "sqlite":
        pytest.skip("DynamoDB's TTL removes them (not simulated by moto)")
    old, open_one = _op("1", 1), _op("2", 2)
    wb.store.enqueue(old)
    wb.store.enqueue(open_one)
    wb.store.mark("acme", old.op_id, [P], A, outcome_at=wb.clock.now)
    wb.clock.now += OUTCOME_SECONDS + 1
    wb.store.enqueue(_op("3", 3))
    assert wb.store.get("acme", old.op_id) is None
    assert wb.store.get("acme", open_one.op_id) is not None


def test_counts_and_lists_newest_first(wb: Fixture) -> None:
    assert wb.store.counts("acme") == {str(s): 0 for s in OpStatus}
    ops = [_op(str(i), 100 + i) for i in range(6)]
    for op in ops:
        wb.store.enqueue(op)
    wb.store.enqueue(_op("x", 1, tenant="beta"))
    wb.store.mark("acme", ops[0].op_id, [P], A, outcome_at=1.0)
    wb.store.mark("acme", ops[2].op_id, [P], A, outcome_at=1.0)
    wb.store.mark("acme", ops[3].op_id, [P], N, outcome_at=1.0)
    wb.store.mark("acme", ops[4].op_id, [P], S)
    assert wb.store.counts("acme") == {
        "pending": 2,
        "sent": 1,
        "unknown": 0,
        "applied": 2,
        "not_applied": 1,
    }
    assert [o.zoho_id for o in wb.store.list("acme")] == ["5", "4", "3", "2", "1", "0"]
    assert [o.zoho_id for o in wb.store.list("acme", limit=3)] == ["5", "4", "3"]
    assert [o.zoho_id for o in wb.store.list("acme", A)] == ["2", "0"]
    assert [o.zoho_id for o in wb.store.list("acme", P, limit=1)] == ["5"]
    assert wb.store.list("acme", U) == []
    assert [o.zoho_id for o in wb.store.list("beta")] == ["x"]


def test_cursors_per_tenant_and_name(wb: Fixture) -> None:
    assert wb.store.cursor("acme", "Accounts") is None
    wb.store.set_cursor("acme", "Accounts", "2024-05-01T10:00:00+00:00")
    wb.store.set_cursor("acme", "Deals", "2024-05-02T10:00:00+00:00")
    wb.store.set_cursor("acme", "Accounts", "2024-05-03T10:00:00+00:00")
    assert wb.store.cursor("acme", "Accounts") == "2024-05-03T10:00:00+00:00"
    assert wb.store.cursor("acme", "Deals") == "2024-05-02T10:00:00+00:00"
    assert wb.store.cursor("beta", "Accounts") is None
    # Cursors are not operations.
    assert wb.store.list("acme") == [] and wb.store.open_ops("acme") == []


def test_delete_tenant_removes_its_operations_and_cursors_only(wb: Fixture) -> None:
    for i in range(30):
        wb.store.enqueue(_op(str(i), i))
    wb.store.enqueue(_op("1", 1, tenant="beta"))
    wb.store.set_cursor("acme", "Accounts", "t")
    wb.store.set_cursor("beta", "Accounts", "b")
    assert wb.store.delete_tenant("acme") == 30
    assert wb.store.list("acme") == [] and wb.store.counts("acme")["pending"] == 0
    assert wb.store.cursor("acme", "Accounts") is None
    assert wb.store.latest_for("acme", ACCOUNTS, "1") is None
    assert wb.store.cursor("beta", "Accounts") == "b"
    assert len(wb.store.open_ops("beta")) == 1
    assert wb.store.delete_tenant("acme") == 0
    # The tenant can start over (a recreated tenant of the same name).
    assert wb.store.enqueue(_op("1", 1)) is True
    assert wb.store.latest_for("acme", ACCOUNTS, "1").seq == 1


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` at once (released together); each result, or the exception it raised."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait(timeout=10)
        try:
            return call()
        except ConcurrentUpdate as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_two_writers_marking_one_operation_sent_exactly_one_wins(wb: Fixture) -> None:
    for i in range(15):
        op = _op(str(i), i)
        wb.store.enqueue(op)
        results = _race(
            *(
                lambda n=n, op=op: wb.store.mark(
                    "acme", op.op_id, [P], S, rev=0, attempts=1, message_set_id=f"w{n}"
                )
                for n in range(3)
            )
        )
        won = [r for r in results if isinstance(r, WriteOp)]
        assert len(won) == 1, results
        assert sum(isinstance(r, ConcurrentUpdate) for r in results) == 2
        stored = wb.store.get("acme", op.op_id)
        assert (stored.status, stored.attempts) == (S, 1)
        assert stored.message_set_id == won[0].message_set_id


def test_capture_superseding_while_the_writer_marks_loses_no_update(wb: Fixture) -> None:
    outcomes = set()
    for i in range(15):
        op = _op(str(i), 10 * i)
        wb.store.enqueue(op)
        newer = {"name": f"Renamed {i}"}
        capture, writer = _race(
            lambda op=op, newer=newer: wb.store.supersede(
                "acme", op.op_id, 0, fields=newer, zoho_version="v2", base={}
            ),
            lambda op=op: wb.store.mark("acme", op.op_id, [P], S, rev=0, attempts=1),
        )
        assert isinstance(capture, WriteOp) != isinstance(writer, WriteOp), (capture, writer)
        stored = wb.store.get("acme", op.op_id)
        if isinstance(capture, WriteOp):
            # The writer lost: it must re-read, and sends the newer content.
            outcomes.add("capture")
            assert (stored.status, stored.rev, stored.fields) == (P, 1, newer)
            fresh = wb.store.mark("acme", op.op_id, [P], S, rev=stored.rev, attempts=1)
            assert fresh.fields == newer
        else:
            # The capture lost: the op went out with the old content; the newer version
            # becomes an operation of its own behind it (what capture does on SENT).
            outcomes.add("writer")
            assert (stored.status, stored.rev, stored.fields) == (S, 0, op.fields)
            follow = _op(str(i), 10 * i + 1, version="v2", fields=newer, depends_on=op.op_id)
            assert wb.store.enqueue(follow) is True
            assert wb.store.latest_for("acme", ACCOUNTS, str(i)).op_id == follow.op_id
    assert outcomes  # each case ended with exactly one winner and its content kept


def test_one_editions_open_operations_are_found_behind_the_others(wb: Fixture) -> None:
    # A tenant that moved between editions keeps the old edition's open operations; they must
    # not hide the new edition's from its writer however small the limit (a live Desktop
    # tenant's authenticate asks for one operation to decide whether a session is due).
    for n in range(3):
        wb.store.enqueue(_op(f"old{n}", n + 1, edition="qbo"))
    wb.store.enqueue(_op("new", 10, edition="qbd"))
    desktop = TargetedStore(wb.store, "qbd")
    assert [o.zoho_id for o in desktop.open_ops("acme", limit=1)] == ["new"]
    assert [o.zoho_id for o in desktop.open_ops("acme")] == ["new"]
    online = TargetedStore(wb.store, "qbo")
    assert [o.zoho_id for o in online.open_ops("acme", limit=2)] == ["old0", "old1"]
