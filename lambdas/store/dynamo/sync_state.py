"""SyncStateStore on DynamoDB."""

from __future__ import annotations

import json
from typing import Any

from .. import keys
from ..ports import EntitySyncState
from .common import _s, aws_errors, dynamo_table

# Each entity's state is the attribute ``e_<entity>`` of the tenant's item.
_ENTITY_ATTR = "e_"


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
