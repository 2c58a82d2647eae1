"""One contract for the sync engine's stores: SQLite (embedded) and DynamoDB (via moto)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.store.dynamo import DynamoRunHistory, DynamoSyncStateStore
from lambdas.store.ports import EntityRunCounts, EntitySyncState, HandoffWindow, RunRecord
from lambdas.store.sqlite import SqliteDatabase, SqliteRunHistory, SqliteSyncStateStore
from tests.aws_tables import SerialClient, create_pk_table, create_runs_table


@dataclass
class SyncStores:
    state: Any
    runs: Any


@pytest.fixture(params=["sqlite", "aws"])
def stores(request, tmp_path) -> Iterator[SyncStores]:
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)
        yield SyncStores(SqliteSyncStateStore(db), SqliteRunHistory(db))
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "state")
        create_runs_table(ddb, "runs")
        serial = SerialClient(ddb)
        yield SyncStores(DynamoSyncStateStore(serial, "state"), DynamoRunHistory(serial, "runs"))


def test_sync_state_round_trips_per_entity_and_tenant(stores: SyncStores) -> None:
    assert stores.state.get_all("acme") == {}
    customer = EntitySyncState(
        "acme", "Customer", watermark="2026-03-08T01:59:59", page_size=400, bytes_per_record=812.5
    )
    stores.state.put(customer)
    stores.state.put(EntitySyncState("acme", "Invoice", page_size=150))
    stores.state.put(EntitySyncState("other", "Customer", watermark="2020-01-01T00:00:00"))
    got = stores.state.get_all("acme")
    assert got == {
        "Customer": customer,
        "Invoice": EntitySyncState("acme", "Invoice", None, 150),
    }
    customer.watermark = "2026-03-09T10:00:00"
    customer.last_success_at = 1700000000.5
    # The live rounds' marks (sync/gate.py) survive the store as well.
    customer.changed_at, customer.swept_at = 1700000000.5, 1699999100.25
    stores.state.put(customer)
    assert stores.state.get_all("acme")["Customer"] == customer
    assert stores.state.get_all("acme")["Invoice"].page_size == 150
    lacking = EntitySyncState(
        "acme", "SalesOrder", unsupported="QuickBooks Pro has no sales orders", unsupported_at=5.0
    )
    stores.state.put(lacking)
    assert stores.state.get_all("acme")["SalesOrder"] == lacking
    stores.state.delete_tenant("acme")
    assert stores.state.get_all("acme") == {}
    stores.state.delete_tenant("acme")  # idempotent
    assert stores.state.get_all("other")["Customer"].watermark == "2020-01-01T00:00:00"


def _run(tenant: str, ticket: str, started: float) -> RunRecord:
    return RunRecord(
        tenant=tenant,
        ticket=ticket,
        started_at=started,
        ended_at=started + 12.5,
        status="completed",
        exchanges=4,
        summary="Synced 2 changed customers; 1 re-read unchanged",
        entities={"Customer": EntityRunCounts(received=3, queued=2, unchanged=1)},
        warnings=["Workstation clock problem: 1 customer modified as late as 2031-01-01 09:00:00"],
    )


def test_run_history_is_newest_first_per_tenant_and_idempotent(stores: SyncStores) -> None:
    assert stores.runs.recent("acme") == []
    for i, started in enumerate([1000.0, 3000.0, 2000.0]):
        stores.runs.add(_run("acme", f"t{i}", started))
    stores.runs.add(_run("other", "x", 5000.0))
    again = _run("acme", "t1", 3000.0)
    again.status = "partial"
    stores.runs.add(again)
    runs = stores.runs.recent("acme")
    assert [r.ticket for r in runs] == ["t1", "t2", "t0"]
    assert runs[0] == again
    assert runs[0].seconds == 12.5
    assert runs[1].entities["Customer"] == EntityRunCounts(3, 2, 1, 0)
    assert [r.ticket for r in stores.runs.recent("acme", limit=2)] == ["t1", "t2"]


def test_refetch_requests_add_up_and_clear_only_what_was_read(stores: SyncStores) -> None:
    state = stores.state
    assert state.pending_refetch("acme", "qbd") == {}
    state.request_refetch("acme", "qbd", "Invoice", ["T-2", "T-1"])
    state.request_refetch("acme", "qbd", "Invoice", ["T-1", "T-3"])  # a second requester
    state.request_refetch("acme", "qbd", "Customer", ["80-1"])
    state.request_refetch("beta", "qbd", "Invoice", ["T-9"])
    state.request_refetch("acme", "qbo", "Invoice", ["Q-1"])
    assert state.pending_refetch("acme", "qbd") == {
        "Customer": ["80-1"],
        "Invoice": ["T-1", "T-2", "T-3"],
    }
    # The relay read T-1 and T-2; T-4 was asked for meanwhile and stays.
    state.request_refetch("acme", "qbd", "Invoice", ["T-4"])
    state.clear_refetch("acme", "qbd", "Invoice", ["T-1", "T-2"])
    state.clear_refetch("acme", "qbd", "Customer", ["80-1"])
    assert state.pending_refetch("acme", "qbd") == {"Invoice": ["T-3", "T-4"]}
    assert state.pending_refetch("beta", "qbd") == {"Invoice": ["T-9"]}


def test_reset_forgets_only_the_named_watermarks(stores: SyncStores) -> None:
    customer = EntitySyncState(
        "acme",
        "Customer",
        watermark="2026-03-08T01:59:59",
        page_size=400,
        bytes_per_record=812.5,
        last_success_at=5.0,
    )
    invoice = EntitySyncState("acme", "Invoice", watermark="2026-03-01T00:00:00", page_size=150)
    lacking = EntitySyncState("acme", "SalesOrder", unsupported="no sales orders", unsupported_at=1)
    other = EntitySyncState("beta", "Customer", watermark="2020-01-01T00:00:00")
    for state in (customer, invoice, lacking, other):
        stores.state.put(state)
    stores.state.reset("acme", ["Customer", "SalesOrder", "Item"])  # Item: never synced
    got = stores.state.get_all("acme")
    # The watermark goes; the page size, estimate and last success stay for the full read.
    assert got["Customer"] == EntitySyncState(
        "acme", "Customer", None, 400, 812.5, last_success_at=5.0
    )
    assert got["SalesOrder"] == lacking
    assert got["Invoice"] == invoice
    assert "Item" not in got
    assert stores.state.get_all("beta") == {"Customer": other}
    stores.state.reset("acme", ["Customer"])  # again: nothing left to reset
    assert stores.state.get_all("acme")["Customer"].watermark is None
    stores.state.reset("ghost", ["Customer"])
    assert stores.state.get_all("ghost") == {}


def test_delete_tenant_drops_its_refetch_requests_too(stores: SyncStores) -> None:
    state = stores.state
    state.put(EntitySyncState("acme", "Customer", watermark="2026-03-08T01:59:59"))
    state.request_refetch("acme", "qbd", "Invoice", ["T-1"])
    state.request_refetch("acme", "qbo", "Invoice", ["Q-1"])
    state.request_refetch("acme", "qbd", "Customer", ["80-1"])
    state.clear_refetch("acme", "qbd", "Customer", ["80-1"])  # leaves an empty request behind
    state.request_refetch("acme.x", "qbd", "Invoice", ["T-7"])  # a name the tenant's prefixes
    state.request_refetch("beta", "qbd", "Invoice", ["T-9"])
    state.delete_tenant("acme")
    assert state.get_all("acme") == {}
    assert state.pending_refetch("acme", "qbd") == {}
    assert state.pending_refetch("acme", "qbo") == {}
    assert state.pending_refetch("acme.x", "qbd") == {"Invoice": ["T-7"]}
    assert state.pending_refetch("beta", "qbd") == {"Invoice": ["T-9"]}
    # A new request after the purge starts afresh, with nothing of the old ones.
    state.request_refetch("acme", "qbd", "Invoice", ["T-2"])
    assert state.pending_refetch("acme", "qbd") == {"Invoice": ["T-2"]}


def test_run_history_counts_and_deletes_one_tenant(stores: SyncStores) -> None:
    assert stores.runs.count("acme") == 0
    for i in range(3):
        stores.runs.add(_run("acme", f"t{i}", 1000.0 + i))
    stores.runs.add(_run("other", "x", 5000.0))
    assert stores.runs.count("acme") == 3
    assert stores.runs.delete_tenant("acme") == 3
    assert stores.runs.recent("acme") == [] and stores.runs.count("acme") == 0
    assert stores.runs.delete_tenant("acme") == 0
    assert [r.ticket for r in stores.runs.recent("other")] == ["x"]


class _Recording:
    """A DynamoDB client that records the attribute names of each UpdateItem."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.updated: list[set[str]] = []

    def update_item(self, **kwargs: Any) -> Any:
        self.updated.append(set(kwargs.get("ExpressionAttributeNames", {}).values()))
        return self._client.update_item(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_dynamo_reset_writes_only_the_entitys_attribute(monkeypatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "state")
        recording = _Recording(ddb)
        store = DynamoSyncStateStore(recording, "state")
        store.put(EntitySyncState("acme", "Customer", watermark="2026-03-08T01:59:59"))
        store.put(EntitySyncState("acme", "Invoice", watermark="2026-03-01T00:00:00"))
        recording.updated.clear()
        store.reset("acme", ["Customer"])
        assert recording.updated == [{"e_Customer"}]

        # A checkpoint between the reset's read and its write is kept, not overwritten: the
        # reset reads again and resets what the session wrote.
        real_get = recording.get_item
        calls = {"n": 0}

        def racing_get(**kwargs: Any) -> Any:
            got = real_get(**kwargs)
            calls["n"] += 1
            if calls["n"] == 1:
                DynamoSyncStateStore(ddb, "state").put(
                    EntitySyncState("acme", "Invoice", watermark="2026-04-01T00:00:00", page_size=9)
                )
            return got

        monkeypatch.setattr(recording, "get_item", racing_get, raising=False)
        store.reset("acme", ["Invoice"])
        assert calls["n"] == 2
        invoice = store.get_all("acme")["Invoice"]
        assert invoice.watermark is None and invoice.page_size == 9


def test_hand_off_counters_sum_the_last_24_hours_per_tenant(stores: SyncStores) -> None:
    hour = 3600.0
    start = 1_780_000_000.0 - 1_780_000_000.0 % hour  # the start of a clock hour
    assert stores.state.handoff_window("acme", start) == HandoffWindow(0, 0)
    stores.state.put(EntitySyncState("acme", "Customer", watermark="2026-03-08T01:59:59"))
    stores.state.count_handoffs("acme", start + 10, 100, 0)
    stores.state.count_handoffs("acme", start + 3500, 5, 3)  # same hour: added, not replaced
    stores.state.count_handoffs("acme", start + 5 * hour, 0, 7)
    stores.state.count_handoffs("other", start, 1000, 1000)
    stores.state.count_handoffs("acme", start, 0, 0)  # nothing to count: no change
    assert stores.state.handoff_window("acme", start + 5 * hour) == HandoffWindow(105, 10)
    assert stores.state.handoff_window("acme", start + 20) == HandoffWindow(105, 3)
    # The window is the current hour and the 23 before: the first hour leaves it after a day.
    assert stores.state.handoff_window("acme", start + 23 * hour + 3599) == HandoffWindow(105, 10)
    assert stores.state.handoff_window("acme", start + 24 * hour) == HandoffWindow(0, 7)
    # A later add forgets the hours past its window; the entity state is untouched.
    stores.state.count_handoffs("acme", start + 30 * hour, 2, 0)
    assert stores.state.handoff_window("acme", start + 5 * hour) == HandoffWindow(0, 0)
    assert stores.state.handoff_window("acme", start + 30 * hour) == HandoffWindow(2, 0)
    assert stores.state.get_all("acme")["Customer"].watermark == "2026-03-08T01:59:59"
    assert stores.state.handoff_window("other", start) == HandoffWindow(1000, 1000)
    stores.state.delete_tenant("acme")
    assert stores.state.handoff_window("acme", start + 30 * hour) == HandoffWindow(0, 0)


def test_concurrent_hand_off_counts_are_never_lost(stores: SyncStores) -> None:
    from concurrent.futures import ThreadPoolExecutor

    at = 1_780_000_000.0
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: stores.state.count_handoffs("acme", at, 1, 2), range(40)))
    assert stores.state.handoff_window("acme", at) == HandoffWindow(40, 80)
