"""QuickBooks Online stores on DynamoDB: connections, OAuth states, per-realm limits.

Connections are ``@qbo-conn#<tenant>`` items in the state table, each metadata attribute
written by its own UpdateItem; ``@qbo-realm#<realm>`` items claim a realm for one tenant
(conditional put), which is how ``find_by_realm`` routes webhooks. Limits are
``@qbo-limit#<realm>`` items (a JSON state and a version, changed by conditional writes).
OAuth states are ``@qbo-state#<sha256>`` items in the sessions table, whose TTL attribute
``expires_at`` removes the unused ones; ``consume`` is a conditional delete returning the item.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from ...qbo.connections import DISCONNECTED, STATUSES, QboConnection
from ...qbo.limits import LimiterState
from ...qbo.states import OAuthState
from .. import keys
from ..ports import AlreadyExists, StoreError
from .common import CONDITION_FAILED, _code, _n, _s, aws_errors, dynamo_table

T = TypeVar("T")

_NUMBERS = (
    "access_expires_at",
    "refresh_expires_at",
    "refresh_hard_expires_at",
    "connected_at",
    "last_success_at",
)
_STRINGS = ("realm_id", "status", "message")
# Optimistic rounds of a limiter update; contention is bounded by the callers of one realm.
_LIMIT_ATTEMPTS = 25


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in item.items():
        if "S" in value:
            out[key] = value["S"]
        elif "N" in value:
            out[key] = float(value["N"])
    return out


class DynamoQboConnectionStore:
    """QboConnectionStore on the state table (see the module docstring for the items)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def _key(self, tenant: str) -> dict[str, Any]:
        return {"pk": _s(keys.QBO_CONNECTION + tenant)}

    def _realm_key(self, realm_id: str) -> dict[str, Any]:
        return {"pk": _s(keys.QBO_REALM + realm_id)}

    def get(self, tenant: str) -> QboConnection | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(tenant), ConsistentRead=True
            ).get("Item")
        if not item or "realm_id" not in item:
            return None
        return QboConnection.from_item(_plain(item))

    def find_by_realm(self, realm_id: str) -> QboConnection | None:
        with aws_errors(self._where):
            claim = self._client.get_item(
                TableName=self._table, Key=self._realm_key(realm_id), ConsistentRead=True
            ).get("Item")
        if not claim:
            return None
        found = self.get(claim["tenant"]["S"])
        if found is None or found.realm_id != realm_id or found.status == DISCONNECTED:
            return None
        return found

    def list(self) -> list[QboConnection]:
        out: list[QboConnection] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": _s(keys.QBO_CONNECTION)},
        }
        while True:
            with aws_errors(self._where):
                page = self._client.scan(**kwargs)
            out.extend(QboConnection.from_item(_plain(i)) for i in page["Items"] if "realm_id" in i)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(out, key=lambda c: c.tenant)

    def _claim(self, realm_id: str, tenant: str) -> None:
        with aws_errors(self._where):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={**self._realm_key(realm_id), "tenant": _s(tenant)},
                    ConditionExpression="attribute_not_exists(pk) OR tenant = :t",
                    ExpressionAttributeValues={":t": _s(tenant)},
                )
            except ClientError as exc:
                if _code(exc) == CONDITION_FAILED:
                    raise AlreadyExists(
                        f"QuickBooks Online realm {realm_id} is connected to another tenant"
                    ) from None
                raise

    def _unclaim(self, realm_id: str, tenant: str) -> None:
        with aws_errors(self._where):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key=self._realm_key(realm_id),
                    ConditionExpression="tenant = :t",
                    ExpressionAttributeValues={":t": _s(tenant)},
                )
            except ClientError as exc:
                if _code(exc) != CONDITION_FAILED:
                    raise

    def connect(self, connection: QboConnection) -> None:
        self._claim(connection.realm_id, connection.tenant)
        before = self.get(connection.tenant)
        item = connection.to_item()
        # The metadata only: the lease (the token provider's) stays as it is.
        sets, removes, values = ["#tenant = :tenant"], [], {":tenant": _s(connection.tenant)}
        for name in (*_STRINGS, *_NUMBERS):
            value = item[name]
            if value is None:
                removes.append(f"#{name}")
            else:
                sets.append(f"#{name} = :{name}")
                values[f":{name}"] = _n(value) if name in _NUMBERS else _s(str(value))
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        with aws_errors(self._where):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(connection.tenant),
                UpdateExpression=expression,
                ExpressionAttributeNames={f"#{k}": k for k in ("tenant", *_STRINGS, *_NUMBERS)},
                ExpressionAttributeValues=values,
            )
        if before is not None and before.realm_id != connection.realm_id:
            self._unclaim(before.realm_id, connection.tenant)

    def _set(self, tenant: str, values: dict[str, Any]) -> None:
        names = {f"#{k}": k for k in values}
        with aws_errors(self._where):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(tenant),
                    UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
                    ConditionExpression="attribute_exists(realm_id)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues={f":{k}": v for k, v in values.items()},
                )
            except ClientError as exc:
                if _code(exc) == CONDITION_FAILED:
                    raise StoreError(
                        f"no QuickBooks Online connection for tenant {tenant!r}"
                    ) from None
                raise

    def record_tokens(
        self,
        tenant: str,
        access_expires_at: float,
        refresh_expires_at: float,
        refresh_hard_expires_at: float | None,
    ) -> None:
        values = {
            "access_expires_at": _n(access_expires_at),
            "refresh_expires_at": _n(refresh_expires_at),
        }
        if refresh_hard_expires_at is not None:
            values["refresh_hard_expires_at"] = _n(refresh_hard_expires_at)
        self._set(tenant, values)

    def mark(self, tenant: str, status: str, message: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown connection status {status!r}")
        self._set(tenant, {"status": _s(status), "message": _s(message)})
        if status == DISCONNECTED:
            current = self.get(tenant)
            if current is not None:
                self._unclaim(current.realm_id, tenant)

    def record_success(self, tenant: str, at: float) -> None:
        self._set(tenant, {"last_success_at": _n(at)})

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        with aws_errors(self._where):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(tenant),
                    UpdateExpression="SET lease_holder = :h, lease_until = :u",
                    ConditionExpression=(
                        "attribute_exists(realm_id) AND (attribute_not_exists(lease_until) "
                        "OR lease_until <= :now OR lease_holder = :h)"
                    ),
                    ExpressionAttributeValues={
                        ":h": _s(holder),
                        ":u": _n(now + seconds),
                        ":now": _n(now),
                    },
                )
            except ClientError as exc:
                if _code(exc) == CONDITION_FAILED:
                    return False
                raise
        return True

    def release_lease(self, tenant: str, holder: str) -> None:
        with aws_errors(self._where):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(tenant),
                    UpdateExpression="REMOVE lease_holder, lease_until",
                    ConditionExpression="lease_holder = :h",
                    ExpressionAttributeValues={":h": _s(holder)},
                )
            except ClientError as exc:
                if _code(exc) != CONDITION_FAILED:
                    raise

    def delete(self, tenant: str) -> bool:
        with aws_errors(self._where):
            old = self._client.delete_item(
                TableName=self._table, Key=self._key(tenant), ReturnValues="ALL_OLD"
            ).get("Attributes")
        if not old or "realm_id" not in old:
            return False
        self._unclaim(old["realm_id"]["S"], tenant)
        return True


class DynamoOAuthStateStore:
    """OAuthStateStore on the sessions table (TTL ``expires_at``)."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def put(self, key: str, state: OAuthState) -> None:
        with aws_errors(self._where):
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(keys.QBO_STATE + key),
                    "tenant": _s(state.tenant),
                    # The TTL attribute must be whole epoch seconds.
                    "expires_at": {"N": str(int(state.expires_at) + 1)},
                    "valid_until": _n(state.expires_at),
                    "created_at": _n(state.created_at),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )

    def consume(self, key: str, now: float) -> OAuthState | None:
        with aws_errors(self._where):
            try:
                old = self._client.delete_item(
                    TableName=self._table,
                    Key={"pk": _s(keys.QBO_STATE + key)},
                    ConditionExpression="attribute_exists(pk)",
                    ReturnValues="ALL_OLD",
                ).get("Attributes")
            except ClientError as exc:
                if _code(exc) == CONDITION_FAILED:
                    return None
                raise
        if not old:
            return None
        state = OAuthState(
            tenant=old["tenant"]["S"],
            expires_at=float(old["valid_until"]["N"]),
            created_at=float(old["created_at"]["N"]),
        )
        return state if state.expires_at > now else None


class DynamoRealmLimitStore:
    """RealmLimitStore on the state table: read, change, write if the version is unchanged."""

    def __init__(
        self, client: Any, table: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)
        self._sleep = sleep

    def _key(self, realm_id: str) -> dict[str, Any]:
        return {"pk": _s(keys.QBO_LIMIT + realm_id)}

    def _read(self, realm_id: str) -> tuple[LimiterState, int | None]:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(realm_id), ConsistentRead=True
            ).get("Item")
        if not item:
            return LimiterState(), None
        return LimiterState.from_item(json.loads(item["state"]["S"])), int(item["version"]["N"])

    def get(self, realm_id: str) -> LimiterState:
        return self._read(realm_id)[0]

    def update(self, realm_id: str, change: Callable[[LimiterState], T]) -> T:
        for _ in range(_LIMIT_ATTEMPTS):
            state, version = self._read(realm_id)
            result = change(state)
            condition = "attribute_not_exists(pk)" if version is None else "version = :v"
            values: dict[str, Any] = {":s": _s(json.dumps(state.to_item())), ":one": {"N": "1"}}
            if version is not None:
                values[":v"] = {"N": str(version)}
            with aws_errors(self._where):
                try:
                    self._client.update_item(
                        TableName=self._table,
                        Key=self._key(realm_id),
                        UpdateExpression="SET #state = :s ADD version :one",
                        ConditionExpression=condition,
                        ExpressionAttributeNames={"#state": "state"},
                        ExpressionAttributeValues=values,
                    )
                    return result
                except ClientError as exc:
                    if _code(exc) != CONDITION_FAILED:
                        raise
            # Another caller of the realm wrote first: a short random pause spreads the retries.
            self._sleep(random.uniform(0.002, 0.02))
        raise StoreError(f"{self._where}: realm {realm_id} limiter kept changing concurrently")
