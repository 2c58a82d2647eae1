"""AWS adapters: DynamoDB for tenants and sessions, SQS for the record queue.

Items keep their payload as one JSON string attribute beside the key attributes, so the SQLite
twin stores exactly the same shape. ``expires_at`` is the sessions table's TTL attribute; DynamoDB
deletes lazily, so every read still compares it with the clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from qwc import new_guid

from .ports import (
    MAPPING_STATUSES,
    AlreadyExists,
    ConcurrentUpdate,
    DeadLetter,
    EntitySyncState,
    Mapping,
    Pause,
    QueueMessage,
    ReceivedMessage,
    RunRecord,
    SessionRecord,
    StoreError,
    Tenant,
    ZohoToken,
    check_mapping_statuses,
)

# Key prefixes of the helper items that share a table with the main items.
_USER_CLAIM = "@user#"
_FILE_CLAIM = "@file#"
_TENANT_LOCK = "@lock#"
# The deployment's settings item in the tenants table (the QBWC OwnerID).
_DEPLOYMENT = "@deployment"

SQS_BATCH = 10
SQS_MAX_BYTES = 256 * 1024


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: float) -> dict[str, str]:
    return {"N": repr(float(value))}


class DynamoTenantStore:
    """TenantStore on one DynamoDB table keyed by ``pk``: tenants plus a claim item per user."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

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
                "Item": {"pk": _s(_FILE_CLAIM + file_id.upper()), "tenant": _s(tenant)},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

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
                        "pk": _s(_USER_CLAIM + tenant.qbwc_user),
                        "tenant": _s(tenant.name),
                    },
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
        ]
        if tenant.file_id:
            items.append(self._file_claim(tenant.file_id, tenant.name))
        try:
            self._client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                raise AlreadyExists(
                    f"a tenant named {tenant.name!r} or with Web Connector user "
                    f"{tenant.qbwc_user!r} already exists"
                ) from exc
            raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc

    def get(self, name: str) -> Tenant | None:
        if name.startswith("@"):
            return None
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(name)}, ConsistentRead=True
        ).get("Item")
        return Tenant.from_item(json.loads(item["item"]["S"])) if item else None

    def find_by_user(self, qbwc_user: str) -> Tenant | None:
        claim = self._client.get_item(
            TableName=self._table, Key={"pk": _s(_USER_CLAIM + qbwc_user)}, ConsistentRead=True
        ).get("Item")
        return self.get(claim["tenant"]["S"]) if claim else None

    def list(self) -> list[Tenant]:
        tenants: list[Tenant] = []
        kwargs: dict[str, Any] = {"TableName": self._table, "ConsistentRead": True}
        while True:
            page = self._client.scan(**kwargs)
            tenants.extend(
                Tenant.from_item(json.loads(i["item"]["S"])) for i in page["Items"] if "item" in i
            )
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
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=self._item(tenant),
                    ConditionExpression=f"attribute_exists(pk) AND qbwc_user = :u AND {keep}",
                    ExpressionAttributeValues={":u": _s(tenant.qbwc_user), **values},
                )
                return
            except ClientError as exc:
                if _code(exc) != "ConditionalCheckFailedException":
                    raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc
            stored = self.get(tenant.name)
            if stored is None or stored.qbwc_user != tenant.qbwc_user:
                raise StoreError(f"no tenant {tenant.name!r} to update")
            tenant.file_id = stored.file_id
        raise ConcurrentUpdate(f"tenant {tenant.name!r} changed concurrently")

    def delete(self, name: str) -> bool:
        tenant = self.get(name)
        if tenant is None:
            return False
        items: list[dict[str, Any]] = [
            {"Delete": {"TableName": self._table, "Key": {"pk": _s(name)}}},
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": {"pk": _s(_USER_CLAIM + tenant.qbwc_user)},
                }
            },
        ]
        if tenant.file_id:
            key = {"pk": _s(_FILE_CLAIM + tenant.file_id.upper())}
            items.append({"Delete": {"TableName": self._table, "Key": key}})
        self._client.transact_write_items(TransactItems=items)
        return True

    def find_by_file_id(self, file_id: str) -> Tenant | None:
        if not file_id:
            return None
        claim = self._client.get_item(
            TableName=self._table,
            Key={"pk": _s(_FILE_CLAIM + file_id.upper())},
            ConsistentRead=True,
        ).get("Item")
        tenant = self.get(claim["tenant"]["S"]) if claim else None
        return tenant if tenant and tenant.file_id.upper() == file_id.upper() else None

    def ensure_file_id(self, name: str) -> str:
        for _ in range(3):
            item = (
                None
                if name.startswith("@")
                else self._client.get_item(
                    TableName=self._table, Key={"pk": _s(name)}, ConsistentRead=True
                ).get("Item")
            )
            if item is None:
                raise StoreError(f"no tenant {name!r}")
            tenant = Tenant.from_item(json.loads(item["item"]["S"]))
            if tenant.file_id:
                return tenant.file_id
            tenant.file_id = new_guid()
            put = {
                "Put": {
                    "TableName": self._table,
                    "Item": self._item(tenant),
                    # Only over the very item read above: nobody set a file_id in between.
                    "ConditionExpression": "#item = :old AND attribute_not_exists(file_id)",
                    "ExpressionAttributeNames": {"#item": "item"},
                    "ExpressionAttributeValues": {":old": item["item"]},
                }
            }
            try:
                self._client.transact_write_items(
                    TransactItems=[put, self._file_claim(tenant.file_id, name)]
                )
                return tenant.file_id
            except ClientError as exc:
                if _code(exc) != "TransactionCanceledException":
                    raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc
        raise ConcurrentUpdate(f"tenant {name!r} changed concurrently")

    def deployment_owner_id(self) -> str:
        key = {"pk": _s(_DEPLOYMENT)}
        item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get(
            "Item"
        )
        if item:
            return item["owner_id"]["S"]
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**key, "owner_id": _s(new_guid())},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc
        # Read back: when another writer won the race, its value is the one.
        item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)["Item"]
        return item["owner_id"]["S"]


class DynamoSessionStore:
    """SessionStore on one DynamoDB table keyed by ``pk``: sessions plus a lock item per tenant."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _session_item(self, session: SessionRecord, version: int) -> dict[str, Any]:
        return {
            "pk": _s(session.ticket),
            "tenant": _s(session.tenant),
            "expires_at": _n(session.expires_at),
            "version": {"N": str(version)},
            "closed": {"BOOL": session.closed},
            "state": _s(json.dumps(session.state)),
        }

    def create(self, session: SessionRecord, now: float) -> bool:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": _s(_TENANT_LOCK + session.tenant),
                                "holder": _s(session.ticket),
                                "expires_at": _n(session.lease_until),
                            },
                            "ConditionExpression": "attribute_not_exists(pk) OR expires_at <= :now",
                            "ExpressionAttributeValues": {":now": _n(now)},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._session_item(session, session.version),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _code(exc) == "TransactionCanceledException":
                return False
            raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc
        return True

    def get(self, ticket: str, now: float) -> SessionRecord | None:
        if ticket.startswith("@"):
            return None
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(ticket)}, ConsistentRead=True
        ).get("Item")
        if not item or float(item["expires_at"]["N"]) <= now:
            return None
        return SessionRecord(
            ticket=ticket,
            tenant=item["tenant"]["S"],
            expires_at=float(item["expires_at"]["N"]),
            version=int(item["version"]["N"]),
            closed=item["closed"]["BOOL"],
            state=json.loads(item["state"]["S"]),
        )

    def save(self, session: SessionRecord) -> None:
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": self._session_item(session, session.version + 1),
                            "ConditionExpression": "version = :v",
                            "ExpressionAttributeValues": {":v": {"N": str(session.version)}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": _s(_TENANT_LOCK + session.tenant)},
                            "UpdateExpression": "SET expires_at = :e",
                            "ConditionExpression": "holder = :t",
                            "ExpressionAttributeValues": {
                                ":e": _n(session.lease_until),
                                ":t": _s(session.ticket),
                            },
                        }
                    },
                ]
            )
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise ConcurrentUpdate(
                    f"session {session.ticket[:8]}… changed concurrently"
                ) from exc
            # The lock has moved on (the session outlived its lease and another began):
            # still record this session's state, without touching the other's lock.
            self._client.put_item(
                TableName=self._table,
                Item=self._session_item(session, session.version + 1),
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": {"N": str(session.version)}},
            )
        session.version += 1

    def close(self, session: SessionRecord) -> None:
        session.closed = True
        self.save(session)
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": _s(_TENANT_LOCK + session.tenant)},
                ConditionExpression="holder = :t",
                ExpressionAttributeValues={":t": _s(session.ticket)},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise


class SqsRecordQueue:
    """RecordQueue on SQS: batches of 10, each message at most 256 KB."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, messages: Sequence[QueueMessage]) -> None:
        for m in messages:
            if len(m.body.encode("utf-8")) > SQS_MAX_BYTES:
                raise StoreError(f"record {m.dedup_id} is larger than SQS's 256 KB message limit")
        for start in range(0, len(messages), SQS_BATCH):
            chunk = messages[start : start + SQS_BATCH]
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": m.body,
                    "MessageAttributes": {
                        "tenant": {"DataType": "String", "StringValue": m.tenant},
                        "dedup_id": {"DataType": "String", "StringValue": m.dedup_id},
                    },
                }
                for i, m in enumerate(chunk)
            ]
            try:
                result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"could not send to the record queue: {exc}") from exc
            if result.get("Failed"):
                first = result["Failed"][0]
                raise StoreError(
                    f"the record queue refused {len(result['Failed'])} message(s): "
                    f"{first.get('Code')} {first.get('Message', '')}".strip()
                )

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]:
        result = self._client.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=min(max_messages, SQS_BATCH),
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        out = []
        for m in result.get("Messages", []):
            attrs = m.get("MessageAttributes", {})
            out.append(
                ReceivedMessage(
                    QueueMessage(
                        tenant=attrs.get("tenant", {}).get("StringValue", ""),
                        dedup_id=attrs.get("dedup_id", {}).get("StringValue", ""),
                        body=m["Body"],
                    ),
                    receipt=m["ReceiptHandle"],
                )
            )
        return out

    def delete(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), SQS_BATCH):
            chunk = receipts[start : start + SQS_BATCH]
            self._client.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
            )


BATCH_GET = 100
BATCH_WRITE = 25
# Unprocessed keys come back under throttling; retry a bounded number of times with backoff.
BATCH_ATTEMPTS = 8


def _backoff(attempt: int) -> float:
    return min(0.05 * 2**attempt, 2.0)


class DynamoMappingStore:
    """MappingStore on the mappings table.

    ``pk`` is tenant#source#entity#source_id; ``zoho_key`` (tenant#zoho_module#zoho_id, absent
    until the record is in ZOHO) feeds GSI ``by_zoho``; ``tenant_status`` (tenant#status) feeds
    GSI ``by_status``, whose sort key is ``pk``. The mapping itself is the JSON ``item``.
    """

    def __init__(
        self, client: Any, table: str, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._client = client
        self._table = table
        self._sleep = sleep

    def _item(self, m: Mapping) -> dict[str, Any]:
        item = {
            "pk": _s(m.key),
            "tenant_status": _s(f"{m.tenant}#{m.status}"),
            "item": _s(json.dumps(m.to_item())),
        }
        if m.zoho_id:
            item["zoho_key"] = _s(f"{m.tenant}#{m.zoho_module}#{m.zoho_id}")
        return item

    def _error(self, exc: ClientError | BotoCoreError) -> StoreError:
        what = _code(exc) if isinstance(exc, ClientError) else str(exc)
        return StoreError(f"DynamoDB table {self._table}: {what}")

    def get(self, tenant: str, source: str, entity: str, source_id: str) -> Mapping | None:
        try:
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(f"{tenant}#{source}#{entity}#{source_id}")},
                ConsistentRead=True,
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from exc
        return Mapping.from_item(json.loads(item["item"]["S"])) if item else None

    def get_many(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> dict[str, Mapping]:
        keys = list(dict.fromkeys(f"{tenant}#{source}#{entity}#{i}" for i in source_ids))
        found: dict[str, Mapping] = {}
        for start in range(0, len(keys), BATCH_GET):
            pending: dict[str, Any] = {
                self._table: {
                    "Keys": [{"pk": _s(k)} for k in keys[start : start + BATCH_GET]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(BATCH_ATTEMPTS):
                try:
                    page = self._client.batch_get_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as exc:
                    raise self._error(exc) from exc
                for item in page.get("Responses", {}).get(self._table, []):
                    m = Mapping.from_item(json.loads(item["item"]["S"]))
                    found[m.source_id] = m
                pending = page.get("UnprocessedKeys") or {}
                if not pending:
                    break
                self._sleep(_backoff(attempt))
            else:
                raise StoreError(
                    f"DynamoDB table {self._table}: reads still throttled after "
                    f"{BATCH_ATTEMPTS} attempts"
                )
        return found

    def put(self, mapping: Mapping) -> None:
        check_mapping_statuses([mapping])
        try:
            self._client.put_item(TableName=self._table, Item=self._item(mapping))
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from exc

    def put_many(self, mappings: Sequence[Mapping]) -> None:
        check_mapping_statuses(mappings)
        # A batch may not name one key twice; the last mapping of a key wins, as with put().
        latest = list({m.key: m for m in mappings}.values())
        for start in range(0, len(latest), BATCH_WRITE):
            pending: dict[str, Any] = {
                self._table: [
                    {"PutRequest": {"Item": self._item(m)}}
                    for m in latest[start : start + BATCH_WRITE]
                ]
            }
            for attempt in range(BATCH_ATTEMPTS):
                try:
                    result = self._client.batch_write_item(RequestItems=pending)
                except (ClientError, BotoCoreError) as exc:
                    raise self._error(exc) from exc
                pending = result.get("UnprocessedItems") or {}
                if not pending:
                    break
                self._sleep(_backoff(attempt))
            else:
                raise StoreError(
                    f"DynamoDB table {self._table}: writes still throttled after "
                    f"{BATCH_ATTEMPTS} attempts"
                )

    def find_by_zoho_id(self, tenant: str, zoho_module: str, zoho_id: str) -> Mapping | None:
        try:
            page = self._client.query(
                TableName=self._table,
                IndexName="by_zoho",
                KeyConditionExpression="zoho_key = :z",
                ExpressionAttributeValues={":z": _s(f"{tenant}#{zoho_module}#{zoho_id}")},
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(exc) from exc
        items = sorted(page.get("Items", []), key=lambda i: i["pk"]["S"])
        return Mapping.from_item(json.loads(items[0]["item"]["S"])) if items else None

    def _by_status(self, tenant: str, status: str, limit: int) -> list[Mapping]:
        out: list[Mapping] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "by_status",
            "KeyConditionExpression": "tenant_status = :s",
            "ExpressionAttributeValues": {":s": _s(f"{tenant}#{status}")},
        }
        while len(out) < limit:
            kwargs["Limit"] = limit - len(out)
            try:
                page = self._client.query(**kwargs)
            except (ClientError, BotoCoreError) as exc:
                raise self._error(exc) from exc
            out.extend(Mapping.from_item(json.loads(i["item"]["S"])) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return out

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Mapping]:
        if limit <= 0:
            return []
        statuses = (status,) if status is not None else MAPPING_STATUSES
        # Each status's list is in key order; merge them and keep the first ``limit``.
        merged = [m for s in statuses for m in self._by_status(tenant, s, limit)]
        return sorted(merged, key=lambda m: m.key)[:limit]


_SYNC_STATE = "@sync#"
_ENTITY_ATTR = "e_"


class DynamoSyncStateStore:
    """SyncStateStore in the state table: one item per tenant, one attribute per entity.

    Each entity's state is its own top-level attribute, so writing one entity never rewrites
    (or races with) another's.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def get_all(self, tenant: str) -> dict[str, EntitySyncState]:
        try:
            item = self._client.get_item(
                TableName=self._table, Key={"pk": _s(_SYNC_STATE + tenant)}, ConsistentRead=True
            ).get("Item", {})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB table {self._table}: {exc}") from exc
        return {
            name.removeprefix(_ENTITY_ATTR): EntitySyncState.from_item(json.loads(value["S"]))
            for name, value in item.items()
            if name.startswith(_ENTITY_ATTR)
        }

    def put(self, state: EntitySyncState) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": _s(_SYNC_STATE + state.tenant)},
                UpdateExpression="SET #e = :v",
                ExpressionAttributeNames={"#e": _ENTITY_ATTR + state.entity},
                ExpressionAttributeValues={":v": _s(json.dumps(state.to_item()))},
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB table {self._table}: {exc}") from exc

    def delete_tenant(self, tenant: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key={"pk": _s(_SYNC_STATE + tenant)})
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB table {self._table}: {exc}") from exc


class DynamoRunHistory:
    """RunHistory in the runs table: key ``pk`` = tenant, sort key ``sk`` = start#ticket."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def add(self, run: RunRecord) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(run.tenant),
                    # Zero-padded start time first, so the sort key orders runs by time.
                    "sk": _s(f"{run.started_at:017.3f}#{run.ticket}"),
                    "item": _s(json.dumps(run.to_item())),
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB table {self._table}: {exc}") from exc

    def recent(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        try:
            result = self._client.query(
                TableName=self._table,
                KeyConditionExpression="pk = :t",
                ExpressionAttributeValues={":t": _s(tenant)},
                ScanIndexForward=False,
                Limit=limit,
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB table {self._table}: {exc}") from exc
        return [RunRecord.from_item(json.loads(i["item"]["S"])) for i in result.get("Items", [])]


# Items of the ZOHO forwarder in the state table.
_ZOHO_TOKEN = "@zoho-token#"
_ZOHO_PAUSE = "@zoho-pause#"
_ZOHO_MAPPING = "@zoho-mapping#"


class DynamoTokenCache:
    """TokenCache on the state table: item ``@zoho-token#<tenant>``, guarded by conditions.

    The lease is ``lease_holder``/``lease_until`` on the same item; a holder takes it only
    when it is free or expired, so concurrent Lambdas refresh at most once per expiry.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def _key(self, tenant: str) -> dict[str, Any]:
        return {"pk": _s(_ZOHO_TOKEN + tenant)}

    def load(self, tenant: str) -> ZohoToken | None:
        try:
            item = self._client.get_item(
                TableName=self._table, Key=self._key(tenant), ConsistentRead=True
            ).get("Item")
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"DynamoDB table {self._table}: could not read a token") from exc
        if not item or "access_token" not in item:
            return None
        return ZohoToken(
            access_token=item["access_token"]["S"],
            api_domain=item["api_domain"]["S"],
            expires_at=float(item["expires_at"]["N"]),
            blocked_until=float(item.get("blocked_until", {}).get("N", 0)),
        )

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant),
                UpdateExpression="SET lease_holder = :h, lease_until = :u",
                ConditionExpression=(
                    "attribute_not_exists(lease_until) OR lease_until <= :now OR lease_holder = :h"
                ),
                ExpressionAttributeValues={
                    ":h": _s(holder),
                    ":u": _n(now + seconds),
                    ":now": _n(now),
                },
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc
        return True

    def save(self, tenant: str, holder: str, token: ZohoToken) -> None:
        values = {
            ":t": _s(token.access_token),
            ":d": _s(token.api_domain),
            ":e": _n(token.expires_at),
            ":b": _n(token.blocked_until),
        }
        setter = "SET access_token = :t, api_domain = :d, expires_at = :e, blocked_until = :b"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant),
                UpdateExpression=setter + " REMOVE lease_holder, lease_until",
                ConditionExpression="lease_holder = :h",
                ExpressionAttributeValues={**values, ":h": _s(holder)},
            )
            return
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc
        # The lease expired and moved on: still keep the token, leaving the other's lease alone.
        self._client.update_item(
            TableName=self._table,
            Key=self._key(tenant),
            UpdateExpression=setter,
            ExpressionAttributeValues=values,
        )

    def release(self, tenant: str, holder: str) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant),
                UpdateExpression="REMOVE lease_holder, lease_until",
                ConditionExpression="lease_holder = :h",
                ExpressionAttributeValues={":h": _s(holder)},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc


class DynamoForwarderState:
    """ForwarderState on the state table: items ``@zoho-pause#<t>`` and ``@zoho-mapping#<t>``."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    def pause(self, tenant: str, until: float, reason: str) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={"pk": _s(_ZOHO_PAUSE + tenant), "until": _n(until), "reason": _s(reason)},
                ConditionExpression="attribute_not_exists(pk) OR #u < :u",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":u": _n(until)},
            )
        except ClientError as exc:
            if _code(exc) != "ConditionalCheckFailedException":
                raise StoreError(f"DynamoDB table {self._table}: {_code(exc)}") from exc

    def paused(self, tenant: str, now: float) -> Pause | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(_ZOHO_PAUSE + tenant)}, ConsistentRead=True
        ).get("Item")
        if not item or float(item["until"]["N"]) <= now:
            return None
        return Pause(float(item["until"]["N"]), item["reason"]["S"])

    def resume(self, tenant: str) -> None:
        self._client.delete_item(TableName=self._table, Key={"pk": _s(_ZOHO_PAUSE + tenant)})

    def get_mapping(self, tenant: str) -> dict[str, Any] | None:
        item = self._client.get_item(
            TableName=self._table, Key={"pk": _s(_ZOHO_MAPPING + tenant)}, ConsistentRead=True
        ).get("Item")
        return json.loads(item["mapping"]["S"]) if item else None

    def put_mapping(self, tenant: str, mapping: dict[str, Any] | None) -> None:
        key = {"pk": _s(_ZOHO_MAPPING + tenant)}
        if mapping is None:
            self._client.delete_item(TableName=self._table, Key=key)
        else:
            item = {**key, "mapping": _s(json.dumps(mapping))}
            self._client.put_item(TableName=self._table, Item=item)


class SqsDeadLetterQueue:
    """DeadLetterQueue on the SQS dead-letter queue; the reason travels as a message attribute."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def send(self, letters: Sequence[DeadLetter]) -> None:
        for start in range(0, len(letters), SQS_BATCH):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": x.body,
                    "MessageAttributes": {
                        "tenant": {"DataType": "String", "StringValue": x.tenant},
                        # SQS caps a message at 256 KB in all; a reason is a line, keep it so.
                        "reason": {"DataType": "String", "StringValue": x.reason[:4000] or "-"},
                    },
                }
                for i, x in enumerate(letters[start : start + SQS_BATCH])
            ]
            try:
                result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"could not send to the dead-letter queue: {exc}") from exc
            if result.get("Failed"):
                first = result["Failed"][0]
                raise StoreError(
                    f"the dead-letter queue refused {len(result['Failed'])} message(s): "
                    f"{first.get('Code')} {first.get('Message', '')}".strip()
                )


class SecretsManagerSecretStore:
    """SecretStore on AWS Secrets Manager: secret ``<prefix><name>`` holds the JSON value."""

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _fail(self, name: str, exc: ClientError | BotoCoreError) -> StoreError:
        # Never include the exception text: some SDK errors echo request parameters.
        what = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
        return StoreError(f"Secrets Manager secret {self._prefix}{name}: {what}")

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            value = self._client.get_secret_value(SecretId=self._prefix + name)
        except ClientError as exc:
            # A secret scheduled for deletion answers InvalidRequestException: it is gone.
            if _code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                return None
            raise self._fail(name, exc) from exc
        except BotoCoreError as exc:
            raise self._fail(name, exc) from exc
        try:
            data = json.loads(value["SecretString"])
        except (KeyError, ValueError) as exc:
            raise StoreError(f"secret {self._prefix}{name} does not hold a JSON object") from exc
        if not isinstance(data, dict):
            raise StoreError(f"secret {self._prefix}{name} does not hold a JSON object")
        return data

    def put(self, name: str, value: dict[str, Any]) -> None:
        secret_id = self._prefix + name
        text = json.dumps(value, sort_keys=True)
        try:
            try:
                described = self._client.describe_secret(SecretId=secret_id)
            except ClientError as exc:
                if _code(exc) != "ResourceNotFoundException":
                    raise
                self._client.create_secret(Name=secret_id, SecretString=text)
                return
            if described.get("DeletedDate"):
                # Scheduled for deletion: bring it back before storing the new value.
                self._client.restore_secret(SecretId=secret_id)
            self._client.put_secret_value(SecretId=secret_id, SecretString=text)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(name, exc) from exc

    def delete(self, name: str) -> bool:
        try:
            self._client.delete_secret(SecretId=self._prefix + name, RecoveryWindowInDays=7)
        except ClientError as exc:
            if _code(exc) in ("ResourceNotFoundException", "InvalidRequestException"):
                return False
            raise self._fail(name, exc) from exc
        return True
