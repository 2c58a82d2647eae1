"""TokenCache on DynamoDB."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from .. import keys
from ..ports import ZohoToken
from .common import CONDITION_FAILED, _code, _n, _s, aws_errors, dynamo_table


class DynamoTokenCache:
    """TokenCache on the state table: item ``@zoho-token#<tenant>``, guarded by conditions.

    The lease is ``lease_holder``/``lease_until`` on the same item; a holder takes it only
    when it is free or expired, so concurrent Lambdas refresh at most once per expiry.
    """

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table
        self._where = dynamo_table(table)

    def _key(self, tenant: str) -> dict[str, Any]:
        return {"pk": _s(keys.ZOHO_TOKEN + tenant)}

    def load(self, tenant: str) -> ZohoToken | None:
        with aws_errors(self._where):
            item = self._client.get_item(
                TableName=self._table, Key=self._key(tenant), ConsistentRead=True
            ).get("Item")
        if not item or "access_token" not in item:
            return None
        return ZohoToken(
            access_token=item["access_token"]["S"],
            api_domain=item["api_domain"]["S"],
            expires_at=float(item["expires_at"]["N"]),
            blocked_until=float(item.get("blocked_until", {}).get("N", 0)),
        )

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        with aws_errors(self._where):
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(tenant),
                    UpdateExpression="SET lease_holder = :h, lease_until = :u",
                    ConditionExpression=(
                        "attribute_not_exists(lease_until) OR lease_until <= :now "
                        "OR lease_holder = :h"
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

    def save(self, tenant: str, holder: str, token: ZohoToken) -> None:
        values = {
            ":t": _s(token.access_token),
            ":d": _s(token.api_domain),
            ":e": _n(token.expires_at),
            ":b": _n(token.blocked_until),
        }
        setter = "SET access_token = :t, api_domain = :d, expires_at = :e, blocked_until = :b"
        with aws_errors(self._where):
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
                if _code(exc) != CONDITION_FAILED:
                    raise
            # The lease expired and moved on: still keep the token, leaving the other's lease.
            self._client.update_item(
                TableName=self._table,
                Key=self._key(tenant),
                UpdateExpression=setter,
                ExpressionAttributeValues=values,
            )

    def release(self, tenant: str, holder: str) -> None:
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

    def delete_tenant(self, tenant: str) -> None:
        with aws_errors(self._where):
            self._client.delete_item(TableName=self._table, Key=self._key(tenant))
