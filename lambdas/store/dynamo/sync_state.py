"""SyncStateStore on DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .. import keys
from ..ports import EntitySyncState
from .common import _s, aws_errors, dynamo_table

# Each entity's state is the attribute ``e_<entity>`` of the tenant's item.
_ENTITY_ATTR = "e_"
# Re-read requests: a string set of ids per tenant, source and entity (ADD and DELETE on a set
# are atomic, so requesters and the relay never drop each other's ids), and an index item per
# tenant and source naming the entities that ever had requests.
_REFETCH = "@refetch#"


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

    def _refetch_key(self, tenant: str, source: str, entity: str = "") -> dict[str, Any]:
        name = f"{_REFETCH}{tenant}#{source}" + (f"#{entity}" if entity else "")
        return {"pk": _s(name)}

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
            self._client.update_item(
                TableName=self._table,
                Key=self._refetch_key(tenant, source, entity),
                UpdateExpression="ADD ids :ids",
                ExpressionAttributeValues={":ids": {"SS": sorted(set(source_ids))}},
            )

    def pending_refetch(self, tenant: str, source: str) -> dict[str, list[str]]:
        with aws_errors(self._where):
            index = self._client.get_item(
                TableName=self._table, Key=self._refetch_key(tenant, source), ConsistentRead=True
            ).get("Item", {})
        out: dict[str, list[str]] = {}
        for entity in sorted(index.get("entities", {}).get("SS", [])):
            with aws_errors(self._where):
                item = self._client.get_item(
                    TableName=self._table,
                    Key=self._refetch_key(tenant, source, entity),
                    ConsistentRead=True,
                ).get("Item", {})
            ids = item.get("ids", {}).get("SS", [])
            if ids:
                out[entity] = sorted(ids)
        return out

    def clear_refetch(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> None:
        if not source_ids:
            return
        with aws_errors(self._where):
            self._client.update_item(
                TableName=self._table,
                Key=self._refetch_key(tenant, source, entity),
                UpdateExpression="DELETE ids :ids",
                ExpressionAttributeValues={":ids": {"SS": sorted(set(source_ids))}},
            )
