"""Helpers shared by the DynamoDB, SQS and Secrets Manager adapters.

Every client call of the adapters runs inside :func:`aws_errors`, so a botocore ``ClientError``
or ``BotoCoreError`` reaches callers only as a ``StoreError`` (``ConcurrentUpdate`` when a
condition failed) naming the table or queue and the error code, never the SDK's message text
(some echo request parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from ..ports import ConcurrentUpdate, StoreError

AWS_ERRORS = (ClientError, BotoCoreError)

# SQS takes at most 10 messages a batch, each at most 256 KB.
SQS_BATCH = 10
SQS_MAX_BYTES = 256 * 1024

# Codes meaning a condition (or a transaction's condition) did not hold.
CONDITION_FAILED = "ConditionalCheckFailedException"
TRANSACTION_CANCELED = "TransactionCanceledException"
_CONFLICT_CODES = {CONDITION_FAILED, "TransactionConflictException"}
# Cancellation reasons that mean another writer got there first.
_CONFLICT_REASONS = {"None", "ConditionalCheckFailed", "TransactionConflict"}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


def _i(value: int) -> dict[str, str]:
    """An integer number attribute (exact: ``_n`` goes through float)."""
    return {"N": str(int(value))}


def _code(exc: BaseException) -> str:
    """The error code of a ClientError ("" for anything else)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def cancellation_reasons(exc: ClientError) -> list[str]:
    """The per-item reason codes of a TransactionCanceledException."""
    return [str(r.get("Code")) for r in exc.response.get("CancellationReasons", [])]


def _backoff(attempt: int) -> float:
    return min(0.05 * 2**attempt, 2.0)


# A batch write takes at most 25 requests; unprocessed ones come back under throttling and are
# retried a bounded number of times with backoff.
BATCH_WRITE = 25
BATCH_ATTEMPTS = 8


def batch_delete(
    client: Any, table: str, item_keys: list[dict[str, Any]], sleep: Callable[[float], None]
) -> int:
    """Delete the items with ``item_keys`` from ``table``; how many were asked for."""
    where = dynamo_table(table)
    for start in range(0, len(item_keys), BATCH_WRITE):
        pending: dict[str, Any] = {
            table: [{"DeleteRequest": {"Key": k}} for k in item_keys[start : start + BATCH_WRITE]]
        }
        for attempt in range(BATCH_ATTEMPTS):
            with aws_errors(where):
                result = client.batch_write_item(RequestItems=pending)
            pending = result.get("UnprocessedItems") or {}
            if not pending:
                break
            sleep(_backoff(attempt))
        else:
            raise StoreError(f"{where}: deletes still throttled after {BATCH_ATTEMPTS} attempts")
    return len(item_keys)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return _code(exc) or "ClientError"
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials (NoCredentialsError)"
    return type(exc).__name__


def _is_conflict(exc: BaseException) -> bool:
    code = _code(exc)
    if code in _CONFLICT_CODES:
        return True
    if code == TRANSACTION_CANCELED and isinstance(exc, ClientError):
        reasons = cancellation_reasons(exc)
        return bool(reasons) and all(r in _CONFLICT_REASONS for r in reasons)
    return False


def store_error(where: str, exc: BaseException) -> StoreError:
    """The StoreError for a failed AWS call on ``where`` (e.g. "DynamoDB table tenants").

    A failed condition becomes ConcurrentUpdate; the message holds only the error code.
    """
    kind = ConcurrentUpdate if _is_conflict(exc) else StoreError
    return kind(f"{where}: {_describe(exc)}")


@contextmanager
def aws_errors(where: str) -> Iterator[None]:
    """Translate botocore errors raised inside into ``store_error(where, ...)``."""
    try:
        yield
    except AWS_ERRORS as exc:
        raise store_error(where, exc) from exc


def count_query(client: Any, where: str, table: str, index: str, attr: str, value: str) -> int:
    """How many items of ``index`` have ``attr`` = ``value`` (a COUNT query, page by page)."""
    kwargs: dict[str, Any] = {
        "TableName": table,
        "IndexName": index,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": attr},
        "ExpressionAttributeValues": {":v": _s(value)},
        "Select": "COUNT",
    }
    total = 0
    while True:
        with aws_errors(where):
            page = client.query(**kwargs)
        total += int(page.get("Count", 0))
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def dynamo_table(name: str) -> str:
    return f"DynamoDB table {name}"


def sqs_queue(url: str) -> str:
    return f"SQS queue {url.rstrip('/').rsplit('/', 1)[-1]}"


def refused(what: str, failed: list[dict[str, Any]]) -> StoreError:
    """The error for a batch some of whose entries SQS refused."""
    first = failed[0]
    return StoreError(
        f"{what} refused {len(failed)} message(s): "
        f"{first.get('Code')} {first.get('Message', '')}".strip()
    )
