"""Scheduled check (EventBridge): count tenants with no completed session for too long.

Emits the ``StaleTenants`` metric on every run, zero included, so the alarm can tell "nobody is
stale" from "the check did not run", and a ``tenant.stale`` event when a tenant crosses the
threshold (and each further threshold period of the same silence). Environment:
QBRELAY_TENANTS_TABLE (required), QBRELAY_STALE_SYNC_HOURS (optional, default 24),
QBRELAY_STALE_CHECK_MINUTES (the schedule's period, default 60: each run announces the
crossings of its own period), QBRELAY_EVENT_BUS (optional), POWERTOOLS_METRICS_NAMESPACE
(required).
"""

from __future__ import annotations

import math
import os
import time
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ..events import EventPublisher
from ..ops.stale_sync import check_stale
from ..store.dynamo import DynamoTenantStore
from .cloudwatch_metrics import CloudWatchMetrics
from .events import event_publisher
from .runtime import ConfigurationError, require_env, snapshot_hooks, start

logger = Logger(service="qbxml-relay")
metrics = Metrics(service="qbxml-relay")

REQUIRED_ENV = ("QBRELAY_TENANTS_TABLE", "POWERTOOLS_METRICS_NAMESPACE")
start(logger, REQUIRED_ENV)
DEFAULT_HOURS = 24.0
DEFAULT_CHECK_MINUTES = 60.0
# Each run announces the crossings of a window a little longer than its period: a late run then
# repeats an event (same id) rather than missing one.
WINDOW_FACTOR = 1.1


def _positive(name: str, default: float, what: str) -> float:
    raw = os.environ.get(name) or str(default)
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{name} must be positive {what}, not {raw!r}")
    return value


@cache
def configuration() -> tuple[DynamoTenantStore, float, float, EventPublisher]:
    """The tenant store, the threshold in hours, the window in seconds and the publisher, read
    once per execution environment."""
    require_env(REQUIRED_ENV)
    hours = _positive("QBRELAY_STALE_SYNC_HOURS", DEFAULT_HOURS, "hours")
    minutes = _positive("QBRELAY_STALE_CHECK_MINUTES", DEFAULT_CHECK_MINUTES, "minutes")
    store = DynamoTenantStore(boto3.client("dynamodb"), os.environ["QBRELAY_TENANTS_TABLE"])
    window = minutes * 60 * WINDOW_FACTOR
    return store, hours, window, event_publisher(CloudWatchMetrics(metrics))


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Log each stale tenant and publish how many there are."""
    store, hours, window, events = configuration()
    stale = check_stale(store, events, time.time(), hours, window)
    for tenant in stale:
        logger.warning(
            "no completed Web Connector session within the threshold",
            extra={"tenant": tenant.name, "silent_hours": round(tenant.silent_hours, 1)},
        )
    metrics.add_metric(name="StaleTenants", unit=MetricUnit.Count, value=len(stale))
    return {"threshold_hours": hours, "stale_tenants": [t.name for t in stale]}


# SnapStart: every restore builds its own clients.
snapshot_hooks(forget=[configuration])
