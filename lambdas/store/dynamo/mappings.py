"""MappingStore on DynamoDB."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from .. import keys
from ..ports import MAPPING_STATUSES, Mapping, StoreError, check_mapping_statuses
from .common import _backoff, _s, aws_errors, dynamo_table

BATCH_GET = 100
BATCH_WRITE = 25
# Unprocessed keys come back under throttling; retry a bounded number of times with backoff.
BATCH_ATTEMPTS = 8


class DynamoMappingStore:
    """MappingStore on the mappings table.

    ``pk`` is tenant#source#entity#source_id; ``zoho_key`` (tenant#zoho_module#zoho_id, absent
    until the record is in ZOHO) feeds GSI ``by_zoho``; ``tenant_status`` (tenant#status) feeds
    GSI ``by_status``, whose sort key is ``pk``. The mapping itself is the JSON ``item``.
    """

    def __init__(
        self, client: Any, table: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)
        self._sleep = sleep

    def _item(self, m: Mapping) -> dict[str, Any]:
        item = {
            "pk": _s(m.key),
            "tenant_status": _s(keys.tenant_status(m.tenant, m.status)),
            "item": _s(json.dumps(m.to_item())),
        }
        if m.zoho_id:
            item["zoho_key"] = _s(keys.zoho_key(m.tenant, m.zoho_module, m.zoho_id))
        return item

    def get(self, tenant: str, source: str, entity: str, source_id: str) -> Mapping | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.mapping_key(tenant, source, entity, source_id))},
                ConsistentRead=True,
            ).get("Item")
        return Mapping.from_item(json.loads(item["item"]["S"])) if item else None

    def get_many(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> dict[str, Mapping]:
        all_keys = list(
            dict.fromkeys(keys.mapping_key(tenant, source, entity, i) for i in source_ids)
        )
        found: dict[str, Mapping] = {}
        for start in range(0, len(all_keys), BATCH_GET):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": _s(k)} for k in all_keys[start : start + BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(BATCH_ATTEMPTS):
                with aws_errors(self._where):
                    page = self._client.batch_get_item(RequestItems=pending)
                for item in page.get("Responses", {}).get(self._table, []):
                    m = Mapping.from_item(json.loads(item["item"]["S"]))
                    found[m.source_id] = m
                pending = page.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._sleep(_backoff(attempt))
            else:
                raise StoreError(
                    f"{self._where}: reads still throttled after {BATCH_ATTEMPTS} attempts"
                )
        return found

    def put(self, mapping: Mapping) -> None:
        check_mapping_statuses([mapping])
        with aws_errors(self._where):
            self._client.put_item(TableName=self._table, Item=self._item(mapping))

    def put_many(self, mappings: Sequence[Mapping]) -> None:
        check_mapping_statuses(mappings)
        # A batch may not name one key twice; the last mapping of a key wins, as with put().
        latest = list({m.key: m for m in mappings}.values())
        for start in range(0, len(latest), BATCH_WRITE):
            pending: dict[str, Any] = {
                self._table: [
                    {"PutRequest": {"Item": self._item(m)}}
                    for m in latest[start : start + BATCH_WRITE]
                ]
            }
            for attempt in range(BATCH_ATTEMPTS):
                with aws_errors(self._where):
                    result = self._client.batch_write_item(RequestItems=pending)
                pending = result.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._sleep(_backoff(attempt))
            else:
                raise StoreError(
                    f"{self._where}: writes still throttled after {BATCH_ATTEMPTS} attempts"
                )

    def find_by_zoho_id(self, tenant: str, zoho_module: str, zoho_id: str) -> Mapping | None:
        with aws_errors(self._where):
            page = self._client.query(
                TableName=self._table,
                IndexName="by_zoho",
                KeyConditionExpression="zoho_key = :z",
                ExpressionAttributeValues={":z": _s(keys.zoho_key(tenant, zoho_module, zoho_id))},
            )
        items = sorted(page.get("Items", []), key=lambda i: i["pk"]["S"])
        return Mapping.from_item(json.loads(items[0]["item"]["S"])) if items else None

    def _by_status(self, tenant: str, status: str, limit: int) -> list[Mapping]:
        out: list[Mapping] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_status",
            "KeyConditionExpression": "tenant_status = :s",
            "ExpressionAttributeValues": {":s": _s(keys.tenant_status(tenant, status))},
        }
        while len(out) < limit:
            kwargs["Limit"] = limit - len(out)
            with aws_errors(self._where):
                page = self._client.query(**kwargs)
            out.extend(Mapping.from_item(json.loads(i["item"]["S"])) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Mapping]:
        if limit <= 0:
            return []
        statuses = (status,) if status is not None else MAPPING_STATUSES
        # Each status's list is in key order; merge them and keep the first ``limit``.
        merged = [m for s in statuses for m in self._by_status(tenant, s, limit)]
        return sorted(merged, key=lambda m: m.key)[:limit]
