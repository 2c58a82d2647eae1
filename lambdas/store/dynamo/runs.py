"""RunHistory on DynamoDB."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from ..ports import RunRecord
from .common import _s, aws_errors, batch_delete, dynamo_table


class DynamoRunHistory:
    """RunHistory in the runs table: key ``pk`` = tenant, sort key ``sk`` = start#ticket."""

    def __init__(
        self, client: Any, table: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)
        self._sleep = sleep

    def add(self, run: RunRecord) -> None:
        with aws_errors(self._where):
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(run.tenant),
                    # Zero-padded start time first, so the sort key orders runs by time.
                    "sk": _s(f"{run.started_at:017.3f}#{run.ticket}"),
                    "item": _s(json.dumps(run.to_item())),
                },
            )

    def recent(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        with aws_errors(self._where):
            result = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :t",
                ExpressionAttributeValues={":t": _s(tenant)},
                ScanIndexForward=False,
                Limit=limit,
            )
        return [RunRecord.from_item(json.loads(i["item"]["S"])) for i in result.get("Items", [])]

    def _pages(self, tenant: str, **extra: Any) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :t",
            "ExpressionAttributeValues": {":t": _s(tenant)},
            **extra,
        }
        while True:
            with aws_errors(self._where):
                page = self._client.query(**request)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def count(self, tenant: str) -> int:
        return sum(int(page.get("Count", 0)) for page in self._pages(tenant, Select="COUNT"))

    def delete_tenant(self, tenant: str) -> int:
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for page in self._pages(tenant, ProjectionExpression="pk, sk")
            for item in page.get("Items", [])
        ]
        return batch_delete(self._client, self._table, keys, self._sleep)
