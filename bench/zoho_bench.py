"""Benchmark: ZOHO calls per 1,000 changed records, and for a re-sync of unchanged data.

Runs the real forwarder and client against the fake ZOHO CRM on 127.0.0.1, in message batches
of 100 (the SQS batch size the forwarder Lambda should be given). Targets (issue 5, point 9):

- 1,000 changed records of one module cost ceil(1000 / 100) = 10 upserts, the lower bound, plus
  at most one token call for the whole run (the token is cached and shared);
- a customer is an Account and a Contact, so its lower bound is 20 per 1,000;
- re-sending the same, unchanged records costs zero calls, token calls included.

Prints one line per scenario and PASS or FAIL; exits 1 on FAIL.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass
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

N = 1000
BATCH = 100


def _message(record: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
    return json.dumps(
        {"tenant": "bench", "source": "qbd", "record": record, "content_hash": digest}
    )


def customers(version: str) -> list[dict[str, Any]]:
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
        for n in range(N)
    ]


def items(version: str, price: str = "9.50") -> list[dict[str, Any]]:
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
        for n in range(N)
    ]


def invoices(version: str) -> list[dict[str, Any]]:
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
                {"item": {"list_id": f"90{(n + 1) % N:06d}-1"}, "quantity": "1", "rate": "9.50"},
            ],
        }
        for n in range(N)
    ]


@dataclass
class Result:
    name: str
    records: int
    calls: int
    token_calls: int
    bound: int
    token_bound: int
    seconds: float

    @property
    def ok(self) -> bool:
        return self.calls <= self.bound and self.token_calls <= self.token_bound

    def line(self) -> str:
        per_k = self.calls * 1000 / self.records if self.records else 0
        return (
            f"{'PASS' if self.ok else 'FAIL'}  {self.name:<38} {self.records:>5} records  "
            f"{self.calls:>3} API calls ({per_k:>5.1f} per 1,000; bound {self.bound})  "
            f"{self.token_calls} token call(s) (bound {self.token_bound})  "
            f"{self.records / self.seconds:>7.0f} records/s"
        )


def main() -> int:
    fake = FakeZoho(daily_credits=10_000_000)
    fake.add_client("1000.BENCH", "bench-secret", "1000.bench-refresh")
    session = requests.Session()
    results: list[Result] = []
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

        def run(name: str, records: list[dict[str, Any]], modules: int, token_bound: int) -> None:
            bodies = [_message(r) for r in records]
            calls = token_calls = 0
            started = time.perf_counter()
            for start in range(0, len(bodies), BATCH):
                chunk = bodies[start : start + BATCH]
                report = forwarder.forward([(str(i), b) for i, b in enumerate(chunk)])
                bad = [o for o in report.outcomes.values() if o.status in ("parked", "retry")]
                if bad:
                    raise SystemExit(f"FAIL  {name}: {len(bad)} record(s) not applied: {bad[0]}")
                calls += report.calls
                token_calls += report.token_calls
            seconds = time.perf_counter() - started
            bound = modules * math.ceil(len(records) / BATCH) if modules else 0
            results.append(
                Result(name, len(records), calls, token_calls, bound, token_bound, seconds)
            )
            print(results[-1].line(), flush=True)

        run("changed items (Products)", items("1"), modules=1, token_bound=1)
        run("changed customers (Accounts+Contacts)", customers("1"), modules=2, token_bound=0)
        run("changed invoices (Invoices, 2 lines)", invoices("1"), modules=1, token_bound=0)
        unchanged = items("1") + customers("1") + invoices("1")
        run("re-sync of unchanged data", unchanged, modules=0, token_bound=0)
        run("items changed again", items("2", price="10.00"), modules=1, token_bound=0)
    session.close()
    total_ok = all(r.ok for r in results)
    print("PASS" if total_ok else "FAIL")
    return 0 if total_ok else 1


if __name__ == "__main__":
    sys.exit(main())
