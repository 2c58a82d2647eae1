"""SeenEvents on DynamoDB: one item per webhook event id, written by a conditional put."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import keys
from ..ports import ConcurrentUpdate
from .common import _n, _s, aws_errors, batch_delete, dynamo_table


class DynamoSeenEvents:
    """SeenEvents in a table with a TTL attribute ``expires_at`` (the sessions table).

    A put succeeds only if the id is absent or expired (TTL removes items up to days late, so
    the condition checks the expiry itself).
    """

    def __init__(self, client: Any, table: str, sleep: Any = None) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)
        self._sleep = sleep or (lambda _s: None)

    def claim(self, event_ids: Sequence[str], now: float, ttl_seconds: float) -> list[str]:
        claimed = []
        for event_id in event_ids:
            try:
                with aws_errors(self._where):
                    self._client.put_item(
                        TableName=self._table,
                        Item={
                            "pk": _s(keys.qbo_event(event_id)),
                            "expires_at": _n(now + ttl_seconds),
                        },
                        ConditionExpression="attribute_not_exists(pk) OR expires_at <= :now",
                        ExpressionAttributeValues={":now": _n(now)},
                    )
            except ConcurrentUpdate:
                continue  # seen already
            claimed.append(event_id)
        return claimed

    def release(self, event_ids: Sequence[str]) -> None:
        batch_delete(
            self._client,
            self._table,
            [{"pk": _s(keys.qbo_event(e))} for e in dict.fromkeys(event_ids)],
            self._sleep,
        )
