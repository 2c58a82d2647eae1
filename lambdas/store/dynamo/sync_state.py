"""SyncStateStore on DynamoDB."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any

from .. import keys
from ..ports import (
    WINDOW_HOURS,
    ConcurrentUpdate,
    EntitySyncState,
    HandoffWindow,
    StoreError,
    window_hour,
)
from .common import _backoff, _s, aws_errors, dynamo_table

# Each entity's state is the attribute ``e_<entity>`` of the tenant's item.
_ENTITY_ATTR = "e_"
# Hand-off counters are attributes ``w_<hour>_records`` / ``w_<hour>_deletions`` of the same
# item (ADD is atomic; the relay's policy already covers the key).
_WINDOW_ATTR = "w_"
_COUNTED = ("records", "deletions")
# Re-read requests: a string set of ids per tenant, source and entity (ADD and DELETE on a set
# are atomic, so requesters and the relay never drop each other's ids), and an index item per
# tenant and source naming the entities that ever had requests.
_REFETCH = "@refetch#"
# The ids of one entity are spread over this many items, so a large repair (tens of thousands
# of ids) stays far below DynamoDB's 400 KB item limit; one update adds at most so many ids.
_BUCKETS = 32
_IDS_PER_CALL = 1000


def _bucket(source_id: str) -> int:
    return int(hashlib.sha1(source_id.encode()).hexdigest()[:4], 16) % _BUCKETS


# A reset loses its condition only to a session's checkpoint of the same entity; a few tries.
RESET_ATTEMPTS = 5


class DynamoSyncStateStore:
    """SyncStateStore in the state table: one item per tenant, one attribute per entity.

    Each entity's state is its own top-level attribute, so writing one entity never rewrites
    (or races with) another's.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def get_all(self, tenant: str) -> dict[str, EntitySyncState]:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.SYNC_STATE + tenant)},
                ConsistentRead=True,
            ).get("Item", {})
        return {
            name.removeprefix(_ENTITY_ATTR): EntitySyncState.from_item(json.loads(value["S"]))
            for name, value in item.items()
            if name.startswith(_ENTITY_ATTR)
        }

    def put(self, state: EntitySyncState) -> None:
        with aws_errors(self._where):
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(keys.SYNC_STATE + state.tenant)},
                UpdateExpression="SET #e = :v",
                ExpressionAttributeNames={"#e": _ENTITY_ATTR + state.entity},
                ExpressionAttributeValues={":v": _s(json.dumps(state.to_item()))},
            )

    def delete_tenant(self, tenant: str) -> None:
        with aws_errors(self._where):
            self._client.delete_item(
                TableName=self._table, Key={"pk": _s(keys.SYNC_STATE + tenant)}
            )
        # Re-read requests are items of their own, keyed by source the tenant's caller chose;
        # a scan finds every source's (tenant names hold no "#", so the prefix is the tenant's
        # alone). The state table holds a few items per tenant: the scan is cheap.
        for key in self._refetch_keys(tenant):
            with aws_errors(self._where):
                self._client.delete_item(TableName=self._table, Key=key)

    def _refetch_keys(self, tenant: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "ProjectionExpression": "pk",
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": _s(f"{_REFETCH}{tenant}#")},
            "ConsistentRead": True,
        }
        while True:
            with aws_errors(self._where):
                page = self._client.scan(**request)
            found.extend({"pk": item["pk"]} for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def reset(self, tenant: str, entities: Sequence[str]) -> None:
        for entity in dict.fromkeys(entities):
            self._reset_one(tenant, entity)

    def _reset_one(self, tenant: str, entity: str) -> None:
        name = _ENTITY_ATTR + entity
        key = {"pk": _s(keys.SYNC_STATE + tenant)}
        for _ in range(RESET_ATTEMPTS):
            with aws_errors(self._where):
                item = self._client.get_item(
                    TableName=self._table,
                    Key=key,
                    ProjectionExpression="#e",
                    ExpressionAttributeNames={"#e": name},
                    ConsistentRead=True,
                ).get("Item", {})
            if name not in item:
                return  # never synced: the next session reads it whole anyway
            state = EntitySyncState.from_item(json.loads(item[name]["S"]))
            if state.watermark is None:
                return
            state.watermark = None
            try:
                with aws_errors(self._where):
                    # Only this entity's attribute, and only if no session wrote it since the
                    # read: a checkpoint in between is kept and the reset tried again.
                    self._client.update_item(
                        TableName=self._table,
                        Key=key,
                        UpdateExpression="SET #e = :v",
                        ConditionExpression="#e = :old",
                        ExpressionAttributeNames={"#e": name},
                        ExpressionAttributeValues={
                            ":v": _s(json.dumps(state.to_item())),
                            ":old": item[name],
                        },
                    )
                return
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate(f"{self._where}: {entity} of {tenant!r} kept changing; try again")

    def _refetch_key(
        self, tenant: str, source: str, entity: str = "", bucket: int = -1
    ) -> dict[str, Any]:
        name = f"{_REFETCH}{tenant}#{source}" + (f"#{entity}" if entity else "")
        if bucket >= 0:
            name += f"#{bucket:02d}"
        return {"pk": _s(name)}

    def _by_bucket(self, source_ids: Sequence[str]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for sid in set(source_ids):
            out.setdefault(_bucket(sid), []).append(sid)
        return out

    def request_refetch(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> None:
        if not source_ids:
            return
        with aws_errors(self._where):
            self._client.update_item(
                TableName=self._table,
                Key=self._refetch_key(tenant, source),
                UpdateExpression="ADD entities :e",
                ExpressionAttributeValues={":e": {"SS": [entity]}},
            )
            for bucket, ids in self._by_bucket(source_ids).items():
                for start in range(0, len(ids), _IDS_PER_CALL):
                    self._client.update_item(
                        TableName=self._table,
                        Key=self._refetch_key(tenant, source, entity, bucket),
                        UpdateExpression="ADD ids :ids",
                        ExpressionAttributeValues={
                            ":ids": {"SS": sorted(ids[start : start + _IDS_PER_CALL])}
                        },
                    )

    def pending_refetch(self, tenant: str, source: str) -> dict[str, list[str]]:
        with aws_errors(self._where):
            index = self._client.get_item(
                TableName=self._table, Key=self._refetch_key(tenant, source), ConsistentRead=True
            ).get("Item", {})
        out: dict[str, list[str]] = {}
        for entity in sorted(index.get("entities", {}).get("SS", [])):
            wanted = [self._refetch_key(tenant, source, entity, b) for b in range(_BUCKETS)]
            ids: list[str] = []
            for item in self._get_all(wanted):
                ids += item.get("ids", {}).get("SS", [])
            if ids:
                out[entity] = sorted(ids)
        return out

    def _get_all(self, wanted: list[dict[str, Any]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pending: dict[str, Any] = {self._table: {"Keys": wanted, "ConsistentRead": True}}
        for attempt in range(8):
            with aws_errors(self._where):
                page = self._client.batch_get_item(RequestItems=pending)
            items += page.get("Responses", {}).get(self._table, [])
            pending = page.get("UnprocessedKeys") or {}
            if not pending:
                return items
            time.sleep(_backoff(attempt))
        raise StoreError(f"{self._where}: reads still throttled")

    def clear_refetch(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> None:
        if not source_ids:
            return
        with aws_errors(self._where):
            for bucket, ids in self._by_bucket(source_ids).items():
                for start in range(0, len(ids), _IDS_PER_CALL):
                    self._client.update_item(
                        TableName=self._table,
                        Key=self._refetch_key(tenant, source, entity, bucket),
                        UpdateExpression="DELETE ids :ids",
                        ExpressionAttributeValues={
                            ":ids": {"SS": sorted(ids[start : start + _IDS_PER_CALL])}
                        },
                    )

    def count_handoffs(self, tenant: str, at: float, records: int, deletions: int) -> None:
        hour = window_hour(at)
        adds = {k: n for k, n in zip(_COUNTED, (records, deletions), strict=True) if n}
        if not adds:
            return
        key = {"pk": _s(keys.SYNC_STATE + tenant)}
        with aws_errors(self._where):
            item = self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="ADD " + ", ".join(f"#{k} :{k}" for k in adds),
                ExpressionAttributeNames={f"#{k}": _window_attr(hour, k) for k in adds},
                ExpressionAttributeValues={f":{k}": {"N": str(n)} for k, n in adds.items()},
                ReturnValues="ALL_NEW",
            ).get("Attributes", {})
        expired = [n for n in item if (h := _attr_hour(n)) is not None and h <= hour - WINDOW_HOURS]
        for start in range(0, len(expired), 50):
            names = {f"#x{i}": n for i, n in enumerate(expired[start : start + 50])}
            with aws_errors(self._where):
                self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="REMOVE " + ", ".join(names),
                    ExpressionAttributeNames=names,
                )

    def handoff_window(self, tenant: str, at: float) -> HandoffWindow:
        hour = window_hour(at)
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.SYNC_STATE + tenant)},
                ConsistentRead=True,
            ).get("Item", {})
        totals = dict.fromkeys(_COUNTED, 0)
        for name, value in item.items():
            h = _attr_hour(name)
            if h is not None and hour - WINDOW_HOURS < h <= hour:
                totals[name.rsplit("_", 1)[1]] += int(value["N"])
        return HandoffWindow(**totals)


def _window_attr(hour: int, counted: str) -> str:
    return f"{_WINDOW_ATTR}{hour}_{counted}"


def _attr_hour(name: str) -> int | None:
    """The hour of a hand-off counter attribute (None for any other attribute)."""
    if not name.startswith(_WINDOW_ATTR):
        return None
    hour, _, counted = name.removeprefix(_WINDOW_ATTR).partition("_")
    return int(hour) if hour.isdigit() and counted in _COUNTED else None
