"""WriteBackStore on DynamoDB: the ``WriteBack`` table (partition key ``pk``, sort key ``sk``).

Items, all in the tenant's partition (``pk`` = tenant):

- ``sk = "op#<op_id>"``: one operation, every WriteOp attribute (``fields``, ``base`` and
  ``conflicts`` as JSON strings, ``linked`` a boolean, absent times absent) plus
  ``seq_key`` = the zero-padded ``seq`` + "#" + op_id (a total order), ``status_key`` =
  tenant#status, ``open_seq`` = ``seq_key`` only while the operation is open, and
  ``expires_at`` (the table's TTL attribute) only once it is final.
- ``sk = "record#<module>#<zoho_id>"``: the ZOHO record's head, ``latest`` (op id) and
  ``latest_seq``: the operation with the highest ``seq`` for that record, moved in the same
  transaction that creates an operation, so ``latest_for`` reads it consistently (a GSI would
  be eventually consistent, and a capture that missed an operation it had just enqueued would
  enqueue a second, independent one).
- ``sk = "cursor#<name>"``: a capture cursor, ``value``.

Indexes: ``open`` (partition ``pk``, sort ``open_seq``, keys only: sparse, the open operations
in ``seq`` order; ``open_ops`` re-reads what it finds with a consistent BatchGetItem, so the
writer sees current statuses and revs) and ``by_status`` (partition ``status_key``, sort
``seq_key``: the lists and counts of status views, eventually consistent).

Operations are created by a conditional put (``attribute_not_exists``) and changed only by
UpdateItem with a condition on ``status`` (and ``rev``), each writing only its own attributes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from ...writeback.model import OPEN, Conflict, OpStatus, WriteOp
from ..ports import ConcurrentUpdate, StoreError
from ..writeback_ports import mark_attrs, stored
from .common import (
    BATCH_ATTEMPTS,
    CONDITION_FAILED,
    TRANSACTION_CANCELED,
    _backoff,
    _code,
    _i,
    _n,
    _s,
    aws_errors,
    batch_delete,
    cancellation_reasons,
    count_query,
    dynamo_table,
)

OPEN_INDEX = "open"
STATUS_INDEX = "by_status"
_OP = "op#"
_RECORD = "record#"
_CURSOR = "cursor#"
_INTS = ("seq", "rev", "attempts")
_NUMBERS = ("created_at", "sent_at", "outcome_at", "expires_at")
_JSON = ("fields", "base", "conflicts")
_BATCH_GET = 100


def _seq_key(seq: int, op_id: str) -> str:
    return f"{seq:020d}#{op_id}"


def _status_key(tenant: str, status: OpStatus | str) -> str:
    return f"{tenant}#{OpStatus(status)}"


def _value(name: str, value: Any) -> dict[str, Any] | None:
    """The attribute value of WriteOp attribute ``name``; None for an absent one."""
    if value is None:
        return None
    if name == "conflicts":
        return _s(json.dumps([c.to_item() if isinstance(c, Conflict) else dict(c) for c in value]))
    if name in _JSON:
        return _s(json.dumps(value, sort_keys=True))
    if name in _INTS:
        return _i(value)
    if name in _NUMBERS:
        return _n(value)
    if name == "linked":
        return {"BOOL": bool(value)}
    return _s(str(value))


def _op(item: dict[str, Any]) -> WriteOp:
    data: dict[str, Any] = {}
    for key, value in item.items():
        if "S" in value:
            data[key] = json.loads(value["S"]) if key in _JSON else value["S"]
        elif "N" in value:
            data[key] = int(value["N"]) if key in _INTS else float(value["N"])
        elif "BOOL" in value:
            data[key] = value["BOOL"]
    data["tenant"] = data.pop("pk")
    return WriteOp.from_item(data)


class DynamoWriteBackStore:
    """WriteBackStore on the WriteBack table (see the module docstring for the items)."""

    def __init__(
        self,
        client: Any,
        table: str,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)
        self._sleep = sleep
        self._clock = clock

    def _key(self, tenant: str, op_id: str) -> dict[str, Any]:
        return {"pk": _s(tenant), "sk": _s(_OP + op_id)}

    def _record_key(self, tenant: str, module: str, zoho_id: str) -> dict[str, Any]:
        return {"pk": _s(tenant), "sk": _s(f"{_RECORD}{module}#{zoho_id}")}

    # --- the capture's writes -----------------------------------------------------------

    def enqueue(self, op: WriteOp) -> bool:
        item: dict[str, Any] = {}
        op = stored(op, self._clock())
        for name, value in op.to_item().items():
            encoded = _value(name, value)
            if encoded is not None:
                item[name] = encoded
        item.update(self._key(op.tenant, op.op_id))
        del item["tenant"]
        seq_key = _seq_key(op.seq, op.op_id)
        item["seq_key"] = _s(seq_key)
        item["status_key"] = _s(_status_key(op.tenant, op.status))
        if op.status in OPEN:
            item["open_seq"] = _s(seq_key)
        put = {
            "TableName": self._table,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(sk)",
        }
        head = {
            "TableName": self._table,
            "Key": self._record_key(op.tenant, op.zoho_module, op.zoho_id),
            "UpdateExpression": "SET latest = :op, latest_seq = :seq",
            "ConditionExpression": "attribute_not_exists(latest_seq) OR latest_seq < :seq",
            "ExpressionAttributeValues": {":op": _s(op.op_id), ":seq": _s(seq_key)},
        }
        with aws_errors(self._where):
            try:
                self._client.transact_write_items(TransactItems=[{"Put": put}, {"Update": head}])
                return True
            except ClientError as exc:
                if _code(exc) != TRANSACTION_CANCELED:
                    raise
                reasons = cancellation_reasons(exc)
                if reasons[:1] == ["ConditionalCheckFailed"]:
                    return False  # the operation exists
                if reasons[1:2] != ["ConditionalCheckFailed"]:
                    raise
            # The record's head names a later operation already: store this one alone.
            try:
                self._client.put_item(**put)
                return True
            except ClientError as exc:
                if _code(exc) == CONDITION_FAILED:
                    return False
                raise

    def supersede(
        self,
        tenant: str,
        op_id: str,
        rev: int,
        *,
        fields: dict[str, Any],
        zoho_version: str,
        base: dict[str, str],
    ) -> WriteOp:
        return self._update(
            tenant,
            op_id,
            "SET #fields = :fields, #base = :base, zoho_version = :version, rev = rev + :one",
            "#status = :pending AND rev = :rev",
            {
                ":fields": _value("fields", fields),
                ":base": _value("base", base),
                ":version": _s(zoho_version),
                ":one": _i(1),
                ":pending": _s(str(OpStatus.PENDING)),
                ":rev": _i(rev),
            },
            {"#fields": "fields", "#base": "base", "#status": "status"},
            f"write-back operation {op_id} of {tenant!r} is no longer pending at rev {rev}",
        )

    # --- the writer's writes ------------------------------------------------------------

    def mark(
        self,
        tenant: str,
        op_id: str,
        expect: Sequence[OpStatus],
        status: OpStatus,
        *,
        rev: int | None = None,
        expect_sent_at: float | None = None,
        **attrs: Any,
    ) -> WriteOp:
        status = OpStatus(status)
        checked = mark_attrs(expect, status, attrs, self._clock())
        names = {"#status": "status", "#status_key": "status_key"}
        values: dict[str, Any] = {
            ":status": _s(str(status)),
            ":status_key": _s(_status_key(tenant, status)),
        }
        sets = ["#status = :status", "#status_key = :status_key"]
        removes: list[str] = []
        for name, value in checked.items():
            names[f"#{name}"] = name
            encoded = _value(name, value)
            if encoded is None:
                removes.append(f"#{name}")
            else:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = encoded
        if status in OPEN:
            sets.append("open_seq = seq_key")
        else:
            removes.append("open_seq")
        expected = [f":expect{i}" for i in range(len(expect))]
        values.update({e: _s(str(OpStatus(s))) for e, s in zip(expected, expect, strict=True)})
        condition = f"#status IN ({', '.join(expected)})"
        if rev is not None:
            condition += " AND rev = :rev"
            values[":rev"] = _i(rev)
        if expect_sent_at is not None:
            names["#sent_at"] = "sent_at"
            condition += " AND #sent_at = :expect_sent_at"
            values[":expect_sent_at"] = _n(expect_sent_at)
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        wanted = "/".join(str(OpStatus(s)) for s in expect)
        return self._update(
            tenant,
            op_id,
            expression,
            condition,
            values,
            names,
            f"write-back operation {op_id} of {tenant!r} is not {wanted}"
            + (f" at rev {rev}" if rev is not None else "")
            + (f" sent at {expect_sent_at}" if expect_sent_at is not None else ""),
        )

    def _update(
        self,
        tenant: str,
        op_id: str,
        expression: str,
        condition: str,
        values: dict[str, Any],
        names: dict[str, str],
        conflict: str,
    ) -> WriteOp:
        with aws_errors(self._where):
            try:
                result = self._client.update_item(
                    TableName=self._table,
                    Key=self._key(tenant, op_id),
                    UpdateExpression=expression,
                    # attribute_exists: a missing operation fails the condition too.
                    ConditionExpression=f"attribute_exists(sk) AND {condition}",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if _code(exc) == CONDITION_FAILED:
                    raise ConcurrentUpdate(conflict) from None
                raise
        return _op(result["Attributes"])

    # --- reads --------------------------------------------------------------------------

    def get(self, tenant: str, op_id: str) -> WriteOp | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(tenant, op_id), ConsistentRead=True
            ).get("Item")
        return _op(item) if item else None

    def open_ops(self, tenant: str, limit: int = 100) -> list[WriteOp]:
        found = self._query(
            limit,
            IndexName=OPEN_INDEX,
            KeyConditionExpression="pk = :t",
            ExpressionAttributeValues={":t": _s(tenant)},
        )
        current = self._batch_get([{"pk": i["pk"], "sk": i["sk"]} for i in found])
        ops = [op for op in current if op.open]
        return sorted(ops, key=lambda op: _seq_key(op.seq, op.op_id))

    def latest_for(self, tenant: str, zoho_module: str, zoho_id: str) -> WriteOp | None:
        with aws_errors(self._where):
            head = self._client.get_item(
                TableName=self._table,
                Key=self._record_key(tenant, zoho_module, zoho_id),
                ConsistentRead=True,
            ).get("Item")
        # An expired (TTL) latest operation leaves its head behind: no operation then.
        return self.get(tenant, head["latest"]["S"]) if head else None

    def list(self, tenant: str, status: OpStatus | None = None, limit: int = 100) -> list[WriteOp]:
        statuses = [OpStatus(status)] if status is not None else list(OpStatus)
        found: list[dict[str, Any]] = []
        for s in statuses:
            found.extend(
                self._query(
                    limit,
                    IndexName=STATUS_INDEX,
                    KeyConditionExpression="status_key = :k",
                    ExpressionAttributeValues={":k": _s(_status_key(tenant, s))},
                    ScanIndexForward=False,
                )
            )
        found.sort(key=lambda i: i["seq_key"]["S"], reverse=True)
        return [_op(i) for i in found[:limit]]

    def counts(self, tenant: str) -> dict[str, int]:
        return {
            str(s): count_query(
                self._client,
                self._where,
                self._table,
                STATUS_INDEX,
                "status_key",
                _status_key(tenant, s),
            )
            for s in OpStatus
        }

    def _query(self, limit: int | None, **query: Any) -> list[dict[str, Any]]:
        """Up to ``limit`` (None: all) items of a query, following its pages."""
        kwargs: dict[str, Any] = {"TableName": self._table, **query}
        items: list[dict[str, Any]] = []
        while limit is None or len(items) < limit:
            if limit is not None:
                kwargs["Limit"] = limit - len(items)
            with aws_errors(self._where):
                page = self._client.query(**kwargs)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items if limit is None else items[:limit]

    def _batch_get(self, item_keys: list[dict[str, Any]]) -> list[WriteOp]:
        ops: list[WriteOp] = []
        for start in range(0, len(item_keys), _BATCH_GET):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": item_keys[start : start + _BATCH_GET],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(BATCH_ATTEMPTS):
                with aws_errors(self._where):
                    page = self._client.batch_get_item(RequestItems=pending)
                ops.extend(_op(i) for i in page.get("Responses", {}).get(self._table, []))
                pending = page.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._sleep(_backoff(attempt))
            else:
                raise StoreError(
                    f"{self._where}: reads still throttled after {BATCH_ATTEMPTS} attempts"
                )
        return ops

    # --- cursors and removal ------------------------------------------------------------

    def cursor(self, tenant: str, name: str) -> str | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(tenant), "sk": _s(_CURSOR + name)},
                ConsistentRead=True,
            ).get("Item")
        return item["value"]["S"] if item else None

    def set_cursor(self, tenant: str, name: str, value: str) -> None:
        with aws_errors(self._where):
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(tenant), "sk": _s(_CURSOR + name)},
                UpdateExpression="SET #value = :v",
                ExpressionAttributeNames={"#value": "value"},
                ExpressionAttributeValues={":v": _s(value)},
            )

    def delete_tenant(self, tenant: str) -> int:
        item_keys = [
            {"pk": i["pk"], "sk": i["sk"]}
            for i in self._query(
                None,
                KeyConditionExpression="pk = :t",
                ExpressionAttributeValues={":t": _s(tenant)},
                ProjectionExpression="pk, sk",
                ConsistentRead=True,
            )
        ]
        batch_delete(self._client, self._table, item_keys, self._sleep)
        return sum(1 for k in item_keys if k["sk"]["S"].startswith(_OP))
