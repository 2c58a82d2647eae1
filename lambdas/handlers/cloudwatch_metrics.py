"""Metrics to CloudWatch in embedded metric format, through Powertools.

Namespace and the ``service`` dimension come from POWERTOOLS_METRICS_NAMESPACE and
POWERTOOLS_SERVICE_NAME. Counts without an entity are batched and flushed by the handler's
``log_metrics`` decorator; per-entity counts carry their own dimension set, so each is written
as a single metric at once.
"""

from __future__ import annotations

from aws_lambda_powertools import Metrics as PowertoolsMetrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric


class CloudWatchMetrics:
    """The Metrics port on Powertools."""

    def __init__(self, metrics: PowertoolsMetrics) -> None:
        self.metrics = metrics

    def count(self, name: str, value: int = 1, entity: str | None = None) -> None:
        """Add ``value`` to the named count."""
        if not value:
            return
        if entity is None:
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
            return
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace=self.metrics.namespace,
            default_dimensions={"service": self.metrics.service or "qbxml-relay"},
        ) as metric:
            metric.add_dimension(name="entity", value=entity)
