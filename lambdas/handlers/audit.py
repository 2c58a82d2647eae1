"""Scheduled audit (EventBridge): what ZOHO holds against what the mapping store says was delivered.

For every tenant with ZOHO credentials, ``lambdas.zoho.audit.Auditor`` compares the external ids
in ZOHO with the mapping store; with QBRELAY_AUDIT_REPAIR it also asks the next Web Connector
session to re-read missing and stale records and applies deletions again. Each tenant's report
is one log line (a warning when it found drift).

Metrics, every run, zeros included, with the ``service`` dimension only (per-tenant figures are
in the logs, so the metric count stays fixed): ``DriftRecords`` (summed over tenants),
``AuditCredits`` (ZOHO COQL credits spent) and ``AuditFailures`` (tenants not audited).

Environment: QBRELAY_TENANTS_TABLE, QBRELAY_STATE_TABLE, QBRELAY_MAPPINGS_TABLE,
QBRELAY_SECRETS_PREFIX, POWERTOOLS_METRICS_NAMESPACE (required); QBRELAY_AUDIT_REPAIR (true or
false, default false), QBRELAY_EVENT_BUS (drift.found events).
"""

from __future__ import annotations

import os
import time
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from .runtime import importer, require_env, snapshot_hooks, start
from .zoho_jobs import JOB_ENV, ZohoJobPorts, flag, for_each_tenant, zoho_job_ports

if TYPE_CHECKING:
    from ..store.ports import Tenant
    from ..zoho.audit import Auditor, AuditReport
    from ..zoho.client import ZohoClient
    from ..zoho.mapping import MappingConfig

logger = Logger(service="qbxml-relay")
metrics = Metrics(service="qbxml-relay")

REQUIRED_ENV = (*JOB_ENV, "QBRELAY_MAPPINGS_TABLE")
start(logger, REQUIRED_ENV)
# A tenant is not started with less time left than this (its audit would likely time out).
MARGIN_SECONDS = 120.0


@cache
def configuration() -> tuple[ZohoJobPorts, Auditor, bool]:
    """The ports, the auditor and whether to repair, built once per execution environment (the
    auditor and the adapters are imported here, at the first run, not at init)."""
    from ..store.dynamo import DynamoMappingStore, DynamoSyncStateStore
    from ..zoho.audit import Auditor
    from .cloudwatch_metrics import CloudWatchMetrics
    from .events import event_publisher

    require_env(REQUIRED_ENV)
    repair = flag("QBRELAY_AUDIT_REPAIR")
    ports = zoho_job_ports()
    auditor = Auditor(
        mappings=DynamoMappingStore(ports.dynamodb, os.environ["QBRELAY_MAPPINGS_TABLE"]),
        refetch=DynamoSyncStateStore(ports.dynamodb, os.environ["QBRELAY_STATE_TABLE"]),
        clock=time.time,
        events=event_publisher(CloudWatchMetrics(metrics)),
    )
    return ports, auditor, repair


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Audit every tenant with ZOHO credentials; publish the drift, the cost and the failures."""
    from ..ops.actions import record_audit
    from ..store.dynamo import DynamoAuditResults

    ports, auditor, repair = configuration()
    # Each tenant's summary is kept for status (qbrelay status, the status API): drift.
    results = DynamoAuditResults(ports.dynamodb, os.environ["QBRELAY_STATE_TABLE"])
    spent = {"credits": 0, "coql_calls": 0}

    def audit(tenant: Tenant, config: MappingConfig, client: ZohoClient) -> AuditReport:
        try:
            report = auditor.audit(tenant.name, config, client, repair=repair)
        finally:
            # Counted from the client, so a tenant that failed halfway is paid for too.
            spent["credits"] += client.coql_credits
            spent["coql_calls"] += client.coql_calls
        summary = report.to_json()
        log = logger.warning if report.drift else logger.info
        log("audited tenant", extra={"repair": repair, **summary})
        record_audit(results, summary, time.time())
        return report

    run = for_each_tenant(
        ports, logger, audit, context=context, margin_seconds=MARGIN_SECONDS, name="audit"
    )
    drift = sum(r.drift for r in run.results.values())
    metrics.add_metric(name="DriftRecords", unit=MetricUnit.Count, value=drift)
    metrics.add_metric(name="AuditCredits", unit=MetricUnit.Count, value=spent["credits"])
    metrics.add_metric(name="AuditFailures", unit=MetricUnit.Count, value=len(run.failed))
    return {
        "repair": repair,
        "drift": drift,
        **spent,
        "tenants": {name: r.to_json() for name, r in run.results.items()},
        "skipped": run.skipped,
        "failed": run.failed,
    }


# SnapStart: the snapshot holds the auditor's modules; every restore builds its own clients.
snapshot_hooks(
    prime=[importer("lambdas.zoho.audit", "lambdas.zoho.client", "lambdas.ops.actions")],
    forget=[configuration],
)
