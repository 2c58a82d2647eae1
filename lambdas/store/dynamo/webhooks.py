"""Webhook subscriptions and the delivery log in the Webhooks table (``pk``, ``sk``, TTL).

Subscriptions are items ``pk = "sub"``, ``sk = <id>``; deliveries ``pk = "delivery"``,
``sk = <delivery id>`` (ids start with the event's time, so a descending Query is newest first).
Both partitions stay small: subscriptions are few, and deliveries expire after
``DELIVERY_TTL_SECONDS`` (the table's TTL attribute ``expires_at``). A delivery's immutable part
is one JSON attribute; each attempt updates its own attributes only.
"""

from __future__ import annotations

import json
from typing import Any

from ...webhooks.ports import Attempt, Delivery, Subscription
from ..ports import AlreadyExists, StoreError
from .common import CONDITION_FAILED, _code, _n, _s, aws_errors, dynamo_table

SUBSCRIPTION = "sub"
DELIVERY = "delivery"
DELIVERY_TTL_SECONDS = 30 * 86400


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


class DynamoSubscriptionStore:
    """SubscriptionStore in the Webhooks table."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def add(self, subscription: Subscription) -> None:
        try:
            with aws_errors(self._where):
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        **_key(SUBSCRIPTION, subscription.id),
                        "item": _s(json.dumps(subscription.to_item())),
                    },
                    ConditionExpression="attribute_not_exists(pk)",
                )
        except StoreError as exc:
            if _code(exc.__cause__) == CONDITION_FAILED:
                raise AlreadyExists(f"webhook {subscription.id} exists already") from exc
            raise

    def get(self, subscription_id: str) -> Subscription | None:
        with aws_errors(self._where):
            reply = self._client.get_item(
                TableName=self._table, Key=_key(SUBSCRIPTION, subscription_id), ConsistentRead=True
            )
        item = reply.get("Item")
        return Subscription.from_item(json.loads(item["item"]["S"])) if item else None

    def list(self) -> list[Subscription]:
        out: list[Subscription] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": _s(SUBSCRIPTION)},
            "ConsistentRead": True,
        }
        while True:
            with aws_errors(self._where):
                page = self._client.query(**request)
            out += [Subscription.from_item(json.loads(i["item"]["S"])) for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return out
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def remove(self, subscription_id: str) -> bool:
        with aws_errors(self._where):
            reply = self._client.delete_item(
                TableName=self._table,
                Key=_key(SUBSCRIPTION, subscription_id),
                ReturnValues="ALL_OLD",
            )
        return bool(reply.get("Attributes"))


def _delivery(item: dict[str, Any]) -> Delivery:
    code = item.get("status_code", {}).get("N")
    next_at = item.get("next_attempt_at", {}).get("N")
    return Delivery(
        **json.loads(item["item"]["S"]),
        attempts=int(item["attempts"]["N"]),
        status=item["status"]["S"],
        status_code=int(code) if code is not None else None,
        last_error=item.get("last_error", {}).get("S", ""),
        next_attempt_at=float(next_at) if next_at is not None else None,
        updated_at=float(item["updated_at"]["N"]),
    )


class DynamoDeliveryLog:
    """DeliveryLog in the Webhooks table."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def create(self, delivery: Delivery) -> bool:
        item: dict[str, Any] = {
            **_key(DELIVERY, delivery.id),
            "item": _s(json.dumps(delivery.immutable)),
            "attempts": {"N": str(delivery.attempts)},
            "status": _s(str(delivery.status)),
            "last_error": _s(delivery.last_error),
            "updated_at": _n(delivery.updated_at or delivery.created_at),
            "expires_at": {"N": str(int(delivery.created_at + DELIVERY_TTL_SECONDS))},
        }
        if delivery.next_attempt_at is not None:
            item["next_attempt_at"] = _n(delivery.next_attempt_at)
        try:
            with aws_errors(self._where):
                self._client.put_item(
                    TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)"
                )
        except StoreError as exc:
            if _code(exc.__cause__) == CONDITION_FAILED:
                return False
            raise
        return True

    def get(self, delivery_id: str) -> Delivery | None:
        with aws_errors(self._where):
            reply = self._client.get_item(
                TableName=self._table, Key=_key(DELIVERY, delivery_id), ConsistentRead=True
            )
        item = reply.get("Item")
        return _delivery(item) if item else None

    def record_attempt(self, delivery_id: str, attempt: Attempt) -> None:
        values: dict[str, Any] = {
            ":a": {"N": str(attempt.attempts)},
            ":s": _s(attempt.status),
            ":e": _s(attempt.error),
            ":u": _n(attempt.at),
        }
        sets = ["attempts = :a", "#s = :s", "last_error = :e", "updated_at = :u"]
        removes = []
        for name, value, placeholder in (
            ("status_code", attempt.status_code, ":c"),
            ("next_attempt_at", attempt.next_attempt_at, ":n"),
        ):
            if value is None:
                removes.append(name)
            else:
                sets.append(f"{name} = {placeholder}")
                values[placeholder] = {"N": repr(value)}
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            with aws_errors(self._where):
                self._client.update_item(
                    TableName=self._table,
                    Key=_key(DELIVERY, delivery_id),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames={"#s": "status"},
                    ExpressionAttributeValues=values,
                )
        except StoreError as exc:
            if _code(exc.__cause__) == CONDITION_FAILED:
                raise StoreError(f"no webhook delivery {delivery_id}") from exc
            raise

    def recent(self, limit: int = 20) -> list[Delivery]:
        with aws_errors(self._where):
            reply = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": _s(DELIVERY)},
                ScanIndexForward=False,
                Limit=limit,
            )
        return [_delivery(i) for i in reply.get("Items", [])]
