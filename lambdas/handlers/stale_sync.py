"""Scheduled check (EventBridge): count tenants with no completed session for too long.

Emits the ``StaleTenants`` metric on every run, zero included, so the alarm can tell "nobody is
stale" from "the check did not run". Environment: QBRELAY_TENANTS_TABLE (required),
QBRELAY_STALE_SYNC_HOURS (optional, default 24), POWERTOOLS_METRICS_NAMESPACE (required).
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

from ..ops.stale_sync import stale_tenants
from ..store.dynamo import DynamoTenantStore
from .runtime import ConfigurationError, require_env, start

logger = Logger(service="qbxml-relay")
metrics = Metrics(service="qbxml-relay")

REQUIRED_ENV = ("QBRELAY_TENANTS_TABLE", "POWERTOOLS_METRICS_NAMESPACE")
start(logger, REQUIRED_ENV)
DEFAULT_HOURS = 24.0


@cache
def configuration() -> tuple[DynamoTenantStore, float]:
    """The tenant store and the threshold in hours, read once per execution environment."""
    require_env(REQUIRED_ENV)
    raw = os.environ.get("QBRELAY_STALE_SYNC_HOURS") or str(DEFAULT_HOURS)
    try:
        hours = float(raw)
    except ValueError:
        hours = 0.0
    if not (math.isfinite(hours) and hours > 0):
        raise ConfigurationError(f"QBRELAY_STALE_SYNC_HOURS must be positive hours, not {raw!r}")
    store = DynamoTenantStore(boto3.client("dynamodb"), os.environ["QBRELAY_TENANTS_TABLE"])
    return store, hours


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Log each stale tenant and publish how many there are."""
    store, hours = configuration()
    stale = stale_tenants(store, time.time(), hours)
    for tenant in stale:
        logger.warning(
            "no completed Web Connector session within the threshold",
            extra={"tenant": tenant.name, "silent_hours": round(tenant.silent_hours, 1)},
        )
    metrics.add_metric(name="StaleTenants", unit=MetricUnit.Count, value=len(stale))
    return {"threshold_hours": hours, "stale_tenants": [t.name for t in stale]}
