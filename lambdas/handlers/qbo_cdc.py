"""Scheduled Lambda entry point: the QuickBooks Online change-data-capture catch-up of every
connected tenant (not paused), then the write-back operations of those with write-back on
(when the stack has the write-back table), and the reconnect check (metrics
``QboNeedsReconnectTenants`` and ``QboReconnectDaysLeft``, which alarm before a refresh token's
hard expiry).
Environment: see lambdas/handlers/qbo_aws.py.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics

from .cloudwatch_metrics import CloudWatchMetrics
from .qbo_aws import CACHED, runtime
from .qbo_sync import REQUIRED_ENV
from .runtime import importer, snapshot_hooks, start

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "qbxml-relay"
logger = Logger(service=SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "QbxmlRelay", service=SERVICE
)
start(logger, REQUIRED_ENV)


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Catch every connected tenant up, apply its write-back; report what each did and who
    must reconnect."""
    from ..qbo.runtime import describe_check, describe_written

    qbo = runtime(CloudWatchMetrics(metrics))
    reports = qbo.catch_up()
    written = qbo.write_back()
    check = qbo.reconnect_check()
    return {
        "tenants": [
            {"tenant": r.tenant, "queued": r.queued, "cdc_records": r.cdc_records, "error": r.error}
            for r in reports
        ],
        "writeback": describe_written(written),
        **describe_check(check),
    }


# SnapStart: the snapshot holds the QBO runtime's modules; every restore builds its own ports.
snapshot_hooks(prime=[importer("lambdas.qbo.runtime", "lambdas.store.dynamo.qbo")], forget=CACHED)
