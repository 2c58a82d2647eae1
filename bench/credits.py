"""ZOHO credits per 1,000 changed records, against a one-record-per-call client.

The real forwarder and client run against the fake ZOHO CRM on 127.0.0.1 (which counts credits
as ZOHO does: 1 per call, 1 per 10 records on writes), in message batches of 100 (the SQS batch
size the forwarder Lambda is given). Changed items (Products), customers (an Account and a
Contact each) and invoices (2 lines each) are sent, then the same again unchanged. The naive
client makes one call, so spends one credit, per record and module; the ratio is the
forwarder's credits over the naive client's.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import requests

from lambdas.store.files import FileTokenCache
from lambdas.store.sqlite import (
    SqliteDatabase,
    SqliteDeadLetterQueue,
    SqliteForwarderState,
    SqliteMappingStore,
)
from lambdas.zoho.auth import TokenProvider, ZohoCredentials
from lambdas.zoho.client import ZohoClient
from lambdas.zoho.forwarder import ZohoForwarder
from sim.fake_zoho import FakeZoho, FakeZohoServer

from .suite import Result, Sizes

BATCH = 100
TARGET = 0.1  # ZOHO's own floor for writes: 1 credit per 10 records


def _message(record: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return json.dumps(
        {"tenant": "bench", "source": "qbd", "record": record, "content_hash": digest}
    )


def customers(version: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "entity": "Customer",
            "list_id": f"80{n:06d}-1",
            "edit_sequence": version,
            "name": f"Customer {n}",
            "full_name": f"Customer {n}",
            "is_active": True,
            "sublevel": 0,
            "first_name": "Ann",
            "last_name": f"Lee {n}",
            "email": f"ann.{n}@example.com",
            "bill_address": {"addr1": f"{n} Main St", "city": "Austin"},
        }
        for n in range(count)
    ]


def items(version: str, count: int, price: str = "9.50") -> list[dict[str, Any]]:
    return [
        {
            "entity": "Item",
            "item_type": "Service",
            "list_id": f"90{n:06d}-1",
            "edit_sequence": version,
            "name": f"Service {n}",
            "full_name": f"Service {n}",
            "is_active": True,
            "sales_price": price,
        }
        for n in range(count)
    ]


def invoices(version: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "entity": "Invoice",
            "txn_id": f"{n:06d}-TXN",
            "edit_sequence": version,
            "customer": {"list_id": f"80{n:06d}-1"},
            "ref_number": str(10000 + n),
            "txn_date": "2026-03-01",
            "due_date": "2026-04-01",
            "balance_remaining": "19.00",
            "lines": [
                {"item": {"list_id": f"90{n:06d}-1"}, "quantity": "2", "rate": "9.50"},
                {
                    "item": {"list_id": f"90{(n + 1) % count:06d}-1"},
                    "quantity": "1",
                    "rate": "9.50",
                },
            ],
        }
        for n in range(count)
    ]


def run(sizes: Sizes) -> list[Result]:
    """The credits row (and, in its figures, the unchanged re-send costing nothing)."""
    count = sizes.credit_records
    fake = FakeZoho(daily_credits=10_000_000)
    fake.add_client("1000.BENCH", "bench-secret", "1000.bench-refresh")
    session = requests.Session()
    with tempfile.TemporaryDirectory() as tmp, FakeZohoServer(fake) as server:
        db = SqliteDatabase.in_dir(Path(tmp))
        tokens = FileTokenCache.in_dir(tmp)
        credentials = ZohoCredentials(
            "1000.BENCH", "bench-secret", "1000.bench-refresh", accounts_url=server.url
        )

        def clients(tenant: str) -> ZohoClient:
            return ZohoClient(TokenProvider(tenant, credentials, tokens, session), session)

        forwarder = ZohoForwarder(
            SqliteMappingStore(db), SqliteForwarderState(db), SqliteDeadLetterQueue(db), clients
        )

        def send(records: list[dict[str, Any]]) -> int:
            before = fake.credits_used
            bodies = [_message(r) for r in records]
            for start in range(0, len(bodies), BATCH):
                chunk = bodies[start : start + BATCH]
                report = forwarder.forward([(str(i), b) for i, b in enumerate(chunk)])
                bad = [o for o in report.outcomes.values() if o.status in ("parked", "retry")]
                if bad:
                    raise RuntimeError(f"{len(bad)} record(s) not applied: {bad[0]}")
            return fake.credits_used - before

        changed = items("1", count) + customers("1", count) + invoices("1", count)
        spent = send(changed)
        unchanged = send(changed)
        db.close()
    session.close()
    naive = count * 4  # one call per record and module: Products, Accounts, Contacts, Invoices
    ratio = spent / naive
    per_k = spent * 1000 / (3 * count)
    return [
        Result(
            "credits.per_1000",
            ratio,
            f"{ratio:.3f}x",
            f"{per_k:.0f} credits per 1,000 records vs {naive * 1000 / (3 * count):.0f} naive; "
            f"unchanged re-send: {unchanged}",
            ratio <= TARGET and unchanged == 0,
            {"credits": spent, "naive": naive, "unchanged": unchanged},
        )
    ]
