"""AuditResults on DynamoDB."""

from __future__ import annotations

import json
from typing import Any

from .. import keys
from .common import _n, _s, aws_errors, dynamo_table


class DynamoAuditResults:
    """AuditResults on the state table: one item ``@audit#<tenant>`` per tenant."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def save(self, tenant: str, summary: dict[str, Any], at: float) -> None:
        # An update, not a put: the audit function may update the state table, never put.
        with aws_errors(self._where):
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(keys.AUDIT_RESULT + tenant)},
                UpdateExpression="SET #at = :at, summary = :s",
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues={
                    ":at": _n(at),
                    ":s": _s(json.dumps(summary, sort_keys=True)),
                },
            )

    def last(self, tenant: str) -> tuple[dict[str, Any], float] | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.AUDIT_RESULT + tenant)},
                ConsistentRead=True,
            ).get("Item")
        if not item:
            return None
        return json.loads(item["summary"]["S"]), float(item["at"]["N"])

    def delete_tenant(self, tenant: str) -> None:
        with aws_errors(self._where):
            self._client.delete_item(
                TableName=self._table, Key={"pk": _s(keys.AUDIT_RESULT + tenant)}
            )
