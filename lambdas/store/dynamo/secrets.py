"""SecretStore on AWS Secrets Manager."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .. import keys
from ..ports import StoreError
from .common import _code, aws_errors

# A secret scheduled for deletion answers InvalidRequestException: it is gone.
_GONE = ("ResourceNotFoundException", "InvalidRequestException")


class SecretsManagerSecretStore:
    """SecretStore on AWS Secrets Manager: secret ``<prefix><name>`` holds the JSON value.

    Errors never include the SDK's text: some echo request parameters (the secret value).
    """

    def __init__(self, client: Any, prefix: str) -> None:
        self._client = client
        self._prefix = prefix

    def _where(self, name: str) -> str:
        return f"Secrets Manager secret {self._prefix}{name}"

    def get(self, name: str) -> dict[str, Any] | None:
        with aws_errors(self._where(name)):
            try:
                value = self._client.get_secret_value(SecretId=self._prefix + name)
            except ClientError as exc:
                if _code(exc) in _GONE:
                    return None
                raise
        try:
            data = json.loads(value["SecretString"])
        except (KeyError, ValueError) as exc:
            raise StoreError(keys.not_json_object(f"secret {self._prefix}{name}")) from exc
        if not isinstance(data, dict):
            raise StoreError(keys.not_json_object(f"secret {self._prefix}{name}"))
        return data

    def put(self, name: str, value: dict[str, Any]) -> None:
        secret_id = self._prefix + name
        text = json.dumps(value, sort_keys=True)
        with aws_errors(self._where(name)):
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

    def delete(self, name: str) -> bool:
        with aws_errors(self._where(name)):
            try:
                self._client.delete_secret(SecretId=self._prefix + name, RecoveryWindowInDays=7)
            except ClientError as exc:
                if _code(exc) in _GONE:
                    return False
                raise
        return True
