"""MappingStore on DynamoDB: one item per record, one attribute per fact.

``pk`` is tenant#source#entity#source_id. The relay's and the forwarder's writes are UpdateItem
calls on their own attributes, under the conditions of ``ports.DeliveryOutcome`` (the SQLite
twin applies the same ones). GSIs: ``by_tenant`` (``tenant``, ``pk``) lists a tenant's rows,
``by_status`` (``tenant_status``, ``pk``) its rows with one status, ``by_zoho`` (``zoho_key``)
finds a row from its ZOHO record. Items written by an earlier release (one JSON ``item``
attribute) are still read.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ...model.identity import version_order
from .. import keys
from ..mapping_rows import DELETED, NUMBERS, legacy_columns, mapping_from_row
from ..ports import (
    Claim,
    ConcurrentUpdate,
    DeliveryOutcome,
    DeliveryStatus,
    Handoff,
    Mapping,
    StoreError,
)
from .common import _backoff, _n, _s, aws_errors, batch_delete, count_query, dynamo_table

BATCH_GET = 100
# Unprocessed keys come back under throttling; retry a bounded number of times with backoff.
BATCH_ATTEMPTS = 8
# Single-item updates run in parallel (boto3 clients are thread-safe), bounded.
WORKERS = 16

_NOT_DELETED = "(attribute_not_exists(#status) OR #status <> :deleted)"


def _value(attr: dict[str, Any]) -> Any:
    if "S" in attr:
        return attr["S"]
    if "N" in attr:
        return float(attr["N"])
    if "NULL" in attr:
        return None
    if "L" in attr:
        return [_value(v) for v in attr["L"]]
    if "M" in attr:
        return {k: _value(v) for k, v in attr["M"].items()}
    return None


def _mapping(item: dict[str, Any]) -> Mapping:
    columns = {k: _value(v) for k, v in item.items()}
    if "item" in columns and "source_id" not in columns:
        columns = legacy_columns(json.loads(columns["item"]))
    return mapping_from_row(columns)


class _Update:
    """Builds one UpdateItem's expression, names and values."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.names: dict[str, str] = {"#status": "status"}
        self.values: dict[str, Any] = {":deleted": _s(DELETED)}

    def set(self, name: str, value: Any, if_absent: bool = False) -> _Update:
        self.names[f"#{name}"] = name
        if value is None:
            self.values[f":{name}"] = {"NULL": True}
        elif name in NUMBERS or isinstance(value, float | int):
            self.values[f":{name}"] = _n(value)
        elif isinstance(value, list | tuple):
            self.values[f":{name}"] = {"L": [_s(str(v)) for v in value]}
        elif isinstance(value, dict):
            self.values[f":{name}"] = {"M": {str(k): _s(str(v)) for k, v in value.items()}}
        else:
            self.values[f":{name}"] = _s(str(value))
        target = f"if_not_exists(#{name}, :{name})" if if_absent else f":{name}"
        self.sets.append(f"#{name} = {target}")
        return self

    def value(self, name: str, value: Any) -> _Update:
        self.values[name] = _n(value) if isinstance(value, float | int) else _s(str(value))
        return self

    def kwargs(self, table: str, key: str, condition: str | None = None) -> dict[str, Any]:
        update = "SET " + ", ".join(self.sets)
        text = update + " " + (condition or "")
        # DynamoDB refuses names and values an expression does not use.
        out: dict[str, Any] = {
            "TableName": table,
            "Key": {"pk": _s(key)},
            "UpdateExpression": update,
            "ExpressionAttributeNames": {k: v for k, v in self.names.items() if _uses(text, k)},
            "ExpressionAttributeValues": {k: v for k, v in self.values.items() if _uses(text, k)},
        }
        if condition:
            out["ConditionExpression"] = condition
        return out


def _uses(text: str, token: str) -> bool:
    """True when ``token`` (``#name`` or ``:value``) occurs in ``text`` as a whole word."""
    return re.search(re.escape(token) + r"(?![A-Za-z0-9_])", text) is not None


def _identity(u: _Update, x: Handoff | Claim | DeliveryOutcome) -> _Update:
    for name in ("tenant", "source", "entity", "source_id"):
        u.set(name, getattr(x, name), if_absent=True)
    return u


def _outcome(o: DeliveryOutcome) -> tuple[_Update, str]:
    """The update writing one outcome, and its condition."""
    status = DeliveryStatus(o.status)
    u = _identity(_Update(), o)
    u.set("status", status.value).set("outcome_at", o.at)
    u.set("tenant_status", keys.tenant_status(o.tenant, status.value))
    if status is DeliveryStatus.SYNCED:
        u.set("zoho_module", o.zoho_module).set("applied_hash", o.content_hash)
        u.set("applied_version", o.version).set("last_error", None)
        u.set("applied_fields", o.applied_fields)
        if o.zoho_id:
            u.set("zoho_id", o.zoho_id)
            u.set("zoho_key", keys.zoho_key(o.tenant, o.zoho_module, o.zoho_id))
        u.value(":token", o.token)
        return u, f"claim_token = :token AND {_NOT_DELETED}"
    if status is DeliveryStatus.DELETED:
        # A deletion always wins, and takes a fresh token: a write still in flight loses.
        u.set("applied_hash", o.content_hash).set("last_error", None)
        u.set("claim_token", o.token or uuid.uuid4().hex)
        return u, ""
    if status is DeliveryStatus.CONFLICT:
        u.set("applied_hash", "").set("last_error", o.last_error)
        u.set("claim_token", o.token or uuid.uuid4().hex)
        if o.zoho_id:  # a linked record's conflict names its ZOHO record
            u.set("zoho_module", o.zoho_module).set("zoho_id", o.zoho_id)
            u.set("zoho_key", keys.zoho_key(o.tenant, o.zoho_module, o.zoho_id))
        return u, _NOT_DELETED
    u.set("last_error", o.last_error).value(":order", version_order(o.version))
    return u, f"{_NOT_DELETED} AND (attribute_not_exists(claimed_order) OR claimed_order <= :order)"


class DynamoMappingStore:
    """MappingStore on the mappings table."""

    def __init__(
        self, client: Any, table: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)
        self._sleep = sleep

    # --- reads ------------------------------------------------------------------------------

    def get(self, tenant: str, source: str, entity: str, source_id: str) -> Mapping | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.mapping_key(tenant, source, entity, source_id))},
                ConsistentRead=True,
            ).get("Item")
        return _mapping(item) if item else None

    def get_many(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> dict[str, Mapping]:
        all_keys = list(
            dict.fromkeys(keys.mapping_key(tenant, source, entity, i) for i in source_ids)
        )
        found: dict[str, Mapping] = {}
        for start in range(0, len(all_keys), BATCH_GET):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": _s(k)} for k in all_keys[start : start + BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(BATCH_ATTEMPTS):
                with aws_errors(self._where):
                    page = self._client.batch_get_item(RequestItems=pending)
                for item in page.get("Responses", {}).get(self._table, []):
                    m = _mapping(item)
                    found[m.source_id] = m
                pending = page.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._sleep(_backoff(attempt))
            else:
                raise StoreError(
                    f"{self._where}: reads still throttled after {BATCH_ATTEMPTS} attempts"
                )
        return found

    def find_by_zoho_id(self, tenant: str, zoho_module: str, zoho_id: str) -> Mapping | None:
        with aws_errors(self._where):
            page = self._client.query(
                TableName=self._table,
                IndexName="by_zoho",
                KeyConditionExpression="zoho_key = :z",
                ExpressionAttributeValues={":z": _s(keys.zoho_key(tenant, zoho_module, zoho_id))},
            )
        items = sorted(page.get("Items", []), key=lambda i: i["pk"]["S"])
        return _mapping(items[0]) if items else None

    def _query(self, index: str, attr: str, value: str, limit: int | None) -> Iterator[Mapping]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": index,
            "KeyConditionExpression": f"{attr} = :v",
            "ExpressionAttributeValues": {":v": _s(value)},
        }
        seen = 0
        while limit is None or seen < limit:
            if limit is not None:
                kwargs["Limit"] = limit - seen
            with aws_errors(self._where):
                page = self._client.query(**kwargs)
            for item in page["Items"]:
                seen += 1
                yield _mapping(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Mapping]:
        if limit <= 0:
            return []
        if status is None:
            return list(self._query("by_tenant", "tenant", tenant, limit))
        return list(
            self._query("by_status", "tenant_status", keys.tenant_status(tenant, status), limit)
        )

    def scan(self, tenant: str) -> Iterator[Mapping]:
        return self._query("by_tenant", "tenant", tenant, None)

    def count(self, tenant: str) -> int:
        return count_query(self._client, self._where, self._table, "by_tenant", "tenant", tenant)

    # --- writes -----------------------------------------------------------------------------

    def _update_all(self, calls: list[tuple[str, dict[str, Any]]]) -> set[str]:
        """Run the UpdateItem calls (in parallel); the keys whose condition failed."""

        def one(call: tuple[str, dict[str, Any]]) -> str | None:
            key, kwargs = call
            try:
                with aws_errors(self._where):
                    self._client.update_item(**kwargs)
            except ConcurrentUpdate:
                return key
            return None

        if len(calls) <= 1:
            results = [one(c) for c in calls]
        else:
            with ThreadPoolExecutor(max_workers=min(WORKERS, len(calls))) as pool:
                results = list(pool.map(one, calls))
        return {k for k in results if k is not None}

    def record_handoffs(self, handoffs: Sequence[Handoff]) -> None:
        calls = []
        for h in handoffs:
            u = _identity(_Update(), h)
            u.set("handed_hash", h.content_hash).set("handed_version", h.version)
            u.set("handed_at", h.at)
            if h.links is not None:
                u.set("links", list(h.links))
            calls.append((h.key, u.kwargs(self._table, h.key)))
        self._update_all(calls)

    def claim(self, claim: Claim) -> None:
        if self.claim_many([claim]):
            raise ConcurrentUpdate(f"mapping {claim.key}: a newer version is claimed")

    def claim_many(self, claims: Sequence[Claim]) -> set[str]:
        calls = []
        for c in claims:
            u = _identity(_Update(), c)
            u.set("claimed_order", version_order(c.version)).set("claim_token", c.token)
            u.set("claimed_read", c.read_at)
            condition = (
                f"{_NOT_DELETED} AND (attribute_not_exists(claimed_order) "
                "OR claimed_order < :claimed_order OR (claimed_order = :claimed_order AND "
                "(attribute_not_exists(claimed_read) OR claimed_read <= :claimed_read)))"
            )
            calls.append((c.key, u.kwargs(self._table, c.key, condition)))
        return self._update_all(calls)

    def record_outcome(self, outcome: DeliveryOutcome) -> None:
        if self.record_outcomes([outcome]):
            raise ConcurrentUpdate(f"mapping {outcome.key}: changed concurrently")

    def record_outcomes(self, outcomes: Sequence[DeliveryOutcome]) -> list[DeliveryOutcome]:
        # Outcomes of one key are written in order (a contact's, then its deletion...).
        by_key: dict[str, list[DeliveryOutcome]] = {}
        for o in outcomes:
            by_key.setdefault(o.key, []).append(o)
        lost: list[DeliveryOutcome] = []
        rounds = max((len(v) for v in by_key.values()), default=0)
        for i in range(rounds):
            batch = [v[i] for v in by_key.values() if len(v) > i]
            calls = []
            for o in batch:
                u, condition = _outcome(o)
                calls.append((o.key, u.kwargs(self._table, o.key, condition or None)))
            failed = self._update_all(calls)
            lost += [o for o in batch if o.key in failed]
        return lost

    def delete_tenant(self, tenant: str) -> int:
        pks = [{"pk": _s(m.key)} for m in self.scan(tenant)]
        return batch_delete(self._client, self._table, pks, self._sleep)
