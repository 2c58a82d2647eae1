"""ApiKeyStore on DynamoDB."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .. import keys
from ..ports import AlreadyExists, ApiKey
from .common import CONDITION_FAILED, _code, _n, _s, aws_errors, dynamo_table


def _key(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=item["pk"]["S"][len(keys.API_KEY) :],
        name=item["name"]["S"],
        secret_hash=item["secret_hash"]["S"],
        created_at=float(item["created_at"]["N"]),
        last_used_at=float(item["last_used_at"]["N"]) if "last_used_at" in item else None,
    )


class DynamoApiKeyStore:
    """ApiKeyStore on the tenants table: helper items ``@apikey#<id>`` (no ``item`` attribute,
    so tenant listings pass them by). The relay already reads this table, so verifying a key
    needs no further permission than GetItem and UpdateItem on it."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def add(self, key: ApiKey) -> None:
        item = {
            "pk": _s(keys.API_KEY + key.key_id),
            "name": _s(key.name),
            "secret_hash": _s(key.secret_hash),
            "created_at": _n(key.created_at),
        }
        if key.last_used_at is not None:
            item["last_used_at"] = _n(key.last_used_at)
        with aws_errors(self._where):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if _code(exc) != CONDITION_FAILED:
                    raise
                raise AlreadyExists(keys.api_key_exists(key.key_id)) from None

    def get(self, key_id: str) -> ApiKey | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.API_KEY + key_id)},
                ConsistentRead=True,
            ).get("Item")
        return _key(item) if item else None

    def list(self) -> list[ApiKey]:
        found: list[ApiKey] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": _s(keys.API_KEY)},
        }
        while True:
            with aws_errors(self._where):
                page = self._client.scan(**request)
            found.extend(_key(i) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(found, key=lambda k: (k.created_at, k.key_id))

    def delete(self, key_id: str) -> bool:
        with aws_errors(self._where):
            reply = self._client.delete_item(
                TableName=self._table,
                Key={"pk": _s(keys.API_KEY + key_id)},
                ReturnValues="ALL_OLD",
            )
        return bool(reply.get("Attributes"))

    def touch(self, key_id: str, at: float) -> None:
        with aws_errors(self._where):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(keys.API_KEY + key_id)},
                    UpdateExpression="SET last_used_at = :t",
                    # A revoked key must not come back as a bare item.
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeValues={":t": _n(at)},
                )
            except ClientError as exc:
                if _code(exc) != CONDITION_FAILED:
                    raise
