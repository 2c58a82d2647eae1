"""SessionStore on DynamoDB.

``expires_at`` is the sessions table's TTL attribute; DynamoDB deletes lazily, so every read
still compares it with the clock.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .. import keys
from ..ports import ConcurrentUpdate, SessionRecord
from .common import (
    CONDITION_FAILED,
    TRANSACTION_CANCELED,
    _code,
    _n,
    _s,
    aws_errors,
    cancellation_reasons,
    dynamo_table,
)


class DynamoSessionStore:
    """SessionStore on one DynamoDB table keyed by ``pk``: sessions plus a lock item per tenant."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

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
        with aws_errors(self._where):
            try:
                self._client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self._table,
                                "Item": {
                                    "pk": _s(keys.tenant_lock(session.tenant)),
                                    "holder": _s(session.ticket),
                                    "expires_at": _n(session.lease_until),
                                },
                                "ConditionExpression": (
                                    "attribute_not_exists(pk) OR expires_at <= :now"
                                ),
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
                if _code(exc) == TRANSACTION_CANCELED:
                    return False
                raise
        return True

    def get(self, ticket: str, now: float) -> SessionRecord | None:
        if keys.is_helper(ticket):
            return None
        with aws_errors(self._where):
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
        with aws_errors(self._where):
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
                                "Key": {"pk": _s(keys.tenant_lock(session.tenant))},
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
                if _code(exc) != TRANSACTION_CANCELED:
                    raise
                reasons = cancellation_reasons(exc)
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise ConcurrentUpdate(keys.session_changed(session.ticket)) from exc
                # The lock has moved on (the session outlived its lease and another began):
                # still record this session's state, without touching the other's lock.
                try:
                    self._client.put_item(
                        TableName=self._table,
                        Item=self._session_item(session, session.version + 1),
                        ConditionExpression="version = :v",
                        ExpressionAttributeValues={":v": {"N": str(session.version)}},
                    )
                except ClientError as again:
                    if _code(again) == CONDITION_FAILED:
                        raise ConcurrentUpdate(keys.session_changed(session.ticket)) from again
                    raise
        session.version += 1

    def close(self, session: SessionRecord) -> None:
        session.closed = True
        self.save(session)
        with aws_errors(self._where):
            try:
                self._client.delete_item(
                    TableName=self._table,
                    Key={"pk": _s(keys.tenant_lock(session.tenant))},
                    ConditionExpression="holder = :t",
                    ExpressionAttributeValues={":t": _s(session.ticket)},
                )
            except ClientError as exc:
                if _code(exc) != CONDITION_FAILED:
                    raise

    def lock_until(self, tenant: str, now: float) -> float | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table, Key={"pk": _s(keys.tenant_lock(tenant))}, ConsistentRead=True
            ).get("Item")
        until = float(item["expires_at"]["N"]) if item else None
        return until if until is not None and until > now else None

    def note_client(self, address: str, qbwc_version: str, now: float, expires_at: float) -> None:
        # One item per address, overwritten; the table's TTL deletes it after ``expires_at``.
        with aws_errors(self._where):
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": _s(keys.client_note(address)),
                    "qbwc_version": _s(qbwc_version),
                    "expires_at": _n(expires_at),
                },
            )

    def client_note(self, address: str, now: float) -> str | None:
        with aws_errors(self._where):
            # Consistent: authenticate follows clientVersion by milliseconds.
            item = self._client.get_item(
                TableName=self._table,
                Key={"pk": _s(keys.client_note(address))},
                ConsistentRead=True,
            ).get("Item")
        # The TTL deletes lazily (up to days late): the clock decides.
        if not item or float(item["expires_at"]["N"]) <= now:
            return None
        return str(item["qbwc_version"]["S"])

    def end_sessions(self, tenant: str, now: float) -> int:
        """Close the tenant's live sessions and delete its lock item.

        The table has no index by tenant, so this scans it: rare (a password change, a removal)
        and the table is small (sessions and helper items, all with a TTL).
        """
        tickets: list[str] = []
        scan: dict[str, Any] = {
            "TableName": self._table,
            "ConsistentRead": True,
            "ProjectionExpression": "pk",
            "FilterExpression": "tenant = :t AND closed = :open AND expires_at > :now",
            "ExpressionAttributeValues": {
                ":t": _s(tenant),
                ":open": {"BOOL": False},
                ":now": _n(now),
            },
        }
        with aws_errors(self._where):
            while True:
                page = self._client.scan(**scan)
                tickets += [item["pk"]["S"] for item in page.get("Items", [])]
                if "LastEvaluatedKey" not in page:
                    break
                scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        closed = 0
        for ticket in tickets:
            with aws_errors(self._where):
                try:
                    # The version bump makes a save from a request in flight fail as well.
                    self._client.update_item(
                        TableName=self._table,
                        Key={"pk": _s(ticket)},
                        UpdateExpression="SET closed = :closed ADD version :one",
                        ConditionExpression="attribute_exists(pk) AND closed = :open",
                        ExpressionAttributeValues={
                            ":closed": {"BOOL": True},
                            ":open": {"BOOL": False},
                            ":one": {"N": "1"},
                        },
                    )
                    closed += 1
                except ClientError as exc:
                    # A failed condition: it closed meanwhile, nothing left to end.
                    if _code(exc) != CONDITION_FAILED:
                        raise
        with aws_errors(self._where):
            self._client.delete_item(
                TableName=self._table, Key={"pk": _s(keys.tenant_lock(tenant))}
            )
        return closed
