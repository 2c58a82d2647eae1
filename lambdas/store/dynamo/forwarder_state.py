"""ForwarderState on DynamoDB."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .. import keys
from ..ports import Pause
from .common import CONDITION_FAILED, _code, _n, _s, aws_errors, dynamo_table


class DynamoForwarderState:
    """ForwarderState on the state table: items ``@zoho-pause#<t>`` and ``@zoho-mapping#<t>``."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def pause(self, tenant: str, until: float, reason: str) -> None:
        with aws_errors(self._where):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        "pk": _s(keys.ZOHO_PAUSE + tenant),
                        "until": _n(until),
                        "reason": _s(reason),
                    },
                    ConditionExpression="attribute_not_exists(pk) OR #u < :u",
                    ExpressionAttributeNames={"#u": "until"},
                    ExpressionAttributeValues={":u": _n(until)},
                )
            except ClientError as exc:
                # A longer pause is in place already: keep it.
                if _code(exc) != CONDITION_FAILED:
                    raise

    def paused(self, tenant: str, now: float) -> Pause | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.ZOHO_PAUSE + tenant)},
                ConsistentRead=True,
            ).get("Item")
        if not item or float(item["until"]["N"]) <= now:
            return None
        return Pause(float(item["until"]["N"]), item["reason"]["S"])

    def resume(self, tenant: str) -> None:
        with aws_errors(self._where):
            self._client.delete_item(
                TableName=self._table, Key={"pk": _s(keys.ZOHO_PAUSE + tenant)}
            )

    def get_mapping(self, tenant: str) -> dict[str, Any] | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.ZOHO_MAPPING + tenant)},
                ConsistentRead=True,
            ).get("Item")
        return json.loads(item["mapping"]["S"]) if item else None

    def put_mapping(self, tenant: str, mapping: dict[str, Any] | None) -> None:
        key = {"pk": _s(keys.ZOHO_MAPPING + tenant)}
        with aws_errors(self._where):
            if mapping is None:
                self._client.delete_item(TableName=self._table, Key=key)
            else:
                item = {**key, "mapping": _s(json.dumps(mapping))}
                self._client.put_item(TableName=self._table, Item=item)

    def delete_tenant(self, tenant: str) -> None:
        with aws_errors(self._where):
            for prefix in (keys.ZOHO_PAUSE, keys.ZOHO_MAPPING):
                self._client.delete_item(TableName=self._table, Key={"pk": _s(prefix + tenant)})
