"""RunHistory on DynamoDB."""

from __future__ import annotations

import json
from typing import Any

from ..ports import RunRecord
from .common import _s, aws_errors, dynamo_table


class DynamoRunHistory:
    """RunHistory in the runs table: key ``pk`` = tenant, sort key ``sk`` = start#ticket."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

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
