"""Shared fixtures: a relay on a fresh SQLite store, tenants, paths to the shared reference data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.local.wiring import LocalRelay, build_local
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.store.ports import Tenant

REPO = Path(__file__).resolve().parent.parent


def shared_path(env: str, default: str) -> Path | None:
    """A reference path from its environment variable, else beside the checkout, else None."""
    value = os.environ.get(env)
    path = Path(value) if value else REPO.parent / "shared" / default
    return path if path.exists() else None


def create_pk_table(client: Any, name: str) -> None:
    """A DynamoDB table shaped like the relay's: string partition key ``pk``, on demand."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_mappings_table(client: Any, name: str) -> None:
    """The mappings table as deployed: ``pk`` plus GSIs ``by_zoho`` and ``by_status``."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "zoho_key", "AttributeType": "S"},
            {"AttributeName": "tenant_status", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_zoho",
                "KeySchema": [{"AttributeName": "zoho_key", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_status",
                "KeySchema": [
                    {"AttributeName": "tenant_status", "KeyType": "HASH"},
                    {"AttributeName": "pk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def local(tmp_path: Path) -> Iterator[LocalRelay]:
    yield build_local(tmp_path / "data", RelaySettings(page_size=50))


PASSWORD = "correct horse battery staple"


@pytest.fixture
def tenant(local: LocalRelay) -> Tenant:
    t = Tenant(name="acme", qbwc_user="acme-qbwc", password_hash=hash_password(PASSWORD))
    local.tenants.create(t)
    return t
