"""Fairness and scale: 1,000 tenants, one of them with a 100,000-record backlog.

Wait behind a backlog. The local process's record queue (``SqliteRecordQueue``, the SQS fair
queue's twin) is given the backlog tenant's records first, then one record from every other
tenant; a forwarder loop receives batches of the forwarder batch size (``forwarder_batch_size``
in infra/settings.py) and deletes them. It forwards nothing: what is measured is the queue's
order, and the real forwarder would add the same ZOHO time to every batch whichever tenant it
held (ZOHO's own speed is the credits and sync groups' subject). The same quiet records are
then received from a queue without the backlog; a quiet tenant's wait is the batch its record
landed in with the backlog minus the batch it landed in without (target: at most 1). A
first-in-first-out queue, the design before, makes them wait backlog / batch size batches.
Receive cost: the median receive of a batch with the backlog queued, against the same receive
without it (side by side, in turns): the fair receive reads an index, so the backlog should
cost nothing.

Hottest partition. The backlog tenant's first sync touches per-record items (mappings,
``tenant#source#entity#id``) and per-tenant ones (``@sync#tenant`` in the state table, the
mappings GSIs ``by_tenant`` and ``by_status`` keyed by the tenant). A sample of its records
runs through the real DynamoDB and SQS adapters on moto (the relay's hand-off with the
engine's per-exchange sync-state writes, then the real forwarder into the fake ZOHO CRM on
127.0.0.1), every write counted against the partition key it lands on, GSI writes included
(an item update rewrites its GSI entries: projections are ALL). The writes grow with the
records and the exchanges in the same proportions at any size, so the sample's shares are
the 100,000-record sync's. The same counts feed the cost model (``bench/cost.py``).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from infra.settings import Settings
from lambdas.store.ports import QueueMessage
from lambdas.store.sqlite import SqliteDatabase, SqliteRecordQueue

from .credits import customers
from .suite import Result, Sizes

BATCH = Settings(env="prod").forwarder_batch_size
BACKLOG_TENANT = "t0000-backlog"
SEND_CHUNK = 1_000  # records per hand-off (one Web Connector page)
RECEIVE_ROUNDS = 21
# The mappings table's GSIs and the attribute each is partitioned by (tests/aws_tables.py and
# infra/tables.py define them alike).
MAPPING_GSIS = {"by_tenant": "tenant", "by_status": "tenant_status", "by_zoho": "zoho_key"}


def _body(tenant: str, record: dict[str, Any]) -> str:
    return json.dumps({"tenant": tenant, "source": "qbd", "record": record}, sort_keys=True)


def _quiet(n: int) -> str:
    return f"t{n:04d}"


def _fill(queue: SqliteRecordQueue, tenants: int, backlog: int) -> None:
    template = customers("1", 1)[0]
    for start in range(0, backlog, SEND_CHUNK):
        queue.send(
            [
                QueueMessage(BACKLOG_TENANT, _body(BACKLOG_TENANT, {**template, "n": i}), f"b{i}")
                for i in range(start, min(backlog, start + SEND_CHUNK))
            ]
        )
    queue.send(
        [QueueMessage(_quiet(n), _body(_quiet(n), template), "q") for n in range(1, tenants)]
    )


def _landing(queue: SqliteRecordQueue, quiet: int, limit: int) -> dict[str, int]:
    """Receive-and-delete batches until every quiet tenant's record came: the batch of each."""
    landed: dict[str, int] = {}
    for index in range(limit):
        batch = queue.receive(BATCH)
        if not batch:
            break
        for m in batch:
            if m.message.tenant != BACKLOG_TENANT:
                landed[m.message.tenant] = index
        queue.delete([m.receipt for m in batch])
        if len(landed) == quiet:
            break
    return landed


def _receive_ms(queue: SqliteRecordQueue) -> float:
    """One receive of a batch, its messages made visible again at once (nothing consumed)."""
    started = time.perf_counter()
    batch = queue.receive(BATCH)
    ms = (time.perf_counter() - started) * 1000
    queue._db.connection().executemany(
        "UPDATE record_queue SET invisible_until = 0, receives = 0 WHERE id = ?",
        [(int(m.receipt),) for m in batch],
    )
    return ms


@dataclass(slots=True)
class Waits:
    """Quiet tenants' batches behind, and receive times with and without the backlog."""

    behind: list[int]
    batches_with: int
    batches_without: int
    receive_with_ms: float
    receive_without_ms: float


def simulate(tenants: int, backlog: int) -> Waits:
    """The queue simulation (see the module docstring)."""
    quiet = tenants - 1
    limit = backlog // BATCH + quiet + 10
    with tempfile.TemporaryDirectory() as tmp:
        loaded = SqliteRecordQueue(SqliteDatabase.in_dir(Path(tmp) / "with"))
        bare = SqliteRecordQueue(SqliteDatabase.in_dir(Path(tmp) / "without"))
        # The receive-cost baseline: the backlog cut to one batch, so both receives hand out
        # the same messages from the same tenants.
        short = SqliteRecordQueue(SqliteDatabase.in_dir(Path(tmp) / "short"))
        _fill(loaded, tenants, backlog)
        _fill(bare, tenants, 0)
        _fill(short, tenants, BATCH)
        with_ms, without_ms = [], []
        for _ in range(RECEIVE_ROUNDS):  # interleaved, so load moves both alike
            with_ms.append(_receive_ms(loaded))
            without_ms.append(_receive_ms(short))
        # The timed receives moved the loaded queue's turn: start it where the bare one is.
        with loaded._db.transaction() as conn:
            conn.execute("DELETE FROM record_queue_turn")
        landed = _landing(loaded, quiet, limit)
        alone = _landing(bare, quiet, limit)
        if len(landed) != quiet or len(alone) != quiet:
            raise RuntimeError(f"{quiet - len(landed)} quiet tenant(s) never received")
        behind = [landed[t] - alone[t] for t in landed]
        return Waits(
            behind,
            max(landed.values()) + 1,
            max(alone.values()) + 1,
            statistics.median(with_ms),
            statistics.median(without_ms),
        )


# --- the AWS key design, counted on moto ------------------------------------------------------


@dataclass(slots=True)
class AwsCounts:
    """What a sample of one tenant's first sync cost the DynamoDB and SQS adapters."""

    records: int
    exchanges: int
    batches: int
    writes: Counter[str] = field(default_factory=Counter)  # write units per partition key
    reads: int = 0  # read request units (1 per item read or 4 KB queried, rounded up)
    sqs: Counter[str] = field(default_factory=Counter)  # SQS API requests by action

    def write_units(self) -> int:
        return sum(self.writes.values())


class UncountedCall(RuntimeError):
    """The sample made a call the counter does not price: count it before relying on it, rather
    than report a share that leaves it out."""


class CountingClient:
    """A boto3 client (DynamoDB or SQS) that counts what each call costs, calls serialized
    (moto is not thread-safe; the mapping store writes from a thread pool)."""

    def __init__(self, client: Any, counts: AwsCounts, gsi_tables: frozenset[str] = frozenset()):
        self._client, self._counts, self._gsi_tables = client, counts, gsi_tables
        self._lock = threading.Lock()
        self._gsi_keys: dict[tuple[str, str], dict[str, str]] = {}

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(**kwargs: Any) -> Any:
            # An update of a table with GSIs returns the new item (its index keys), hidden from
            # the caller, so the GSI writes are counted without another request.
            peek = name == "update_item" and kwargs["TableName"] in self._gsi_tables
            if peek and "ReturnValues" in kwargs:
                raise UncountedCall("an update that asks for values itself")
            with self._lock:
                reply = attr(**kwargs, **({"ReturnValues": "ALL_NEW"} if peek else {}))
                self._count(name, kwargs, reply)
            return {k: v for k, v in reply.items() if k != "Attributes"} if peek else reply

        return call

    def _count(self, op: str, kwargs: dict[str, Any], reply: dict[str, Any]) -> None:
        c = self._counts
        if op in ("send_message_batch", "receive_message", "delete_message_batch", "send_message"):
            c.sqs[op] += 1
        elif op in ("put_item", "update_item", "delete_item"):
            key = kwargs.get("Key") or {"pk": kwargs["Item"]["pk"]}
            item = reply.get("Attributes") if op == "update_item" else kwargs.get("Item")
            self._write(kwargs["TableName"], key["pk"]["S"], item or {})
        elif op == "get_item":
            c.reads += 1
        elif op == "batch_get_item":
            c.reads += sum(len(v) for v in reply.get("Responses", {}).values())
        elif op in ("query", "scan"):
            size = len(json.dumps(reply.get("Items", [])))
            c.reads += max(1, math.ceil(size / 4096))
        elif op in ("transact_write_items", "batch_write_item"):
            raise UncountedCall(f"{op} is not counted")

    def _write(self, table: str, pk: str, item: dict[str, Any]) -> None:
        self._counts.writes[f"{table}: {pk}"] += 1
        if table not in self._gsi_tables:
            return
        # GSI writes: one per index the item is in; a key that changed is a delete and a put.
        before = self._gsi_keys.get((table, pk), {})
        now = {i: item[a]["S"] for i, a in MAPPING_GSIS.items() if a in item}
        for index, value in now.items():
            self._counts.writes[f"{table}.{index}: {value}"] += 1
            if before.get(index) not in (None, value):
                self._counts.writes[f"{table}.{index}: {before[index]}"] += 1
        self._gsi_keys[(table, pk)] = now


@cache
def aws_sample(records: int, page: int = 500) -> AwsCounts:
    """One tenant's first sync of ``records`` customers on the AWS adapters (moto), counted."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    import requests
    from moto import mock_aws

    from lambdas.store.dynamo import (
        DynamoForwarderState,
        DynamoMappingStore,
        DynamoSyncStateStore,
        DynamoTokenCache,
        SqsDeadLetterQueue,
        SqsRecordQueue,
    )
    from lambdas.store.ports import EntitySyncState
    from lambdas.sync.handoff import HandOff
    from lambdas.zoho.auth import TokenProvider, ZohoCredentials
    from lambdas.zoho.client import ZohoClient
    from lambdas.zoho.forwarder import Status, ZohoForwarder
    from sim.fake_zoho import FakeZoho, FakeZohoServer
    from tests.aws_tables import create_mappings_table, create_pk_table

    tenant = BACKLOG_TENANT
    counts = AwsCounts(records, math.ceil(records / page), 0)
    fake = FakeZoho(daily_credits=10_000_000)
    fake.add_client("1000.BENCH", "bench-secret", "1000.bench-refresh")
    session = requests.Session()
    with mock_aws(), FakeZohoServer(fake) as server:
        raw_ddb, raw_sqs = boto3.client("dynamodb"), boto3.client("sqs")
        create_mappings_table(raw_ddb, "mappings")
        create_pk_table(raw_ddb, "state")
        url = raw_sqs.create_queue(QueueName="records")["QueueUrl"]
        dlq = raw_sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
        ddb = CountingClient(raw_ddb, counts, frozenset({"mappings"}))
        sqs = CountingClient(raw_sqs, counts)
        mappings = DynamoMappingStore(ddb, "mappings", sleep=lambda _s: None)
        queue = SqsRecordQueue(sqs, url)
        state = DynamoSyncStateStore(ddb, "state")
        hand_off = HandOff("qbd", mappings, queue, None, time.time, 600.0, refetch=state)
        data = customers("1", records)
        for start in range(0, records, page):  # one exchange: hand-off, then the checkpoint
            result = hand_off(tenant, [data[start : start + page]])
            state.count_handoffs(tenant, time.time(), sum(q for q, _ in result.counts), 0)
            state.put(EntitySyncState(tenant, "Customer", page_size=page))
        credentials = ZohoCredentials(
            "1000.BENCH", "bench-secret", "1000.bench-refresh", accounts_url=server.url
        )
        tokens = DynamoTokenCache(ddb, "state")
        forwarder = ZohoForwarder(
            mappings,
            DynamoForwarderState(ddb, "state"),
            SqsDeadLetterQueue(sqs, dlq),
            lambda t: ZohoClient(TokenProvider(t, credentials, tokens, session), session),
        )
        while True:  # the event source's batches: receives of 10 gathered to the batch size
            batch = []
            while len(batch) < BATCH and (got := queue.receive(10)):
                batch += got
            if not batch:
                break
            counts.batches += 1
            report = forwarder.forward([(m.receipt, m.message.body) for m in batch])
            bad = [o for o in report.outcomes.values() if o.status != Status.APPLIED]
            if bad:
                raise RuntimeError(f"{len(bad)} record(s) not applied: {bad[0]}")
            queue.delete([m.receipt for m in batch])
    session.close()
    return counts


def hottest(counts: AwsCounts) -> tuple[str, float]:
    """The partition key taking the largest share of the write units, and that share."""
    key, units = counts.writes.most_common(1)[0]
    return key, units / counts.write_units()


def run(sizes: Sizes) -> list[Result]:
    """The fairness rows: batches behind (max, p95), receive cost, hottest partition share."""
    waits = simulate(sizes.tenants, sizes.backlog)
    behind = sorted(waits.behind)
    worst = behind[-1]
    p95 = behind[min(len(behind) - 1, math.ceil(0.95 * len(behind)) - 1)]
    fifo = math.ceil(sizes.backlog / BATCH)
    ratio = waits.receive_with_ms / waits.receive_without_ms
    sample = aws_sample(min(sizes.backlog, sizes.partition_records))
    key, share = hottest(sample)
    kinds = Counter(k.split(": ")[0] for k in sample.writes)
    per_record = max(v for k, v in sample.writes.items() if k.startswith("mappings: "))
    return [
        Result(
            "fairness.behind",
            worst,
            str(worst),
            f"{sizes.tenants - 1:,} tenants' records behind a {sizes.backlog:,}-record backlog: "
            f"batches later than without it (p95 {p95}; a FIFO queue: {fifo:,}); all in "
            f"{waits.batches_with} batches of {BATCH} vs {waits.batches_without}",
            worst <= 1,
            {"p95": p95, "fifo": fifo, "batches_with": waits.batches_with},
        ),
        Result(
            "fairness.receive",
            ratio,
            f"{ratio:.2f}x",
            f"{waits.receive_with_ms:.1f} ms vs {waits.receive_without_ms:.1f} ms per receive "
            f"of {BATCH}, backlog {sizes.backlog:,} vs {BATCH} (median of {RECEIVE_ROUNDS})",
            ratio <= 2.0,
            {"with_ms": waits.receive_with_ms, "without_ms": waits.receive_without_ms},
        ),
        Result(
            "fairness.hot_partition",
            share,
            f"{share:.1%}",
            f"of {sample.write_units():,} write units of a {sample.records:,}-record first "
            f"sync go to `{key}`; one record's key takes {per_record} "
            f"({per_record / sample.write_units():.2%})",
            None,
            {"key": key, "writes": dict(kinds), "write_units": sample.write_units()},
        ),
    ]
