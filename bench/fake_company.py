"""Benchmark: the simulated company at the size of the full-sync benchmark.

Generates 10,000 customers and 10,000 invoices with 5 lines each (plus items and payments),
then pages through both with iterators as a sync does. Prints one JSON object: generation
seconds, resident memory growth, and per entity the pages, bytes, total seconds and the slowest
page (each page should cost the same however deep into the result set it is).

    .venv/bin/python bench/fake_company.py [--customers N] [--invoices N] [--page N]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import time

from sim.fake_company import FakeCompany

_ITERATOR = re.compile(r'iteratorRemainingCount="(\d+)" iteratorID="([^"]+)"')


def _request(tag: str, page: int, attrs: str, extra: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><?qbxml version="13.0"?><QBXML>'
        f'<QBXMLMsgsRq onError="stopOnError"><{tag} requestID="1" {attrs}>'
        f"<MaxReturned>{page}</MaxReturned>{extra}</{tag}></QBXMLMsgsRq></QBXML>"
    )


def page_through(company: FakeCompany, tag: str, page: int, extra: str) -> dict[str, float]:
    """Run one iterator to its end; return pages, bytes, seconds and the slowest page."""
    started = time.perf_counter()
    times: list[float] = []
    size = 0
    attrs = 'iterator="Start"'
    while True:
        t0 = time.perf_counter()
        answer = company.process(_request(tag, page, attrs, extra if not times else ""))
        times.append(time.perf_counter() - t0)
        size += len(answer.encode("utf-8"))
        match = _ITERATOR.search(answer)
        if match is None or match.group(1) == "0":
            break
        attrs = f'iterator="Continue" iteratorID="{match.group(2)}"'
    return {
        "pages": len(times),
        "megabytes": round(size / 1e6, 1),
        "seconds": round(time.perf_counter() - started, 3),
        "first_page_ms": round(times[0] * 1000, 1),
        "slowest_page_ms": round(max(times) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--invoices", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=200)
    args = parser.parse_args()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    company = FakeCompany(
        customers=args.customers, items=200, invoices=args.invoices, payments=args.invoices // 2
    )
    generated = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = {
        "customers": args.customers,
        "invoices": args.invoices,
        "lines_per_invoice": company.lines_per_txn,
        "generate_seconds": round(generated, 3),
        "memory_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "customer_query": page_through(
            company, "CustomerQueryRq", args.page, "<ActiveStatus>All</ActiveStatus>"
        ),
        "invoice_query": page_through(
            company,
            "InvoiceQueryRq",
            args.page,
            "<IncludeLineItems>true</IncludeLineItems><IncludeLinkedTxns>true</IncludeLinkedTxns>",
        ),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
