"""What the suite measures: its rows (declared up front, so the README can be checked against
them without running anything), the sizes of each run, and the results."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
HANDLERS_DIR = REPO / "lambdas" / "handlers"
_HANDLER_DEF = re.compile(r"^def handler\(", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each benchmark's inputs are."""

    customers: int = 10_000
    invoices: int = 5_000
    lines: int = 5
    parse_rounds: int = 7
    soap_megabytes: float = 3.0
    soap_rounds: int = 5
    cold_runs: int = 7
    sync_customers: int = 10_000
    sync_items: int = 2_000
    sync_invoices: int = 10_000
    credit_records: int = 1_000
    tenants: int = 1_000
    backlog: int = 100_000
    # The backlog tenant's first sync on moto (slow: about 25 ms a request here); the shares it
    # measures do not depend on its size.
    partition_records: int = 200
    # Changes a side in the live simulation (virtual time, 2 a minute a side).
    live_changes: int = 200


FULL = Sizes()
QUICK = Sizes(
    customers=2_000,
    invoices=1_000,
    parse_rounds=5,
    soap_megabytes=1.0,
    soap_rounds=3,
    cold_runs=5,
    sync_customers=1_000,
    sync_items=200,
    sync_invoices=1_000,
    credit_records=300,
    tenants=100,
    backlog=10_000,
    partition_records=100,
    live_changes=60,
)
# Trivial sizes: the smoke test runs every code path in a few seconds.
SMOKE = Sizes(
    customers=50,
    invoices=20,
    lines=2,
    parse_rounds=1,
    soap_megabytes=0.05,
    soap_rounds=1,
    cold_runs=1,
    sync_customers=30,
    sync_items=10,
    sync_invoices=20,
    credit_records=30,
    tenants=5,
    backlog=300,
    partition_records=20,
    live_changes=6,
)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: what is measured and the target it must meet."""

    key: str
    measurement: str
    target: str


@dataclass(slots=True)
class Result:
    """A row's outcome: the ratio (or count), what it was measured against, PASS or FAIL."""

    key: str
    value: float
    shown: str
    detail: str
    passed: bool | None  # None: shown for comparison, no target
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def handler_modules() -> list[str]:
    """Every Lambda entry module: the files of lambdas/handlers/ that define ``handler``."""
    return sorted(
        f"lambdas.handlers.{path.stem}"
        for path in HANDLERS_DIR.glob("*.py")
        if _HANDLER_DEF.search(path.read_text(encoding="utf-8"))
    )


def declared_rows() -> list[Row]:
    """Every row of the table, in order, whatever the sizes of the run."""
    rows = [
        Row(
            "parse.customers",
            "parse 10,000 customers to records / lxml.etree.fromstring",
            "<= 2.0x",
        ),
        Row("parse.customers.xmltodict", "xmltodict.parse of the same bytes / fromstring", "—"),
        Row("parse.invoices", "parse 5,000 invoices x 5 lines / lxml.etree.fromstring", "<= 2.0x"),
        Row("parse.invoices.xmltodict", "xmltodict.parse of the same bytes / fromstring", "—"),
        Row("memory.customers", "peak memory streaming customers / input size", "<= 2.0x"),
        Row("memory.invoices", "peak memory streaming invoices / input size", "<= 2.0x"),
        Row(
            "soap.overhead", "receiveResponseXML of 3 MB qbXML, whole path / parse alone", "<= 1.5x"
        ),
    ]
    rows.append(Row("cold.boto3", "import boto3, lxml.etree / python -c pass", "—"))
    for module in handler_modules():
        name = module.rsplit(".", 1)[1]
        rows.append(
            Row(f"cold.{name}", f"cold import {name} / import boto3, lxml.etree", "<= 1.5x")
        )
    rows += [
        Row("sync.exchanges", "full sync: exchanges / lower bound", "<= 1.0x + 1 per entity"),
        Row("sync.zoho_calls", "full sync: ZOHO calls / ceil(records / 100)", "<= 1.0x"),
        Row("sync.throughput", "full sync: records per second", "—"),
        Row("sync.resync", "re-sync of unchanged data: ZOHO record calls", "= 0"),
        Row("credits.per_1000", "ZOHO credits per 1,000 changed records / one per call", "<= 0.1x"),
        Row(
            "fairness.behind",
            "1,000 tenants behind a 100,000-record backlog: batches later than without it",
            "<= 1",
        ),
        Row(
            "fairness.receive",
            "fair receive of a batch with the backlog / with one batch queued",
            "<= 2.0x",
        ),
        Row(
            "fairness.hot_partition",
            "first sync on DynamoDB: write units on the hottest partition key / all",
            "—",
        ),
        Row("cost.requests", "per tenant-month: API Gateway requests", "—"),
        Row("cost.lambda", "per tenant-month: Lambda GB-seconds and invocations", "—"),
        Row("cost.dynamodb", "per tenant-month: DynamoDB write and read units", "—"),
        Row("cost.sqs", "per tenant-month: SQS requests", "—"),
        Row("cost.total", "per tenant-month: AWS in all / US$49 commercial per company", "—"),
        Row(
            "live.qb_to_zoho.p95",
            "live mode, 60 s interval: QuickBooks edit to ZOHO, p95 (virtual time)",
            "<= 60 s",
        ),
        Row(
            "live.zoho_to_qb.p95",
            "live mode, 60 s interval: ZOHO edit to QuickBooks, p95 (virtual time)",
            "<= 60 s",
        ),
        Row(
            "live.idle_bytes",
            "live mode: qbXML of an idle cycle between sweeps, both ways (8 entities)",
            "< 2 KB",
        ),
        Row("live.idle_bytes.sweep", "live mode: qbXML of the 15-minute sweep round", "—"),
        Row("live.idle_bytes.mean", "live mode: qbXML per idle round, sweeps included", "—"),
        Row("live.cost.requests", "per tenant-day live: API Gateway requests (vs 15 min)", "—"),
        Row("live.cost.lambda", "per tenant-day live: Lambda GB-seconds (vs 15 min)", "—"),
        Row("live.cost.dynamodb", "per tenant-day live: DynamoDB requests (vs 15 min)", "—"),
        Row("live.cost.sqs", "per tenant-day live: SQS requests (vs 15 min)", "—"),
        Row("live.cost.total", "per tenant-day live: AWS in all, ZOHO calls (vs 15 min)", "—"),
    ]
    return rows
