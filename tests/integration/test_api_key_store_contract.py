"""ApiKeyStore and AuditResults: one contract for SQLite and DynamoDB (moto), and key checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.ops.api_keys import (
    HEADER,
    TOUCH_SECONDS,
    UNAUTHORIZED_BODY,
    create_key,
    describe,
    hash_key,
    require_api_key,
    verify,
)
from lambdas.store.dynamo import DynamoApiKeyStore, DynamoAuditResults, DynamoTenantStore
from lambdas.store.ports import AlreadyExists, ApiKey, Tenant
from lambdas.store.sqlite import (
    SqliteApiKeyStore,
    SqliteAuditResults,
    SqliteDatabase,
    SqliteTenantStore,
)
from tests.aws_tables import create_pk_table


@dataclass
class Stores:
    keys: Any
    audits: Any
    tenants: Any


@pytest.fixture(params=["sqlite", "aws"])
def stores(request, tmp_path) -> Iterator[Stores]:
    if request.param == "sqlite":
        db = SqliteDatabase.in_dir(tmp_path)
        yield Stores(SqliteApiKeyStore(db), SqliteAuditResults(db), SqliteTenantStore(db))
        return
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "tenants")
        create_pk_table(ddb, "state")
        yield Stores(
            DynamoApiKeyStore(ddb, "tenants"),
            DynamoAuditResults(ddb, "state"),
            DynamoTenantStore(ddb, "tenants"),
        )


@dataclass
class Request:
    """The guard needs only ``header`` (the router's Request has it, case-insensitive)."""

    headers: dict[str, str]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass
class Services:
    api_keys: Any


def test_keys_are_added_listed_touched_and_revoked(stores: Stores) -> None:
    a = ApiKey("a1", "grafana", "sha256:aa", 10.0)
    b = ApiKey("b2", "ci", "sha256:bb", 20.0)
    stores.keys.add(b)
    stores.keys.add(a)
    with pytest.raises(AlreadyExists):
        stores.keys.add(ApiKey("a1", "again", "sha256:cc", 30.0))
    assert stores.keys.get("a1") == a and stores.keys.get("zz") is None
    assert stores.keys.list() == [a, b]  # oldest first
    stores.keys.touch("a1", 99.5)
    assert stores.keys.get("a1").last_used_at == 99.5
    assert stores.keys.delete("a1") is True and stores.keys.delete("a1") is False
    stores.keys.touch("a1", 100.0)  # a revoked key does not come back
    assert stores.keys.get("a1") is None and stores.keys.list() == [b]


def test_keys_beside_tenants_do_not_show_as_tenants(stores: Stores) -> None:
    stores.tenants.create(Tenant(name="acme", qbwc_user="acme", password_hash="scrypt$x"))
    create_key(stores.keys, "ops", 1.0)
    assert [t.name for t in stores.tenants.list()] == ["acme"]
    assert len(stores.keys.list()) == 1


def test_a_created_key_is_stored_hashed_and_verifies(stores: Stores) -> None:
    key, row = create_key(stores.keys, "  grafana ", 5.0)
    assert key.startswith("qbr_" + row.key_id + "_") and len(key) == 4 + 16 + 1 + 43
    stored = stores.keys.get(row.key_id)
    assert stored.name == "grafana" and stored.secret_hash == hash_key(key)
    assert key.split("_")[-1] not in repr(stored) and key not in repr(stores.keys.list())
    assert set(describe(stored)) == {"id", "name", "created_at", "last_used_at"}
    assert verify(stores.keys, key, 100.0) == stored
    assert stores.keys.get(row.key_id).last_used_at == 100.0
    # Last use is written at most once a minute.
    verify(stores.keys, key, 100.0 + TOUCH_SECONDS / 2)
    assert stores.keys.get(row.key_id).last_used_at == 100.0
    verify(stores.keys, key, 100.0 + TOUCH_SECONDS)
    assert stores.keys.get(row.key_id).last_used_at == 100.0 + TOUCH_SECONDS


def test_wrong_malformed_and_revoked_keys_are_refused(stores: Stores) -> None:
    key, row = create_key(stores.keys, "ci", 5.0)
    other, _ = create_key(stores.keys, "grafana", 6.0)
    secret = key.rsplit("_", 1)[1]
    wrong_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    swapped = f"qbr_{row.key_id}_{other.rsplit('_', 1)[1]}"  # another key's secret
    unknown_id = f"qbr_{'0' * 16}_{secret}"
    for bad in (None, "", wrong_secret, swapped, unknown_id, key + "x", key.upper(), secret):
        assert verify(stores.keys, bad, 10.0) is None, bad
    assert verify(stores.keys, key, 10.0) is not None and verify(stores.keys, other, 10.0)
    stores.keys.delete(row.key_id)
    assert verify(stores.keys, key, 11.0) is None
    assert verify(stores.keys, other, 11.0) is not None  # the other key still works


def test_the_guard_answers_401_with_one_fixed_body(stores: Stores) -> None:
    key, row = create_key(stores.keys, "ci", 5.0)
    services = Services(stores.keys)
    refusals = [
        require_api_key(Request({}), services),
        require_api_key(Request({HEADER.lower(): "nonsense"}), services),
        require_api_key(Request({HEADER.lower(): key[:-2] + "zz"}), services),
    ]
    stores.keys.delete(row.key_id)
    refusals.append(require_api_key(Request({HEADER.lower(): key}), services))
    assert refusals == [(401, UNAUTHORIZED_BODY)] * 4
    assert "ci" not in str(refusals) and row.key_id not in str(refusals)
    fresh, _ = create_key(stores.keys, "ops", 6.0)
    assert require_api_key(Request({HEADER.lower(): fresh}), services, clock=lambda: 7.0) is None


def test_key_names_are_checked() -> None:
    for bad in ("", "   ", "x" * 65, "tab\there"):
        with pytest.raises(ValueError):
            create_key(None, bad, 1.0)  # type: ignore[arg-type]


def test_audit_results_keep_the_last_summary_per_tenant(stores: Stores) -> None:
    assert stores.audits.last("acme") is None
    stores.audits.save("acme", {"tenant": "acme", "drift": 3, "audit_missing": 3}, 10.0)
    stores.audits.save("acme", {"tenant": "acme", "drift": 1, "audit_missing": 1}, 20.0)
    stores.audits.save("beta", {"tenant": "beta", "drift": 0}, 15.0)
    assert stores.audits.last("acme") == ({"tenant": "acme", "drift": 1, "audit_missing": 1}, 20.0)
    stores.audits.delete_tenant("acme")
    stores.audits.delete_tenant("acme")
    assert stores.audits.last("acme") is None and stores.audits.last("beta")[1] == 15.0
