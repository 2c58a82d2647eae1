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
from lambdas.store.ports import EntityRunCounts, EntitySyncState, RunRecord
from lambdas.store.sqlite import SqliteDatabase, SqliteRunHistory, SqliteSyncStateStore
from tests.aws_tables import create_pk_table, create_runs_table


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
        yield SyncStores(DynamoSyncStateStore(ddb, "state"), DynamoRunHistory(ddb, "runs"))


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
