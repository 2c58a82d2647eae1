"""Cost model: what one tenant costs on AWS per month at a 15-minute Web Connector schedule.

Measured by the suite: the exchanges of an unchanged re-sync (``qbrelay demo`` run twice on a
small company: a session with nothing new), and per changed record the DynamoDB write and read
units and SQS requests of the backlog tenant's first sync on the real adapters
(``fairness.aws_sample``, moto, GSI writes included). Assumed, and stated in every row: the
changes per day, the billed time of a relay request and of a forwarder invocation (ZOHO's
latency, not this machine's, decides it), and the DynamoDB items an unchanged request reads
and writes (tenant, session, throttle). Not included: the scheduled functions (stale-sync,
overdue, audit, write-back capture), logs, S3 claim checks, Secrets Manager, the event source's
idle polling of the queue (per deployment, not per tenant: a few pollers' long polls, under
US$0.50 a month).

Prices: AWS's public on-demand prices for us-east-1 as of 2025-06 (check them at
https://aws.amazon.com/pricing before relying on them).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.settings import Settings

from .fairness import aws_sample
from .suite import Result, Sizes

# US$, us-east-1, on demand, as of 2025-06: check at https://aws.amazon.com/pricing.
LAMBDA_GB_SECOND_ARM = 0.0000133334  # arm64 (the project deploys ARM_64: infra/functions.py)
LAMBDA_GB_SECOND_X86 = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
API_GATEWAY_REST_REQUEST = 3.50 / 1e6
DYNAMODB_WRITE_UNIT = 1.25 / 1e6
DYNAMODB_READ_UNIT = 0.25 / 1e6
SQS_REQUEST = 0.40 / 1e6
COMMERCIAL_PER_COMPANY_MONTH = 49.0  # a commercial connector's price per company file

SESSIONS_PER_MONTH = 30 * 24 * 4  # every 15 minutes
CHANGES_PER_DAY = 200  # assumed: records created or edited in QuickBooks per company a day
RELAY_REQUEST_SECONDS = 0.1  # assumed billed time of one SOAP request
FORWARDER_INVOCATION_SECONDS = 1.5  # assumed: one ZOHO upsert round trip or two
# Assumed per SOAP request of an unchanged session: the tenant and session items read, the
# session item written (not yet counted on moto).
READS_PER_REQUEST = 2
WRITES_PER_REQUEST = 1
FIXED_CALLS = 4  # serverVersion, clientVersion, authenticate, closeConnection


@dataclass(frozen=True, slots=True)
class Month:
    """One tenant's month: counts and US$."""

    requests: int
    gb_seconds: float
    write_units: float
    read_units: float
    sqs_requests: float

    def lambda_cost(self, invocations: int) -> float:
        return self.gb_seconds * LAMBDA_GB_SECOND_ARM + invocations * LAMBDA_REQUEST

    def dynamodb_cost(self) -> float:
        return self.write_units * DYNAMODB_WRITE_UNIT + self.read_units * DYNAMODB_READ_UNIT

    def sqs_cost(self) -> float:
        return self.sqs_requests * SQS_REQUEST


def unchanged_exchanges() -> int:
    """Exchanges of a session over unchanged data (the demo run twice on a small company)."""
    from lambdas.local.demo import DemoCompany, run_demo

    company = DemoCompany(customers=20, items=5, invoices=10)
    with tempfile.TemporaryDirectory() as tmp:
        run_demo(Path(tmp) / "cost", company)
        return int(run_demo(Path(tmp) / "cost", company).to_json()["exchanges"])


def run(sizes: Sizes) -> list[Result]:
    """The cost rows: requests, Lambda, DynamoDB, SQS, and the total against US$49."""
    settings = Settings(env="prod")
    sample = aws_sample(sizes.partition_records)
    exchanges = unchanged_exchanges()
    changes = CHANGES_PER_DAY * 30
    per_session = FIXED_CALLS + 2 * exchanges
    requests = SESSIONS_PER_MONTH * per_session
    # Changes spread over the sessions; each session's records are one hand-off and, while
    # fewer than a batch, one forwarder run.
    per_active = max(1.0, changes / SESSIONS_PER_MONTH)
    active = min(changes, SESSIONS_PER_MONTH)
    forwarder_invocations = active * math.ceil(per_active / settings.forwarder_batch_size)
    gb_seconds = (
        requests * RELAY_REQUEST_SECONDS * settings.relay_memory_mb / 1024
        + forwarder_invocations * FORWARDER_INVOCATION_SECONDS * settings.forwarder_memory_mb / 1024
    )
    per_record_w = sample.write_units() / sample.records
    per_record_r = sample.reads / sample.records
    # SQS per active session: SendMessageBatch and DeleteMessageBatch per 10 records, the event
    # source's ReceiveMessage per run (the sample's counts are those of full batches).
    tens = math.ceil(per_active / 10)
    sqs_requests = active * 2 * tens + forwarder_invocations
    month = Month(
        requests,
        gb_seconds,
        requests * WRITES_PER_REQUEST + changes * per_record_w,
        requests * READS_PER_REQUEST + changes * per_record_r,
        sqs_requests,
    )
    lam = month.lambda_cost(requests + forwarder_invocations)
    api = requests * API_GATEWAY_REST_REQUEST
    ddb, sqs = month.dynamodb_cost(), month.sqs_cost()
    total = lam + api + ddb + sqs
    assumed = f"{CHANGES_PER_DAY} changes/day, {SESSIONS_PER_MONTH:,} sessions/month"
    return [
        Result(
            "cost.requests",
            api,
            f"${api:.3f}",
            f"{requests:,} SOAP requests/month ({per_session} a session: {exchanges} exchange(s) "
            f"when unchanged, measured) x API Gateway REST $3.50/M",
            None,
            {"requests": requests, "per_session": per_session},
        ),
        Result(
            "cost.lambda",
            lam,
            f"${lam:.3f}",
            f"{gb_seconds:,.0f} GB-s arm64 ({settings.relay_memory_mb} MB x "
            f"{RELAY_REQUEST_SECONDS} s a request, assumed; {forwarder_invocations:,} forwarder "
            f"runs x {FORWARDER_INVOCATION_SECONDS} s, assumed) + requests",
            None,
            {"gb_seconds": gb_seconds, "invocations": requests + forwarder_invocations},
        ),
        Result(
            "cost.dynamodb",
            ddb,
            f"${ddb:.3f}",
            f"{month.write_units:,.0f} WRU + {month.read_units:,.0f} RRU ({per_record_w:.1f} W "
            f"and {per_record_r:.1f} R per changed record, measured; {WRITES_PER_REQUEST} W + "
            f"{READS_PER_REQUEST} R per request, assumed)",
            None,
            {"write_units": month.write_units, "read_units": month.read_units},
        ),
        Result(
            "cost.sqs",
            sqs,
            f"${sqs:.4f}",
            f"{sqs_requests:,.0f} requests: send and delete per 10 records, a receive per "
            f"forwarder run ({assumed}; {sum(sample.sqs.values()) / sample.records:.2f} a record "
            f"in full batches, measured)",
            None,
            {"requests": sqs_requests},
        ),
        Result(
            "cost.total",
            total / COMMERCIAL_PER_COMPANY_MONTH,
            f"${total:.2f}",
            f"AWS per tenant-month ({assumed}, us-east-1 prices of 2025-06) vs "
            f"US${COMMERCIAL_PER_COMPANY_MONTH:.0f} per company file: "
            f"{total / COMMERCIAL_PER_COMPANY_MONTH:.2%}",
            None,
            {"total": total, "commercial": COMMERCIAL_PER_COMPANY_MONTH},
        ),
    ]
