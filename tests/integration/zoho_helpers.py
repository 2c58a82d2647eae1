"""Shared pieces of the ZOHO tests: a fake ZOHO on loopback, clients against it, record messages."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

import requests

from lambdas.store.files import FileTokenCache
from lambdas.store.sqlite import SqliteDatabase
from lambdas.zoho.auth import TokenProvider, ZohoCredentials
from lambdas.zoho.client import ZohoClient
from sim.fake_zoho import FakeZoho

CLIENT_ID = "1000.TESTCLIENT"
SECRET = "s3cr3t-client-value-9f8e7d"
REFRESH = "1000.r3fr3sh-token-value-0a1b2c"


@dataclass
class ZohoEnv:
    """A fake ZOHO served on loopback, and what a test needs to talk to it."""

    fake: FakeZoho
    url: str
    db: SqliteDatabase
    sleeps: list[float] = field(default_factory=list)
    sessions: list[requests.Session] = field(default_factory=list)

    @property
    def tokens(self) -> FileTokenCache:
        """The token cache of the store's data directory, as the local process wires it."""
        return FileTokenCache.in_dir(self.db.path.parent)

    def credentials(self, **kw: Any) -> ZohoCredentials:
        base = {
            "client_id": CLIENT_ID,
            "client_secret": SECRET,
            "refresh_token": REFRESH,
            "accounts_url": self.url,
        }
        return ZohoCredentials(**{**base, **kw})

    def provider(self, tenant: str = "acme", **kw: Any) -> TokenProvider:
        session = requests.Session()
        self.sessions.append(session)
        creds = kw.pop("credentials", None) or self.credentials()
        return TokenProvider(tenant, creds, self.tokens, session, sleep=self.sleeps.append, **kw)

    def client(self, tenant: str = "acme", **kw: Any) -> ZohoClient:
        provider = self.provider(tenant, credentials=kw.pop("credentials", None))
        return ZohoClient(
            provider,
            provider.session,
            sleep=self.sleeps.append,
            rng=random.Random(7),
            timeout=kw.pop("timeout", (2.0, 5.0)),
            **kw,
        )

    def factory(self, **kw: Any):
        return lambda tenant: self.client(tenant, **kw)


def message(record: dict[str, Any], tenant: str = "acme") -> str:
    """A record-queue message body in the contract's shape."""
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return json.dumps(
        {"tenant": tenant, "source": "qbd", "record": record, "content_hash": digest},
        sort_keys=True,
    )


def customer(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "entity": "Customer",
        "list_id": f"8000{n:04d}-1",
        "edit_sequence": "1000",
        "time_modified": "2026-01-02T09:00:00-05:00",
        "name": f"Customer {n}",
        "full_name": f"Customer {n}",
        "company_name": f"Customer {n} Ltd",
        "is_active": True,
        "sublevel": 0,
        "first_name": "Ann",
        "last_name": f"Lee{n}",
        "email": f"ann.{n}@example.com",
        "phone": "555-0100",
        "bill_address": {"addr1": f"{n} Main St", "city": "Austin", "state": "TX"},
        **kw,
    }


def item(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "entity": "Item",
        "item_type": "Service",
        "list_id": f"9000{n:04d}-1",
        "edit_sequence": "500",
        "name": f"Service {n}",
        "full_name": f"Service {n}",
        "is_active": True,
        "sales_desc": f"Service number {n}",
        "sales_price": f"{n}.50",
        **kw,
    }


def invoice(n: int, customer_n: int, item_ns: list[int], **kw: Any) -> dict[str, Any]:
    return {
        "entity": "Invoice",
        "txn_id": f"{n:04d}-TXN",
        "edit_sequence": "77",
        "customer": {"list_id": f"8000{customer_n:04d}-1", "full_name": f"Customer {customer_n}"},
        "ref_number": str(1000 + n),
        "txn_date": "2026-03-01",
        "due_date": "2099-03-31",
        "balance_remaining": "10.00",
        "lines": [
            {
                "txn_line_id": str(i),
                "item": {"list_id": f"9000{m:04d}-1"},
                "quantity": "1",
                "rate": "10.00",
                "amount": "10.00",
            }
            for i, m in enumerate(item_ns)
        ],
        **kw,
    }
