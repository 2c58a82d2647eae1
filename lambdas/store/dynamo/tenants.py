"""TenantStore on DynamoDB."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from qwc import new_guid

from .. import keys
from ..ports import AlreadyExists, ConcurrentUpdate, StoreError, Tenant
from .common import (
    CONDITION_FAILED,
    TRANSACTION_CANCELED,
    _code,
    _n,
    _s,
    aws_errors,
    dynamo_table,
)


def _tenant(item: dict[str, Any]) -> Tenant:
    """A tenant from its item: the settings JSON, and the relay's own attributes beside it."""
    tenant = Tenant.from_item(json.loads(item["item"]["S"]))
    if "last_summary" in item:
        tenant.last_summary = item["last_summary"]["S"]
    if "last_sync_at" in item:
        tenant.last_sync_at = float(item["last_sync_at"]["N"])
    if "qbwc_version" in item:
        tenant.qbwc_version = item["qbwc_version"]["S"]
        tenant.qbwc_seen_at = float(item["qbwc_seen_at"]["N"])
    if "last_seen_at" in item:
        tenant.last_seen_at = float(item["last_seen_at"]["N"])
    return tenant


class DynamoTenantStore:
    """TenantStore on one DynamoDB table keyed by ``pk``: tenants plus a claim item per user."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def _item(self, tenant: Tenant) -> dict[str, Any]:
        item = {
            "pk": _s(tenant.name),
            "qbwc_user": _s(tenant.qbwc_user),
            "item": _s(json.dumps(tenant.to_item())),
        }
        if tenant.file_id:
            # Beside the JSON too, so writes can be conditional on it.
            item["file_id"] = _s(tenant.file_id)
        return item

    def _file_claim(self, file_id: str, tenant: str) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {"pk": _s(keys.file_claim(file_id)), "tenant": _s(tenant)},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _get_item(self, pk: str) -> dict[str, Any] | None:
        with aws_errors(self._where):
            item: dict[str, Any] | None = self._client.get_item(
                TableName=self._table, Key={"pk": _s(pk)}, ConsistentRead=True
            ).get("Item")
        return item

    def create(self, tenant: Tenant) -> None:
        items: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": self._item(tenant),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": _s(keys.user_claim(tenant.qbwc_user)),
                        "tenant": _s(tenant.name),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if tenant.file_id:
            items.append(self._file_claim(tenant.file_id, tenant.name))
        with aws_errors(self._where):
            try:
                self._client.transact_write_items(TransactItems=items)
            except ClientError as exc:
                if _code(exc) == TRANSACTION_CANCELED:
                    raise AlreadyExists(keys.tenant_exists(tenant.name, tenant.qbwc_user)) from exc
                raise

    def get(self, name: str) -> Tenant | None:
        if keys.is_helper(name):
            return None
        item = self._get_item(name)
        return _tenant(item) if item else None

    def find_by_user(self, qbwc_user: str) -> Tenant | None:
        claim = self._get_item(keys.user_claim(qbwc_user))
        return self.get(claim["tenant"]["S"]) if claim else None

    def list(self) -> list[Tenant]:
        tenants: list[Tenant] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        while True:
            with aws_errors(self._where):
                page = self._client.scan(**kwargs)
            tenants.extend(_tenant(i) for i in page["Items"] if "item" in i)
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(tenants, key=lambda t: t.name)

    def update(self, tenant: Tenant) -> None:
        # The write is conditional on the stored file_id, so a stale copy never drops or changes
        # it; on a mismatch, take the stored one and write again.
        for _ in range(3):
            if tenant.file_id:
                keep, values = "file_id = :f", {":f": _s(tenant.file_id)}
            else:
                keep, values = "attribute_not_exists(file_id)", {}
            with aws_errors(self._where):
                try:
                    # The settings only: the relay's own attributes (last session) stay.
                    self._client.update_item(
                        TableName=self._table,
                        Key={"pk": _s(tenant.name)},
                        UpdateExpression="SET #item = :item",
                        ConditionExpression=f"attribute_exists(pk) AND qbwc_user = :u AND {keep}",
                        ExpressionAttributeNames={"#item": "item"},
                        ExpressionAttributeValues={
                            ":u": _s(tenant.qbwc_user),
                            ":item": self._item(tenant)["item"],
                            **values,
                        },
                    )
                    return
                except ClientError as exc:
                    if _code(exc) != CONDITION_FAILED:
                        raise
            stored = self.get(tenant.name)
            if stored is None or stored.qbwc_user != tenant.qbwc_user:
                raise StoreError(keys.no_tenant_to_update(tenant.name))
            tenant.file_id = stored.file_id
        raise ConcurrentUpdate(keys.tenant_changed(tenant.name))

    def record_session(self, name: str, summary: str, synced_at: float | None) -> None:
        sets, values = ["last_summary = :s"], {":s": _s(summary)}
        if synced_at is not None:
            sets.append("last_sync_at = :t")
            values[":t"] = _n(synced_at)
        self._set_relay_attributes(name, sets, values)

    def record_client(self, name: str, qbwc_version: str, at: float) -> None:
        sets = ["qbwc_version = :v", "qbwc_seen_at = :t"]
        self._set_relay_attributes(name, sets, {":v": _s(qbwc_version), ":t": _n(at)})

    def record_seen(self, name: str, at: float) -> None:
        self._set_relay_attributes(name, ["last_seen_at = :t"], {":t": _n(at)})

    def _set_relay_attributes(self, name: str, sets: list[str], values: dict[str, Any]) -> None:
        """SET the relay's own top-level attributes of an existing tenant (never the settings)."""
        with aws_errors(self._where):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={"pk": _s(name)},
                    UpdateExpression="SET " + ", ".join(sets),
                    ConditionExpression="attribute_exists(#item)",
                    ExpressionAttributeNames={"#item": "item"},
                    ExpressionAttributeValues=values,
                )
            except ClientError as exc:
                if _code(exc) != CONDITION_FAILED:
                    raise
                raise StoreError(keys.no_tenant_to_update(name)) from None

    def delete(self, name: str) -> bool:
        tenant = self.get(name)
        if tenant is None:
            return False
        items: list[dict[str, Any]] = [
            {"Delete": {"TableName": self._table, "Key": {"pk": _s(name)}}},
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"pk": _s(keys.user_claim(tenant.qbwc_user))},
                }
            },
        ]
        if tenant.file_id:
            key = {"pk": _s(keys.file_claim(tenant.file_id))}
            items.append({"Delete": {"TableName": self._table, "Key": key}})
        with aws_errors(self._where):
            self._client.transact_write_items(TransactItems=items)
        return True

    def find_by_file_id(self, file_id: str) -> Tenant | None:
        if not file_id:
            return None
        claim = self._get_item(keys.file_claim(file_id))
        tenant = self.get(claim["tenant"]["S"]) if claim else None
        return tenant if tenant and tenant.file_id.upper() == file_id.upper() else None

    def ensure_file_id(self, name: str) -> str:
        for _ in range(3):
            item = None if keys.is_helper(name) else self._get_item(name)
            if item is None:
                raise StoreError(keys.no_tenant(name))
            tenant = Tenant.from_item(json.loads(item["item"]["S"]))
            if tenant.file_id:
                return tenant.file_id
            tenant.file_id = new_guid()
            new = self._item(tenant)
            put = {
                # An update, not a put: the relay's own attributes (last session, Web Connector
                # version) stay.
                "Update": {
                    "TableName": self._table,
                    "Key": {"pk": _s(name)},
                    "UpdateExpression": "SET #item = :new, file_id = :f",
                    # Only over the very item read above: nobody set a file_id in between.
                    "ConditionExpression": "#item = :old AND attribute_not_exists(file_id)",
                    "ExpressionAttributeNames": {"#item": "item"},
                    "ExpressionAttributeValues": {
                        ":old": item["item"],
                        ":new": new["item"],
                        ":f": new["file_id"],
                    },
                }
            }
            with aws_errors(self._where):
                try:
                    self._client.transact_write_items(
                        TransactItems=[put, self._file_claim(tenant.file_id, name)]
                    )
                    return tenant.file_id
                except ClientError as exc:
                    if _code(exc) != TRANSACTION_CANCELED:
                        raise
        raise ConcurrentUpdate(keys.tenant_changed(name))

    def deployment_owner_id(self) -> str:
        item = self._get_item(keys.DEPLOYMENT)
        if item:
            return str(item["owner_id"]["S"])
        with aws_errors(self._where):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={"pk": _s(keys.DEPLOYMENT), "owner_id": _s(new_guid())},
                    ConditionExpression="attribute_not_exists(pk)",
                )
            except ClientError as exc:
                if _code(exc) != CONDITION_FAILED:
                    raise
        # Read back: when another writer won the race, its value is the one.
        item = self._get_item(keys.DEPLOYMENT)
        if item is None:
            raise StoreError(f"{self._where}: the deployment item vanished")
        return str(item["owner_id"]["S"])
