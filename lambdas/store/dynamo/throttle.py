"""LoginThrottle on DynamoDB: helper items ``@auth#…`` in the sessions table.

Each failure is a read and a conditional write on the item's ``version`` (ADD-ed by one per
write), so two Lambda instances counting the same key at once cannot both write from the same
count: the loser reads again and counts on top. ``expires_at`` is the table's TTL attribute, so
a forgotten key's item goes by itself; reads still compare it with the clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ..ports import ThrottlePolicy
from ..throttle import FailureCounter
from .common import CONDITION_FAILED, _code, _n, _s, aws_errors, dynamo_table

# Conflicts mean other failures of the key were counted meanwhile; a few rounds suffice.
_ATTEMPTS = 5


class DynamoLoginThrottle:
    """LoginThrottle on one DynamoDB table keyed by ``pk`` (the sessions table)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def _read(self, key: str) -> tuple[FailureCounter, int | None]:
        """The key's counter and stored version (None: no item)."""
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table, Key={"pk": _s(key)}, ConsistentRead=True
            ).get("Item")
        if not item:
            return FailureCounter(), None
        counter = FailureCounter(
            failures=int(item["failures"]["N"]),
            window_start=float(item["window_start"]["N"]),
            strikes=int(item["strikes"]["N"]),
            blocked_until=float(item["blocked_until"]["N"]),
            expires_at=float(item["expires_at"]["N"]),
        )
        return counter, int(item["version"]["N"])

    def _write(self, key: str, counter: FailureCounter, version: int | None) -> bool:
        """Store ``counter`` if the item is still at ``version``; False if another write won."""
        condition = "attribute_not_exists(pk)" if version is None else "version = :v"
        values: dict[str, Any] = {
            ":f": {"N": str(counter.failures)},
            ":w": _n(counter.window_start),
            ":s": {"N": str(counter.strikes)},
            ":b": _n(counter.blocked_until),
            ":e": _n(counter.expires_at),
            ":one": {"N": "1"},
        }
        if version is not None:
            values[":v"] = {"N": str(version)}
        with aws_errors(self._where):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(key)},
                    UpdateExpression=(
                        "SET failures = :f, window_start = :w, strikes = :s, "
                        "blocked_until = :b, expires_at = :e ADD version :one"
                    ),
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if _code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True

    def blocked(self, keys: Sequence[str], now: float) -> float | None:
        """Until when the most blocked of ``keys`` is blocked; None if none is."""
        until = [
            c.blocked_until
            for c in (self._read(k)[0] for k in keys)
            if c.live(now) and c.blocked_until > now
        ]
        return max(until, default=None)

    def fail(self, keys: Sequence[str], now: float, policy: ThrottlePolicy) -> float | None:
        """Count a failure against each key not blocked now; the latest block this started."""
        started: list[float] = []
        for key in keys:
            for _ in range(_ATTEMPTS):
                before, version = self._read(key)
                after = before.after_failure(now, policy)
                if after == before:
                    break  # blocked: nothing to count
                if self._write(key, after, version):
                    if after.blocked_until > now and after.strikes != before.strikes:
                        started.append(after.blocked_until)
                    break
        return max(started, default=None)

    def succeed(self, key: str) -> None:
        """Forget the key."""
        with aws_errors(self._where):
            self._client.delete_item(TableName=self._table, Key={"pk": _s(key)})
