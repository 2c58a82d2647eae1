"""Benchmark: a full sync of 10,000 customers and 10,000 invoices (5 lines each) through the demo.

The whole product runs: the simulated Web Connector over HTTP on 127.0.0.1, the relay on its
SQLite store, the forwarder into the fake ZOHO CRM. Targets (issue 4, point 14):

- exchanges equal the lower bound, the sum over entities of ceil(records / page size) with the
  page size the relay settled on, plus at most one exchange per entity;
- a second run over the unchanged company queues zero records (and so calls ZOHO zero times).

Prints the figures and PASS or FAIL; exits 1 on FAIL.
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

from lambdas.local.demo import DEMO_TENANT, DemoCompany, run_demo
from lambdas.local.wiring import build_local

COMPANY = DemoCompany(
    customers=10_000,
    items=100,
    invoices=10_000,
    sales_orders=0,
    estimates=0,
    sales_receipts=0,
    payments=0,
    credit_memos=0,
)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "bench"
        first = run_demo(data_dir, COMPANY)
        local = build_local(data_dir)
        run = local.runs.recent(DEMO_TENANT, limit=1)[0]
        pages = {e: s.page_size or 1 for e, s in local.state.get_all(DEMO_TENANT).items()}
        bound = sum(math.ceil(c.received / pages[e]) for e, c in run.entities.items())
        allowed = bound + len(run.entities)
        second = run_demo(data_dir, COMPANY)
    f, s = first.to_json(), second.to_json()
    print(
        f"full sync: {f['records_received']:,} records in {f['exchanges']} exchanges "
        f"(lower bound {bound}, allowed {allowed}) in {f['seconds']:.1f} s; "
        f"ZOHO: {f['zoho_calls']} calls for {f['zoho_records']:,} records"
    )
    for entity, counts in run.entities.items():
        if counts.received:
            print(f"  {entity}: {counts.received:,} records, final page size {pages[entity]}")
    print(
        f"re-sync: {s['records_received']:,} records read in {s['exchanges']} exchange(s), "
        f"{s['records_queued']} queued, {s['zoho_calls']} ZOHO calls"
    )
    ok = (
        f["errors"] == 0
        and f["records_received"] == 20_100
        and f["exchanges"] <= allowed
        and s["records_queued"] == 0
        and s["zoho_calls"] == 0
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
