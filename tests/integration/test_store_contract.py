"""One contract for every store adapter: SQLite (embedded default) and DynamoDB/SQS (via moto)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.store.dynamo import (
    DynamoForwarderState,
    DynamoLoginThrottle,
    DynamoMappingStore,
    DynamoSessionStore,
    DynamoTenantStore,
    DynamoTokenCache,
    SecretsManagerSecretStore,
    SqsDeadLetterQueue,
    SqsRecordQueue,
)
from lambdas.store.files import FileSecretStore, FileTokenCache
from lambdas.store.ports import (
    AlreadyExists,
    Claim,
    ConcurrentUpdate,
    DeadLetter,
    DeliveryOutcome,
    DeliveryStatus,
    Handoff,
    Pause,
    QueueMessage,
    SessionRecord,
    StoreError,
    Tenant,
    ThrottlePolicy,
    ZohoToken,
)
from lambdas.store.sqlite import (
    SqliteDatabase,
    SqliteDeadLetterQueue,
    SqliteForwarderState,
    SqliteLoginThrottle,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteSessionStore,
    SqliteTenantStore,
)
from qwc import is_braced_guid, new_guid
from tests.aws_tables import SerialClient, create_mappings_table, create_pk_table


@dataclass
class Stores:
    tenants: Any
    sessions: Any
    queue: Any


@pytest.fixture(params=["sqlite", "aws"])
def stores(request, tmp_path) -> Iterator[Stores]:
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)
        yield Stores(SqliteTenantStore(db), SqliteSessionStore(db), SqliteRecordQueue(db, 30))
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        create_pk_table(ddb, "tenants")
        create_pk_table(ddb, "sessions")
        url = sqs.create_queue(QueueName="records", Attributes={"VisibilityTimeout": "30"})[
            "QueueUrl"
        ]
        serial = SerialClient(ddb)
        yield Stores(
            DynamoTenantStore(serial, "tenants"),
            DynamoSessionStore(serial, "sessions"),
            SqsRecordQueue(sqs, url),
        )


def _tenant(name: str = "acme", user: str = "acme-qbwc") -> Tenant:
    return Tenant(name=name, qbwc_user=user, password_hash="scrypt$x", created_at=1.0)


def test_tenant_create_get_find_list_update_delete(stores: Stores) -> None:
    t = _tenant()
    stores.tenants.create(t)
    stores.tenants.create(_tenant("beta", "beta-qbwc"))
    assert stores.tenants.get("acme") == t
    assert stores.tenants.find_by_user("acme-qbwc") == t
    assert stores.tenants.find_by_user("ghost") is None
    assert [x.name for x in stores.tenants.list()] == ["acme", "beta"]
    t.enabled_entities = ()
    t.last_sync_at = 123.5
    stores.tenants.update(t)
    assert stores.tenants.get("acme").last_sync_at == 123.5
    assert stores.tenants.get("acme").enabled_entities == ()
    assert stores.tenants.delete("acme") is True
    assert stores.tenants.delete("acme") is False
    assert stores.tenants.find_by_user("acme-qbwc") is None


def test_the_relays_session_facts_survive_a_settings_update_from_a_stale_copy(
    stores: Stores,
) -> None:
    stores.tenants.create(_tenant())
    stale = stores.tenants.get("acme")  # the CLI read it before the session ended
    stores.tenants.record_session("acme", "Synced 3 customers", 500.0)
    stores.tenants.record_session("acme", "No changes", None)  # not completed: time stays
    stale.min_interval_seconds = 900
    stores.tenants.update(stale)
    t = stores.tenants.get("acme")
    assert (t.last_summary, t.last_sync_at, t.min_interval_seconds) == ("No changes", 500.0, 900)
    assert [x.last_summary for x in stores.tenants.list()] == ["No changes"]
    with pytest.raises(StoreError):
        stores.tenants.record_session("ghost", "x", None)


def test_the_web_connector_version_is_a_relay_attribute_beside_the_settings(
    stores: Stores,
) -> None:
    stores.tenants.create(_tenant())
    stale = stores.tenants.get("acme")
    stores.tenants.record_session("acme", "Synced 3 customers", 500.0)
    stores.tenants.record_client("acme", "2.3.0.215", 490.0)
    stores.tenants.record_client("acme", "2.3.0.215", 600.0)  # the latest sighting wins
    stale.min_interval_seconds = 900
    stores.tenants.update(stale)
    t = stores.tenants.get("acme")
    assert (t.qbwc_version, t.qbwc_seen_at) == ("2.3.0.215", 600.0)
    assert (t.last_summary, t.last_sync_at, t.min_interval_seconds) == (
        "Synced 3 customers",
        500.0,
        900,
    )
    assert [(x.name, x.qbwc_version) for x in stores.tenants.list()] == [("acme", "2.3.0.215")]
    assert stores.tenants.find_by_user("acme-qbwc").qbwc_version == "2.3.0.215"
    with pytest.raises(StoreError):
        stores.tenants.record_client("ghost", "2.3.0.215", 1.0)
    # Giving a tenant of an earlier release its FileID keeps the relay's attributes.
    stores.tenants.ensure_file_id("acme")
    assert stores.tenants.get("acme").qbwc_version == "2.3.0.215"
    assert stores.tenants.get("acme").last_summary == "Synced 3 customers"
    # A tenant added again under the same name starts without the old one's version.
    assert stores.tenants.delete("acme") is True
    stores.tenants.create(_tenant())
    assert stores.tenants.get("acme").qbwc_version == ""


def test_client_notes_live_briefly_one_per_address(stores: Stores) -> None:
    assert stores.sessions.client_note("203.0.113.7", now=100.0) is None
    stores.sessions.note_client("203.0.113.7", "2.2.0.71", now=100.0, expires_at=400.0)
    stores.sessions.note_client("203.0.113.7", "2.3.0.215", now=110.0, expires_at=410.0)
    stores.sessions.note_client("2001:db8::1", "2.1.0.30", now=110.0, expires_at=410.0)
    assert stores.sessions.client_note("203.0.113.7", now=200.0) == "2.3.0.215"
    assert stores.sessions.client_note("2001:db8::1", now=200.0) == "2.1.0.30"
    assert stores.sessions.client_note("198.51.100.9", now=200.0) is None
    assert stores.sessions.client_note("203.0.113.7", now=410.0) is None  # expired
    # A note is no session: its key is a helper item's.
    assert stores.sessions.get("@client#203.0.113.7", now=200.0) is None
    assert stores.sessions.get("203.0.113.7", now=200.0) is None


def test_tenant_names_and_users_are_unique(stores: Stores) -> None:
    stores.tenants.create(_tenant())
    with pytest.raises(AlreadyExists):
        stores.tenants.create(_tenant("acme", "other"))
    with pytest.raises(AlreadyExists):
        stores.tenants.create(_tenant("other", "acme-qbwc"))
    with pytest.raises(StoreError):
        stores.tenants.update(_tenant("ghost", "ghost"))


def test_one_live_session_per_tenant(stores: Stores) -> None:
    first = SessionRecord(ticket="t1", tenant="acme", expires_at=200.0, state={"a": 1})
    assert stores.sessions.create(first, now=100.0) is True
    assert stores.sessions.create(SessionRecord("t2", "acme", 300.0), now=150.0) is False
    assert stores.sessions.create(SessionRecord("t3", "beta", 300.0), now=150.0) is True
    # After the first one's lease ran out, a new session may start.
    assert stores.sessions.create(SessionRecord("t4", "acme", 400.0), now=201.0) is True


def test_the_tenant_lock_can_be_shorter_than_the_session(stores: Stores) -> None:
    first = SessionRecord("t1", "acme", expires_at=1000.0, lock_expires_at=200.0)
    assert stores.sessions.create(first, now=100.0) is True
    assert stores.sessions.create(SessionRecord("t2", "acme", 900.0), now=150.0) is False
    # Saving renews the lock with the session's new lease.
    loaded = stores.sessions.get("t1", now=150.0)
    loaded.lock_expires_at = 260.0
    stores.sessions.save(loaded)
    assert stores.sessions.create(SessionRecord("t2", "acme", 900.0), now=250.0) is False
    # Once the lock runs out a new session takes the tenant; the old one still lives and saves
    # without taking the lock back.
    taker = SessionRecord("t3", "acme", expires_at=1000.0, lock_expires_at=400.0)
    assert stores.sessions.create(taker, now=261.0) is True
    old = stores.sessions.get("t1", now=300.0)
    old.lock_expires_at = 900.0
    stores.sessions.save(old)
    assert stores.sessions.create(SessionRecord("t4", "acme", 900.0), now=401.0) is True


def test_lock_until_tells_whether_a_live_session_keeps_the_tenant_busy(stores: Stores) -> None:
    assert stores.sessions.lock_until("acme", now=100.0) is None
    live = SessionRecord("t1", "acme", expires_at=1000.0, lock_expires_at=200.0)
    assert stores.sessions.create(live, now=100.0) is True
    assert stores.sessions.lock_until("acme", now=150.0) == 200.0
    assert stores.sessions.lock_until("beta", now=150.0) is None
    assert stores.sessions.lock_until("acme", now=200.0) is None  # the lease ran out
    stores.sessions.close(stores.sessions.get("t1", now=150.0))
    assert stores.sessions.lock_until("acme", now=150.0) is None


def test_session_get_save_close(stores: Stores) -> None:
    record = SessionRecord(ticket="t1", tenant="acme", expires_at=200.0, state={"n": 1})
    stores.sessions.create(record, now=100.0)
    loaded = stores.sessions.get("t1", now=100.0)
    assert loaded.state == {"n": 1} and loaded.version == 0
    assert stores.sessions.get("t1", now=300.0) is None  # expired
    assert stores.sessions.get("nope", now=100.0) is None
    loaded.state = {"n": 2}
    stores.sessions.save(loaded)
    assert loaded.version == 1
    stale = SessionRecord(ticket="t1", tenant="acme", expires_at=200.0, version=0)
    with pytest.raises(ConcurrentUpdate):
        stores.sessions.save(stale)
    stores.sessions.close(loaded)
    closed = stores.sessions.get("t1", now=100.0)
    assert closed.closed and closed.state == {"n": 2}
    assert stores.sessions.create(SessionRecord("t2", "acme", 300.0), now=150.0) is True


def test_queue_send_receive_delete(stores: Stores) -> None:
    messages = [QueueMessage("acme", f'{{"n": {i}}}', f"acme:C:{i}:1") for i in range(23)]
    stores.queue.send(messages)
    seen = []
    for _ in range(10):
        batch = stores.queue.receive(10)
        if not batch:
            break
        seen.extend(batch)
        stores.queue.delete([m.receipt for m in batch])
    assert sorted(m.message.dedup_id for m in seen) == sorted(m.dedup_id for m in messages)
    assert all(m.message.tenant == "acme" for m in seen)
    assert stores.queue.receive(10) == []


def test_queue_rejects_oversized_message(stores: Stores) -> None:
    # SQS's limit, which the SQLite twin enforces too.
    with pytest.raises(StoreError, match="message limit"):
        stores.queue.send([QueueMessage("acme", "x" * (256 * 1024 + 1), "big")])


def test_queue_batches_by_total_bytes_as_well_as_count(stores: Stores) -> None:
    # Ten messages of 60 KB: a batch of ten would be 600 KB, over SQS's 256 KiB a batch.
    messages = [QueueMessage("acme", "x" * 60_000, f"m{i}") for i in range(10)]
    stores.queue.send(messages)
    got = []
    for _ in range(10):
        batch = stores.queue.receive(10)
        if not batch:
            break
        got += batch
        stores.queue.delete([m.receipt for m in batch])
    assert sorted(m.message.dedup_id for m in got) == sorted(m.dedup_id for m in messages)


def test_queue_counts_deliveries(stores: Stores) -> None:
    stores.queue.send([QueueMessage("acme", "{}", "once")])
    first = stores.queue.receive(10)
    assert [m.deliveries for m in first] == [1]


def _drain_order(queue: Any, size: int, limit: int = 1000) -> list[list[QueueMessage]]:
    """Receive-and-delete batches of ``size`` until the queue is empty: what each held."""
    out = []
    for _ in range(limit):
        batch = queue.receive(size)
        if not batch:
            return out
        out.append([m.message for m in batch])
        queue.delete([m.receipt for m in batch])
    raise AssertionError("queue not drained")


def test_queue_serves_tenants_in_turn_behind_a_backlog(tmp_path) -> None:
    # A backlog of 200 then one message from each of 25 other tenants: without the backlog the
    # 25 need 3 receives of 10; with it they may take one more (the backlog's own turns), never
    # the 20 receives a first-in-first-out queue would make them wait.
    queue = SqliteRecordQueue(SqliteDatabase.in_dir(tmp_path), 30)
    queue.send([QueueMessage("big", f'{{"n": {i}}}', f"big:{i}") for i in range(200)])
    quiet = [f"t{n:02d}" for n in range(25)]
    queue.send([QueueMessage(t, "{}", f"{t}:1") for t in quiet])
    batches = _drain_order(queue, 10)
    landed = {m.tenant: i for i, batch in enumerate(batches) for m in batch if m.tenant != "big"}
    assert sorted(landed) == quiet and max(landed.values()) <= 3
    # Within a tenant, oldest first; every message exactly once.
    big = [m.dedup_id for batch in batches for m in batch if m.tenant == "big"]
    assert big == [f"big:{i}" for i in range(200)]
    assert sum(len(b) for b in batches) == 225 and all(len(b) == 10 for b in batches[:-1])


def test_queue_turn_continues_after_the_last_tenant_served(tmp_path) -> None:
    queue = SqliteRecordQueue(SqliteDatabase.in_dir(tmp_path), 30)
    for round_ in range(3):
        queue.send([QueueMessage(t, "{}", f"{t}:{round_}") for t in "abcde"])
    first = [m.message.tenant for m in queue.receive(3)]
    second = [m.message.tenant for m in queue.receive(3)]
    assert sorted(first) == ["a", "b", "c"] and sorted(second) == ["a", "d", "e"]
    # Fewer tenants than places: the rest is shared between them, oldest first in each.
    rest = queue.receive(20)
    assert sorted(m.message.dedup_id for m in rest) == sorted(
        f"{t}:{r}"
        for t in "abcde"
        for r in range(3)
        if (t, r) not in {("a", 0), ("b", 0), ("c", 0), ("d", 0), ("e", 0), ("a", 1)}
    )


def test_fair_receive_keeps_visibility_deliveries_and_redrive(tmp_path) -> None:
    now = [1000.0]
    db = SqliteDatabase.in_dir(tmp_path)
    queue = SqliteRecordQueue(db, visibility_timeout=30, max_receives=2, clock=lambda: now[0])
    queue.send([QueueMessage("big", "{}", f"big:{i}") for i in range(5)])
    queue.send([QueueMessage("small", "{}", "small:0")])
    held = queue.receive(2)  # one of each tenant, neither deleted
    assert sorted((m.message.dedup_id, m.deliveries) for m in held) == [
        ("big:0", 1),
        ("small:0", 1),
    ]
    queue.send([QueueMessage("big", "{}", "big:5")])
    assert sorted(m.message.dedup_id for m in queue.receive(10)) == [
        f"big:{i}" for i in range(1, 6)
    ]
    assert queue.receive(10) == []  # every message in flight
    now[0] += 31  # every timeout over: in each tenant the one received first comes back first
    again = queue.receive(2)
    assert sorted((m.message.dedup_id, m.deliveries) for m in again) == [
        ("big:0", 2),
        ("small:0", 2),
    ]
    now[0] += 31
    # big:0 and small:0 have been received twice (max_receives): this receive moves them to the
    # dead letters, as SQS's redrive policy would, and hands out the others again.
    rest = queue.receive(10)
    assert sorted((m.message.dedup_id, m.deliveries) for m in rest) == [
        (f"big:{i}", 2) for i in range(1, 6)
    ]
    parked = db.connection().execute("SELECT body, reason FROM dead_letters").fetchall()
    assert len(parked) == 2 and all("after 2 receives" in r for _, r in parked)
    assert queue.depth() == 5


def test_sqs_messages_carry_their_tenant_as_message_group() -> None:
    # SQS serves a standard queue fairly by MessageGroupId; moto keeps it as a system attribute.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="records")["QueueUrl"]
        queue = SqsRecordQueue(sqs, url)
        odd = "a tenant with spaces"  # not a valid group id: sent as its SHA-256
        queue.send([QueueMessage(t, "{}", f"{t}:{i}") for i in range(12) for t in ("acme", odd)])
        groups: dict[str, set[str]] = {}
        for _ in range(10):
            reply = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["MessageGroupId"],
            )
            for m in reply.get("Messages", []):
                tenant = m["MessageAttributes"]["tenant"]["StringValue"]
                groups.setdefault(tenant, set()).add(m["Attributes"]["MessageGroupId"])
        assert groups == {
            "acme": {"acme"},
            odd: {"ad46bef2c8e7224c1264406d5340b252ae4146a7613c17f2edb4bf6772177f68"},
        }


# --- MappingStore ---------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "aws"])
def mappings(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        yield SqliteMappingStore(SqliteDatabase.in_dir(tmp_path))
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_mappings_table(ddb, "mappings")
        yield DynamoMappingStore(ddb, "mappings", sleep=lambda _s: None)


def _handoff(sid: str, digest: str = "h1", version: str = "100", at: float = 5.0, **kw: Any):
    base = {"tenant": "acme", "source": "qbd", "entity": "Customer"}
    base.update({k: kw.pop(k) for k in ("tenant", "entity") if k in kw})
    return Handoff(source_id=sid, content_hash=digest, version=version, at=at, **base, **kw)


def _claim(sid: str, version: str, token: str, entity: str = "Customer") -> Claim:
    return Claim("acme", "qbd", entity, sid, version, token)


def _outcome(sid: str, status: DeliveryStatus, version: str = "100", **kw: Any) -> DeliveryOutcome:
    entity = kw.pop("entity", "Customer")
    tenant = kw.pop("tenant", "acme")
    return DeliveryOutcome(tenant, "qbd", entity, sid, status, version, kw.pop("at", 9.0), **kw)


def _synced(sid: str, token: str, version: str = "100", zoho_id: str = "900", **kw: Any):
    return _outcome(
        sid,
        DeliveryStatus.SYNCED,
        version,
        content_hash=kw.pop("content_hash", "h1"),
        zoho_module="Accounts",
        zoho_id=zoho_id,
        token=token,
        **kw,
    )


def test_mapping_handoffs_and_outcomes_are_separate_facts(mappings: Any) -> None:
    assert mappings.get("acme", "qbd", "Customer", "80-1") is None
    mappings.record_handoffs([_handoff("80-1", "h1", "100", links=("I-1",))])
    m = mappings.get("acme", "qbd", "Customer", "80-1")
    assert (m.handed_hash, m.handed_version, m.handed_at, m.links) == ("h1", "100", 5.0, ("I-1",))
    assert (m.status, m.applied_hash, m.zoho_id) == ("", "", None)
    # The forwarder finishes first on AWS: its facts survive the relay's later hand-off note.
    mappings.claim(_claim("80-1", "101", "t1"))
    mappings.record_outcome(_synced("80-1", "t1", "101", content_hash="h2"))
    mappings.record_handoffs([_handoff("80-1", "h2", "101", at=6.0)])
    m = mappings.get("acme", "qbd", "Customer", "80-1")
    assert (m.zoho_id, m.applied_hash, m.applied_version, m.status) == (
        "900",
        "h2",
        "101",
        "synced",
    )
    assert (m.handed_hash, m.handed_at, m.links) == ("h2", 6.0, ("I-1",))  # links kept (None)
    # Every key is scoped by tenant, source and entity.
    assert mappings.get("beta", "qbd", "Customer", "80-1") is None
    assert mappings.get("acme", "qbd", "Item", "80-1") is None


def test_mapping_claims_order_versions_in_both_adapters(mappings: Any) -> None:
    mappings.claim(_claim("a", "105", "new"))
    with pytest.raises(ConcurrentUpdate):
        mappings.claim(_claim("a", "104", "old"))  # an older version cannot claim
    mappings.claim(_claim("a", "105", "again"))  # the same version may (a redelivery)
    # Only the latest claimer's outcome is recorded; the other is a ConcurrentUpdate.
    with pytest.raises(ConcurrentUpdate):
        mappings.record_outcome(_synced("a", "new", "105"))
    mappings.record_outcome(_synced("a", "again", "105"))
    assert mappings.claim_many([_claim("a", "90", "x"), _claim("b", "1", "y")]) == {
        "acme#qbd#Customer#a"
    }
    # Parking an older version never overwrites a newer outcome.
    lost = mappings.record_outcomes(
        [_outcome("a", DeliveryStatus.PARKED, "90", last_error="INVALID_DATA")]
    )
    assert len(lost) == 1 and mappings.get("acme", "qbd", "Customer", "a").status == "synced"


def test_mapping_claims_order_reads_of_one_version_by_read_time(mappings: Any) -> None:
    # QuickBooks changes an invoice's balance without a new EditSequence: two reads of one
    # version differ, and the later read must win whatever order they arrive in.
    mappings.claim(Claim("acme", "qbd", "Invoice", "T-1", "7", "later", read_at=200.0))
    with pytest.raises(ConcurrentUpdate):
        mappings.claim(Claim("acme", "qbd", "Invoice", "T-1", "7", "earlier", read_at=100.0))
    mappings.claim(Claim("acme", "qbd", "Invoice", "T-1", "7", "same", read_at=200.0))
    mappings.claim(Claim("acme", "qbd", "Invoice", "T-1", "8", "newer", read_at=50.0))
    m = mappings.get("acme", "qbd", "Invoice", "T-1")
    assert (m.claimed_order, m.claimed_read) == (8.0, 50.0)


def test_mapping_deletion_wins_and_a_conflict_clears_what_zoho_holds(mappings: Any) -> None:
    mappings.claim(_claim("a", "5", "t"))
    mappings.record_outcome(_outcome("a", DeliveryStatus.DELETED, "2026-01-01", content_hash="d"))
    # A write claimed before the deletion loses, and a later claim is refused.
    with pytest.raises(ConcurrentUpdate):
        mappings.record_outcome(_synced("a", "t", "5"))
    with pytest.raises(ConcurrentUpdate):
        mappings.claim(_claim("a", "6", "u"))
    with pytest.raises(ConcurrentUpdate):
        mappings.record_outcome(_outcome("a", DeliveryStatus.CONFLICT, "6", token="v"))
    assert mappings.get("acme", "qbd", "Customer", "a").status == "deleted"
    mappings.claim(_claim("b", "5", "t"))
    mappings.record_outcome(_synced("b", "t", "5"))
    mappings.record_outcome(_outcome("b", DeliveryStatus.CONFLICT, "5", token="z", last_error="x"))
    b = mappings.get("acme", "qbd", "Customer", "b")
    assert (b.status, b.applied_hash, b.zoho_id) == ("conflict", "", "900")
    with pytest.raises(ConcurrentUpdate):  # the claimer of "t" lost its token to the conflict
        mappings.record_outcome(_synced("b", "t", "5"))


def test_mapping_keeps_the_applied_fields_of_its_synced_writes(mappings: Any) -> None:
    kept = {"Account_Name": "Acme Ltd", "Phone": "555-0100", "Billing_City": ""}
    mappings.claim(_claim("a", "1", "t"))
    mappings.record_outcome(_synced("a", "t", "1", applied_fields=kept))
    assert mappings.get("acme", "qbd", "Customer", "a").applied_fields == kept
    # Its own attribute: a hand-off, a parked older version and a conflict leave it as it is.
    mappings.record_handoffs([_handoff("a", "h9", "2")])
    mappings.record_outcomes([_outcome("a", DeliveryStatus.PARKED, "0", last_error="x")])
    mappings.record_outcome(_outcome("a", DeliveryStatus.CONFLICT, "1", token="c"))
    assert mappings.get("acme", "qbd", "Customer", "a").applied_fields == kept
    # The next synced write replaces them whole; a write that loses its claim changes nothing.
    mappings.claim(_claim("a", "2", "u"))
    with pytest.raises(ConcurrentUpdate):
        mappings.record_outcome(_synced("a", "t", "2", applied_fields={"Phone": "1"}))
    mappings.record_outcome(_synced("a", "u", "2", applied_fields={"Phone": "555-0199"}))
    assert mappings.get_many("acme", "qbd", "Customer", ["a"])["a"].applied_fields == {
        "Phone": "555-0199"
    }
    assert [m.applied_fields for m in mappings.scan("acme")] == [{"Phone": "555-0199"}]
    mappings.claim(_claim("b", "1", "t"))
    mappings.record_outcome(_synced("b", "t", "1", zoho_id="901"))  # none kept: {}
    assert mappings.find_by_zoho_id("acme", "Accounts", "901").applied_fields == {}
    assert mappings.get("acme", "qbd", "Customer", "c") is None


def test_mapping_conflict_of_a_linked_record_names_its_zoho_record(mappings: Any) -> None:
    mappings.claim(_claim("a", "2", "t"))
    mappings.record_outcome(_synced("a", "t", "2", zoho_id="900"))
    linked = _outcome(
        "a", DeliveryStatus.CONFLICT, "1", token="c", zoho_module="Accounts", zoho_id="777"
    )
    mappings.record_outcome(linked)
    m = mappings.get("acme", "qbd", "Customer", "a")
    assert (m.status, m.zoho_id, m.applied_hash) == ("conflict", "777", "")
    assert mappings.find_by_zoho_id("acme", "Accounts", "777").source_id == "a"
    assert mappings.find_by_zoho_id("acme", "Accounts", "900") is None
    # A conflict naming no record keeps the one known.
    mappings.record_outcome(_outcome("a", DeliveryStatus.CONFLICT, "1", token="d"))
    assert mappings.get("acme", "qbd", "Customer", "a").zoho_id == "777"


def test_sqlite_mapping_table_of_an_earlier_release_gets_the_new_columns(tmp_path) -> None:
    import sqlite3

    path = tmp_path / "relay.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE mapping_rows (pk TEXT PRIMARY KEY, tenant TEXT NOT NULL, source TEXT "
        "NOT NULL, entity TEXT NOT NULL, source_id TEXT NOT NULL, handed_hash TEXT, "
        "handed_version TEXT, handed_at REAL, links TEXT, zoho_module TEXT, zoho_id TEXT, "
        "zoho_key TEXT, applied_hash TEXT, applied_version TEXT, status TEXT, last_error TEXT, "
        "outcome_at REAL, claimed_order REAL, claimed_read REAL, claim_token TEXT)"
    )
    old.execute(
        "INSERT INTO mapping_rows (pk, tenant, source, entity, source_id, zoho_id, status) "
        "VALUES ('acme#qbd#Customer#a', 'acme', 'qbd', 'Customer', 'a', '900', 'synced')"
    )
    old.commit()
    old.close()
    store = SqliteMappingStore(SqliteDatabase(path))
    m = store.get("acme", "qbd", "Customer", "a")
    assert (m.zoho_id, m.applied_fields) == ("900", {})
    store.claim(_claim("a", "1", "t"))
    store.record_outcome(_synced("a", "t", "1", applied_fields={"Phone": "1"}))
    assert store.get("acme", "qbd", "Customer", "a").applied_fields == {"Phone": "1"}


def test_mapping_get_many_spans_batches_and_skips_missing(mappings: Any) -> None:
    mappings.record_handoffs([_handoff(f"id-{i:03d}", f"h{i}") for i in range(230)])
    mappings.record_handoffs([_handoff("id-000", "other", tenant="beta")])
    wanted = [f"id-{i:03d}" for i in range(0, 240, 2)] + ["id-000"]  # 120 asked, one repeated
    found = mappings.get_many("acme", "qbd", "Customer", wanted)
    assert sorted(found) == [f"id-{i:03d}" for i in range(0, 230, 2)]
    assert found["id-010"].handed_hash == "h10"
    assert found["id-000"].tenant == "acme"
    assert mappings.get_many("acme", "qbd", "Customer", []) == {}
    assert mappings.get_many("acme", "qbd", "Invoice", wanted) == {}


def test_mapping_find_by_zoho_id(mappings: Any) -> None:
    mappings.record_handoffs([_handoff("x1")])  # not in ZOHO yet: not findable
    mappings.claim(_claim("y2", "1", "t"))
    mappings.record_outcome(_synced("y2", "t", "1"))
    found = mappings.find_by_zoho_id("acme", "Accounts", "900")
    assert found is not None and found.source_id == "y2"
    assert mappings.find_by_zoho_id("acme", "Contacts", "900") is None
    # The reverse index follows a changed ZOHO id.
    mappings.claim(_claim("y2", "2", "u"))
    mappings.record_outcome(_synced("y2", "u", "2", zoho_id="901"))
    assert mappings.find_by_zoho_id("acme", "Accounts", "900") is None
    assert mappings.find_by_zoho_id("acme", "Accounts", "901").source_id == "y2"


def test_mapping_list_scan_and_delete_tenant(mappings: Any) -> None:
    mappings.record_handoffs([_handoff(s) for s in ("c", "a", "b", "e")])
    mappings.record_handoffs([_handoff("d", entity="Item"), _handoff("z", tenant="beta")])
    for sid, error in (("a", "INVALID_DATA: Phone too long"), ("e", "MANDATORY_NOT_FOUND")):
        mappings.record_outcome(_outcome(sid, DeliveryStatus.PARKED, last_error=error))
    mappings.record_outcome(_outcome("z", DeliveryStatus.PARKED, tenant="beta"))
    assert [m.key for m in mappings.list("acme")] == [
        "acme#qbd#Customer#a",
        "acme#qbd#Customer#b",
        "acme#qbd#Customer#c",
        "acme#qbd#Customer#e",
        "acme#qbd#Item#d",
    ]
    parked = mappings.list("acme", status=DeliveryStatus.PARKED)
    assert [(m.source_id, m.last_error) for m in parked] == [
        ("a", "INVALID_DATA: Phone too long"),
        ("e", "MANDATORY_NOT_FOUND"),
    ]
    assert [m.source_id for m in mappings.list("acme", limit=2)] == ["a", "b"]
    assert mappings.list("acme", limit=0) == []
    # A status change moves the mapping between the status lists.
    mappings.claim(_claim("a", "100", "t"))
    mappings.record_outcome(_synced("a", "t"))
    assert [m.source_id for m in mappings.list("acme", status="parked")] == ["e"]
    assert [m.source_id for m in mappings.scan("acme")] == ["a", "b", "c", "e", "d"]
    assert mappings.count("acme") == 5 and mappings.count("beta") == 1
    assert mappings.count("ghost") == 0
    assert mappings.delete_tenant("acme") == 5
    assert mappings.count("acme") == 0 and mappings.delete_tenant("acme") == 0
    assert list(mappings.scan("acme")) == [] and [m.tenant for m in mappings.scan("beta")] == [
        "beta"
    ]


class _Throttling:
    """A DynamoDB client that leaves the second half of each batch unprocessed once."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {"batch_get_item": 0, "batch_write_item": 0}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls["batch_get_item"] += 1
        ((table, req),) = RequestItems.items()
        assert len(req["Keys"]) <= 100
        half = len(req["Keys"]) // 2
        if half == 0:
            return self._client.batch_get_item(RequestItems=RequestItems)
        page = self._client.batch_get_item(
            RequestItems={table: {**req, "Keys": req["Keys"][:half]}}
        )
        page["UnprocessedKeys"] = {table: {**req, "Keys": req["Keys"][half:]}}
        return page


def test_dynamo_mapping_batches_retry_unprocessed_keys() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_mappings_table(ddb, "mappings")
        client = _Throttling(ddb)
        store = DynamoMappingStore(client, "mappings", sleep=lambda _s: None)
        store.record_handoffs([_handoff(f"id-{i}") for i in range(60)])
        found = store.get_many("acme", "qbd", "Customer", [f"id-{i}" for i in range(150)])
        assert len(found) == 60
        assert client.calls["batch_get_item"] > 2


def test_dynamo_mapping_reads_rows_of_an_earlier_release() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_mappings_table(ddb, "mappings")
        legacy = {
            "tenant": "acme",
            "source": "qbd",
            "entity": "Customer",
            "source_id": "80-1",
            "content_hash": "h",
            "zoho_module": "Accounts",
            "zoho_id": "900",
            "status": "synced",
            "version": "7",
        }
        ddb.put_item(
            TableName="mappings",
            Item={"pk": {"S": "acme#qbd#Customer#80-1"}, "item": {"S": json.dumps(legacy)}},
        )
        m = DynamoMappingStore(ddb, "mappings").get("acme", "qbd", "Customer", "80-1")
        assert (m.applied_hash, m.applied_version, m.zoho_id, m.handed_hash) == (
            "h",
            "7",
            "900",
            "",
        )


# --- .qwc identifiers: the deployment's OwnerID and each tenant's FileID ---------------------


def test_deployment_owner_id_is_created_once(stores: Stores) -> None:
    owner = stores.tenants.deployment_owner_id()
    assert is_braced_guid(owner)
    assert stores.tenants.deployment_owner_id() == owner
    stores.tenants.create(_tenant())
    # The setting is no tenant.
    assert [t.name for t in stores.tenants.list()] == ["acme"]
    assert stores.tenants.get("@deployment") is None
    assert stores.tenants.deployment_owner_id() == owner


def test_file_id_from_create_is_found_and_kept(stores: Stores) -> None:
    t = _tenant()
    t.file_id = new_guid()
    stores.tenants.create(t)
    assert stores.tenants.get("acme").file_id == t.file_id
    assert stores.tenants.find_by_file_id(t.file_id) == t
    assert stores.tenants.find_by_file_id(t.file_id.lower()) == t
    assert stores.tenants.find_by_file_id(new_guid()) is None
    assert stores.tenants.find_by_file_id("") is None
    assert stores.tenants.ensure_file_id("acme") == t.file_id
    # A stale copy without the FileID, or one with another, does not change the stored one.
    stale = _tenant()
    stale.last_summary = "Synced 3 customers"
    stores.tenants.update(stale)
    assert stale.file_id == t.file_id
    stale.file_id = new_guid()
    stores.tenants.update(stale)
    stored = stores.tenants.get("acme")
    assert stored.file_id == t.file_id and stored.last_summary == "Synced 3 customers"
    assert stores.tenants.find_by_file_id(t.file_id).name == "acme"
    assert stores.tenants.delete("acme") is True
    assert stores.tenants.find_by_file_id(t.file_id) is None


def test_tenant_without_file_id_gets_one_once(stores: Stores) -> None:
    stores.tenants.create(_tenant())
    stores.tenants.create(_tenant("beta", "beta-qbwc"))
    assert stores.tenants.get("acme").file_id == ""
    assert stores.tenants.find_by_file_id("") is None
    file_id = stores.tenants.ensure_file_id("acme")
    assert is_braced_guid(file_id)
    assert stores.tenants.ensure_file_id("acme") == file_id
    assert stores.tenants.get("acme").file_id == file_id
    assert stores.tenants.find_by_file_id(file_id).name == "acme"
    assert stores.tenants.get("beta").file_id == ""
    assert [t.name for t in stores.tenants.list()] == ["acme", "beta"]
    with pytest.raises(StoreError):
        stores.tenants.ensure_file_id("ghost")


def test_concurrent_first_uses_agree_on_one_id(stores: Stores) -> None:
    stores.tenants.create(_tenant())
    with ThreadPoolExecutor(max_workers=4) as pool:
        owners = set(pool.map(lambda _: stores.tenants.deployment_owner_id(), range(8)))
        files = set(pool.map(lambda _: stores.tenants.ensure_file_id("acme"), range(8)))
    assert len(owners) == 1 and len(files) == 1
    assert files == {stores.tenants.get("acme").file_id}


# --- ZOHO forwarder stores: token cache, forwarder state, secrets, dead letters -------------


@dataclass
class ForwarderStores:
    tokens: Any
    state: Any
    secrets: Any
    dead_letters: Any
    read_dead_letters: Any  # () -> list of (tenant, body, reason)


@pytest.fixture(params=["sqlite", "aws"])
def fstores(request, tmp_path) -> Iterator[ForwarderStores]:
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)
        dlq = SqliteDeadLetterQueue(db)
        yield ForwarderStores(
            FileTokenCache.in_dir(tmp_path),
            SqliteForwarderState(db),
            FileSecretStore.in_dir(tmp_path),
            dlq,
            lambda: [(x.tenant, x.body, x.reason) for x in dlq.list()],
        )
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        create_pk_table(ddb, "state")
        url = sqs.create_queue(QueueName="dlq")["QueueUrl"]

        def read() -> list[tuple[str, str, str]]:
            out = []
            for _ in range(5):
                got = sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
                ).get("Messages", [])
                if not got:
                    break
                for m in got:
                    a = m["MessageAttributes"]
                    out.append((a["tenant"]["StringValue"], m["Body"], a["reason"]["StringValue"]))
            return out

        yield ForwarderStores(
            DynamoTokenCache(ddb, "state"),
            DynamoForwarderState(ddb, "state"),
            SecretsManagerSecretStore(sm, "qbxml-relay/test/"),
            SqsDeadLetterQueue(sqs, url),
            read,
        )


def test_token_cache_lease_admits_one_refresher(fstores: ForwarderStores) -> None:
    cache = fstores.tokens
    assert cache.load("acme") is None
    assert cache.try_lease("acme", "lambda-1", now=100.0, seconds=30) is True
    assert cache.try_lease("acme", "lambda-2", now=101.0, seconds=30) is False
    assert cache.try_lease("acme", "lambda-1", now=102.0, seconds=30) is True  # re-entrant
    assert cache.try_lease("beta", "lambda-2", now=101.0, seconds=30) is True  # per tenant
    token = ZohoToken("1000.abc", "https://www.zohoapis.eu", expires_at=3700.0)
    cache.save("acme", "lambda-1", token)
    assert cache.load("acme") == token
    # Saving released the lease: the next refresher may take it at once.
    assert cache.try_lease("acme", "lambda-2", now=103.0, seconds=30) is True
    cache.release("acme", "lambda-2")
    assert cache.try_lease("acme", "lambda-3", now=104.0, seconds=30) is True
    # A lease that ran out is up for grabs; the late holder's token is still kept.
    assert cache.try_lease("acme", "lambda-4", now=200.0, seconds=30) is True
    late = ZohoToken("1000.def", "https://www.zohoapis.eu", expires_at=3800.0)
    cache.save("acme", "lambda-3", late)
    assert cache.load("acme") == late
    assert cache.try_lease("acme", "lambda-5", now=201.0, seconds=30) is False  # 4 still holds


def test_token_cache_keeps_the_refresh_block(fstores: ForwarderStores) -> None:
    blocked = ZohoToken("", "", expires_at=0.0, blocked_until=900.0)
    fstores.tokens.try_lease("acme", "a", now=1.0, seconds=30)
    fstores.tokens.save("acme", "a", blocked)
    assert fstores.tokens.load("acme").blocked_until == 900.0
    assert fstores.tokens.load("acme").usable(now=1.0) is False


def test_forwarder_state_pause_and_mapping(fstores: ForwarderStores) -> None:
    state = fstores.state
    assert state.paused("acme", now=10.0) is None
    state.pause("acme", until=500.0, reason="ZOHO API credits exhausted")
    state.pause("acme", until=300.0, reason="shorter")  # never shortens
    assert state.paused("acme", now=10.0) == Pause(500.0, "ZOHO API credits exhausted")
    assert state.paused("acme", now=501.0) is None
    assert state.paused("beta", now=10.0) is None
    state.resume("acme")
    assert state.paused("acme", now=10.0) is None
    state.pause("acme", until=50.0, reason="again")
    assert state.paused("acme", now=10.0).reason == "again"
    assert state.get_mapping("acme") is None
    state.put_mapping("acme", {"triggers": ["workflow"]})
    assert state.get_mapping("acme") == {"triggers": ["workflow"]}
    assert state.paused("acme", now=10.0).reason == "again"  # independent of the mapping
    state.put_mapping("acme", None)
    assert state.get_mapping("acme") is None


def test_forwarder_state_and_token_of_one_tenant_are_deleted(fstores: ForwarderStores) -> None:
    for tenant in ("acme", "beta"):
        fstores.state.pause(tenant, until=500.0, reason="ZOHO API credits exhausted")
        fstores.state.put_mapping(tenant, {"modules": {}})
        fstores.tokens.try_lease(tenant, "a", now=1.0, seconds=30)
        fstores.tokens.save(tenant, "a", ZohoToken("1000.abc", "https://z.example", 3700.0))
    fstores.tokens.try_lease("acme", "b", now=2.0, seconds=30)
    fstores.state.delete_tenant("acme")
    fstores.tokens.delete_tenant("acme")
    assert fstores.state.paused("acme", now=10.0) is None
    assert fstores.state.get_mapping("acme") is None
    assert fstores.tokens.load("acme") is None
    # The lease went too: anyone may refresh a token for a new tenant of the name at once.
    assert fstores.tokens.try_lease("acme", "c", now=3.0, seconds=30) is True
    assert fstores.state.paused("beta", now=10.0) is not None
    assert fstores.state.get_mapping("beta") == {"modules": {}}
    assert fstores.tokens.load("beta").access_token == "1000.abc"
    # Deleting what is gone is no error.
    fstores.state.delete_tenant("ghost")
    fstores.tokens.delete_tenant("ghost")


def test_secret_store_get_put_delete(fstores: ForwarderStores) -> None:
    secrets = fstores.secrets
    assert secrets.get("zoho/acme") is None
    value = {
        "client_id": "1000.X",
        "client_secret": "s3",
        "refresh_token": "r1",
        "data_centre": "eu",
    }
    secrets.put("zoho/acme", value)
    secrets.put("zoho/beta", {**value, "data_centre": "com"})
    assert secrets.get("zoho/acme") == value
    secrets.put("zoho/acme", {**value, "refresh_token": "r2"})
    assert secrets.get("zoho/acme")["refresh_token"] == "r2"
    assert secrets.delete("zoho/acme") is True
    assert secrets.get("zoho/acme") is None
    assert secrets.delete("zoho/acme") is False
    assert secrets.get("zoho/beta")["data_centre"] == "com"
    secrets.put("zoho/acme", value)  # a deleted name can be used again
    assert secrets.get("zoho/acme") == value


def test_dead_letters_keep_body_and_reason(fstores: ForwarderStores) -> None:
    letters = [
        DeadLetter("acme", f'{{"n": {i}}}', f"Accounts: INVALID_DATA: bad {i}") for i in range(12)
    ]
    fstores.dead_letters.send(letters)
    got = sorted(fstores.read_dead_letters(), key=lambda x: x[2])
    assert got == sorted(((x.tenant, x.body, x.reason) for x in letters), key=lambda x: x[2])


def test_file_secret_store_is_private(tmp_path) -> None:
    store = FileSecretStore.in_dir(tmp_path)
    store.put("zoho/acme", {"client_secret": "s"})
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    store.path.chmod(0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        store.get("zoho/acme")
    store.path.chmod(0o600)
    assert store.get("zoho/acme") == {"client_secret": "s"}
    store.path.write_text("[1]")
    with pytest.raises(StoreError, match="JSON object"):
        store.get("zoho/acme")


def test_dead_letters_are_held_released_and_removed(fstores: ForwarderStores) -> None:
    dlq = fstores.dead_letters
    big = "x" * 100_000  # three of them exceed SQS's 256 KiB a batch
    dlq.send([DeadLetter("acme", big + str(i), f"reason {i}", 7.0) for i in range(3)])
    held = dlq.hold(10, 60)
    assert sorted(h.letter.reason for h in held) == ["reason 0", "reason 1", "reason 2"]
    assert {h.letter.parked_at for h in held} == {7.0}
    assert dlq.hold(10, 60) == []  # hidden while held
    dlq.release([h.receipt for h in held])
    again = dlq.hold(10, 60)
    assert len(again) == 3
    dlq.remove([h.receipt for h in again[:2]])
    dlq.release([h.receipt for h in again[2:]])
    assert [h.letter.body for h in dlq.hold(10, 60)] == [again[2].letter.body]


# --- login throttle and ending a tenant's sessions ------------------------------------------


@pytest.fixture(params=["sqlite", "aws"])
def throttle(request, tmp_path) -> Iterator[Any]:
    if request.param == "sqlite":
        yield SqliteLoginThrottle(SqliteDatabase.in_dir(tmp_path))
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "sessions")
        yield DynamoLoginThrottle(ddb, "sessions")


POLICY = ThrottlePolicy(max_failures=3, window_seconds=60, base_block_seconds=10)


def test_throttle_blocks_a_key_after_the_limit_and_doubles(throttle: Any) -> None:
    user, addr = "@auth#user#acme", "@auth#addr#203.0.113.7"
    assert throttle.blocked([user, addr], now=100.0) is None
    assert throttle.fail([user, addr], 100.0, POLICY) is None
    assert throttle.fail([user], 101.0, POLICY) is None
    assert throttle.fail([user, addr], 102.0, POLICY) == 112.0  # the user's third: 10 s
    assert throttle.blocked([user], now=105.0) == 112.0
    assert throttle.blocked([addr], now=105.0) is None  # the address failed twice only
    assert throttle.blocked([addr, user], now=105.0) == 112.0
    # While blocked, failures are not counted: the block neither grows nor repeats.
    assert throttle.fail([user], 106.0, POLICY) is None
    assert throttle.blocked([user], now=112.0) is None
    for t in (112.0, 113.0):
        throttle.fail([user], t, POLICY)
    assert throttle.fail([user], 114.0, POLICY) == 134.0  # the second block: 20 s
    throttle.succeed(user)
    assert throttle.blocked([user], now=115.0) is None
    assert throttle.fail([user], 115.0, POLICY) is None  # counting starts over


def test_throttle_window_and_memory(throttle: Any) -> None:
    key = "@auth#user#acme"
    throttle.fail([key], 100.0, POLICY)
    throttle.fail([key], 101.0, POLICY)
    assert throttle.fail([key], 161.0, POLICY) is None  # the window (60 s) has passed
    short = ThrottlePolicy(max_failures=1, base_block_seconds=10, memory_seconds=50)
    other = "@auth#addr#198.51.100.9"
    assert throttle.fail([other], 100.0, short) == 110.0
    assert throttle.fail([other], 110.0, short) == 130.0  # doubled
    # Quiet for longer than the memory: forgotten, the next block is the first again.
    assert throttle.blocked([other], now=200.0) is None
    assert throttle.fail([other], 200.0, short) == 210.0


def test_throttle_counts_concurrent_failures_exactly(tmp_path) -> None:
    # SQLite across threads (moto is not thread-safe; the DynamoDB race is the next test's).
    throttle = SqliteLoginThrottle(SqliteDatabase.in_dir(tmp_path))
    key = "@auth#user#acme"
    policy = ThrottlePolicy(max_failures=12)
    with ThreadPoolExecutor(4) as pool:
        started = list(pool.map(lambda _: throttle.fail([key], 100.0, policy), range(12)))
    # Exactly the twelfth failure, whichever thread made it, started the block.
    assert [s for s in started if s is not None] == [130.0]


class _RivalBetweenReadAndWrite:
    """A DynamoDB client on which another instance counts a failure after each of our reads."""

    def __init__(self, client: Any, rival: Any, rivals: int) -> None:
        self._client, self._rival, self._rivals = client, rival, rivals

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_item(self, **kw: Any) -> dict[str, Any]:
        item = self._client.get_item(**kw)
        if self._rivals:
            self._rivals -= 1
            self._rival.fail([kw["Key"]["pk"]["S"]], 100.0, ThrottlePolicy(max_failures=99))
        return item


def test_dynamo_throttle_counts_on_top_of_a_concurrent_failure() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "sessions")
        rival = DynamoLoginThrottle(ddb, "sessions")
        ours = DynamoLoginThrottle(_RivalBetweenReadAndWrite(ddb, rival, 2), "sessions")
        key = "@auth#user#acme"
        # Two rival failures land between our reads and writes: ours is retried, not lost,
        # and it is the third failure that blocks.
        assert ours.fail([key], 100.0, ThrottlePolicy(max_failures=3)) == 130.0
        assert rival.blocked([key], now=101.0) == 130.0


def test_end_sessions_closes_every_live_session_of_the_tenant(stores: Stores) -> None:
    live = SessionRecord("t1", "acme", expires_at=1000.0, lock_expires_at=200.0)
    assert stores.sessions.create(live, now=100.0) is True
    # t1 outlived its lease and t2 took the lock: both live. Beta's session stays.
    assert stores.sessions.create(SessionRecord("t2", "acme", 1000.0), now=300.0) is True
    assert stores.sessions.create(SessionRecord("t3", "beta", 1000.0), now=300.0) is True
    stores.sessions.note_client("203.0.113.7", "2.3.0.215", now=300.0, expires_at=900.0)
    assert stores.sessions.end_sessions("acme", now=400.0) == 2
    assert stores.sessions.get("t1", now=400.0).closed
    assert stores.sessions.get("t2", now=400.0).closed
    assert not stores.sessions.get("t3", now=400.0).closed
    assert stores.sessions.lock_until("acme", now=400.0) is None
    # A save from a request already in flight fails instead of reopening it.
    with pytest.raises(ConcurrentUpdate):
        stores.sessions.save(SessionRecord("t1", "acme", 1000.0, version=0))
    assert stores.sessions.create(SessionRecord("t5", "acme", 1000.0), now=400.0) is True
    assert stores.sessions.end_sessions("acme", now=400.0) == 1
    assert stores.sessions.end_sessions("ghost", now=400.0) == 0
    assert stores.sessions.client_note("203.0.113.7", now=400.0) == "2.3.0.215"
