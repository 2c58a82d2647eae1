"""Scheduled step (EventBridge): ZOHO invoices still Pending past their due date become Overdue.

Nothing in QuickBooks changes when a due date passes, so no record brings the change: for every
tenant with ZOHO credentials, ``lambdas.zoho.payments.overdue_updates`` finds those invoices and
moves only them. "Past" is judged by the tenant's own date (its ``time_zone``, an IANA name;
UTC when unset or unknown).

Metrics, every run, zeros included (``service`` dimension only): ``InvoicesMarkedOverdue`` and
``OverdueFailures`` (tenants whose step failed).

Environment: QBRELAY_TENANTS_TABLE, QBRELAY_STATE_TABLE, QBRELAY_SECRETS_PREFIX,
POWERTOOLS_METRICS_NAMESPACE (required).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..model.tenant import time_zone
from .runtime import importer, require_env, snapshot_hooks, start
from .zoho_jobs import JOB_ENV, ZohoJobPorts, for_each_tenant, zoho_job_ports

if TYPE_CHECKING:
    from ..store.ports import Tenant
    from ..zoho.client import ZohoClient
    from ..zoho.mapping import MappingConfig

logger = Logger(service="qbxml-relay")
metrics = Metrics(service="qbxml-relay")

REQUIRED_ENV = JOB_ENV
start(logger, REQUIRED_ENV)
MARGIN_SECONDS = 30.0


@cache
def configuration() -> ZohoJobPorts:
    """The ports, built once per execution environment."""
    require_env(REQUIRED_ENV)
    return zoho_job_ports()


def tenant_today(tenant: Tenant, now: float) -> date:
    """The tenant's local date at ``now`` (seconds since the epoch)."""
    return datetime.fromtimestamp(now, time_zone(tenant.time_zone)).date()


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Mark every tenant's overdue invoices; publish how many changed and which tenants failed."""
    # Imported at the first run, not at init (the ZOHO mapping and payments modules).
    from ..zoho.payments import overdue_updates

    ports = configuration()

    def mark(tenant: Tenant, config: MappingConfig, client: ZohoClient) -> int:
        today = tenant_today(tenant, time.time())
        changed = overdue_updates(client, config, today)
        logger.info(
            "overdue invoices marked",
            extra={"tenant": tenant.name, "today": today.isoformat(), "marked": changed},
        )
        return changed

    run = for_each_tenant(
        ports, logger, mark, context=context, margin_seconds=MARGIN_SECONDS, name="overdue"
    )
    marked = sum(run.results.values())
    metrics.add_metric(name="InvoicesMarkedOverdue", unit=MetricUnit.Count, value=marked)
    metrics.add_metric(name="OverdueFailures", unit=MetricUnit.Count, value=len(run.failed))
    return {
        "marked": marked,
        "tenants": run.results,
        "skipped": run.skipped,
        "failed": run.failed,
    }


# SnapStart: the snapshot holds the job's modules; every restore builds its own clients.
snapshot_hooks(
    prime=[importer("lambdas.zoho.payments", "lambdas.zoho.client")], forget=[configuration]
)
