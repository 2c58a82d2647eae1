"""End to end through ``qbrelay demo``: the simulated Web Connector over HTTP on 127.0.0.1, the
relay on its SQLite store, the forwarder into the fake ZOHO CRM; then the same over unchanged
data.

Bounds: exchanges against the sum over entities of ceil(records / page size) (with the page
size the relay settled on; one extra exchange per entity is allowed: the page on which an
iterator reports it is done, or the session's first page, asked small because no record's
size is known yet; every later entity's first page, and the empty entities, ride along with
the last page of the one before: lambdas/sync/grouping.py); ZOHO API calls against the sum
over modules of ceil(records / 100), Accounts per level of the customer tree (a job's Account
is upserted after its parent's; the jobs fill the calls their parents leave part full, so this
allows at most one more call a level: lambdas/zoho/packing.py).
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from lambdas.local.demo import DEMO_TENANT, DemoCompany, run_demo
from lambdas.local.wiring import build_local

from .suite import Result, Sizes

BATCH = 100  # records per ZOHO upsert


def customer_levels(company: DemoCompany) -> Counter[int]:
    """How many customers sit at each depth of the customer/job tree."""
    customers = {c.list_id: c for c in company.build().customer_list}
    levels: Counter[int] = Counter()
    for c in customers.values():
        depth, parent = 0, c.parent_id
        while parent:
            depth, parent = depth + 1, customers[parent].parent_id
        levels[depth] += 1
    return levels


def zoho_bound(modules: dict[str, int], levels: Counter[int]) -> int:
    """ceil(records / 100) per module; Accounts per customer level."""
    bound = 0
    for module, count in modules.items():
        if module == "Accounts":
            bound += sum(math.ceil(n / BATCH) for n in levels.values())
        else:
            bound += math.ceil(count / BATCH)
    return bound


def run(sizes: Sizes) -> list[Result]:
    """The end-to-end rows: exchanges, ZOHO calls, throughput, the unchanged re-sync."""
    company = DemoCompany(
        customers=sizes.sync_customers,
        items=sizes.sync_items,
        invoices=sizes.sync_invoices,
        sales_orders=0,
        estimates=0,
        sales_receipts=0,
        payments=0,
        credit_memos=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "bench"
        first = run_demo(data_dir, company)
        local = build_local(data_dir)
        latest = local.runs.recent(DEMO_TENANT, limit=1)[0]
        pages = {e: s.page_size or 1 for e, s in local.state.get_all(DEMO_TENANT).items()}
        bound = sum(math.ceil(c.received / pages[e]) for e, c in latest.entities.items())
        entities = sum(1 for c in latest.entities.values() if c.received)
        local.db.close()
        second = run_demo(data_dir, company)
    f: dict[str, Any] = first.to_json()
    s: dict[str, Any] = second.to_json()
    records = f["records_received"]
    exchanges = f["exchanges"]
    api_calls = f["zoho_calls"] - f["zoho_token_calls"]
    calls_bound = zoho_bound(f["zoho_modules"], customer_levels(company))
    seconds = f["seconds"]
    expected = sizes.sync_customers + sizes.sync_items + sizes.sync_invoices
    resync_calls = s["zoho_calls"] - s["zoho_token_calls"]
    return [
        Result(
            "sync.exchanges",
            exchanges / bound,
            f"{exchanges / bound:.2f}x",
            f"{exchanges} exchanges, lower bound {bound} over {entities} entities",
            f["errors"] == 0 and records == expected and exchanges <= bound + entities,
            {"exchanges": exchanges, "bound": bound, "pages": pages},
        ),
        Result(
            "sync.zoho_calls",
            api_calls / calls_bound,
            f"{api_calls / calls_bound:.2f}x",
            f"{api_calls} calls (+{f['zoho_token_calls']} token) for {f['zoho_records']:,} "
            f"ZOHO records, bound {calls_bound}",
            api_calls <= calls_bound and f["zoho_parked"] == 0,
            {"calls": api_calls, "bound": calls_bound, "modules": f["zoho_modules"]},
        ),
        Result(
            "sync.throughput",
            records / seconds,
            f"{records / seconds:,.0f}/s",
            f"{records:,} records in {seconds:.1f} s (Web Connector session)",
            None,
            {"records": records, "seconds": seconds},
        ),
        Result(
            "sync.resync",
            resync_calls,
            str(resync_calls),
            f"{s['records_received']:,} records read in {s['exchanges']} exchange(s), "
            f"{s['records_queued']} queued",
            resync_calls == 0 and s["records_queued"] == 0,
            {"exchanges": s["exchanges"], "queued": s["records_queued"]},
        ),
    ]
