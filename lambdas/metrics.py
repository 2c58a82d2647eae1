"""Operational counters the relay and forwarder emit, behind a port.

The core counts through ``Metrics``; the Lambda handlers plug in CloudWatch (Powertools EMF,
see ``lambdas/handlers/cloudwatch_metrics.py``) and the local process uses ``NoMetrics`` (its
figures live in the run history). The names are what the CloudWatch dashboard charts.
"""

from __future__ import annotations

from typing import Protocol

SOAP_CALLS = "SoapCalls"
SOAP_FAULTS = "SoapFaults"
# A rejected authenticate (wrong password, unknown user or a blocked user or address).
AUTH_FAILURES = "AuthFailures"
# Faults split by who caused them: the caller's request (Client) or the relay (Server).
SOAP_CLIENT_FAULTS = "SoapClientFaults"
SOAP_SERVER_FAULTS = "SoapServerFaults"
SESSIONS_STARTED = "SessionsStarted"
SESSIONS_COMPLETED = "SessionsCompleted"
RECORDS_RECEIVED = "RecordsReceived"
RECORDS_QUEUED = "RecordsQueued"
RECORDS_UNCHANGED = "RecordsUnchanged"


class Metrics(Protocol):
    """Counts events; ``entity`` adds an entity dimension."""

    def count(self, name: str, value: int = 1, entity: str | None = None) -> None: ...


class NoMetrics:
    """Metrics that go nowhere."""

    def count(self, name: str, value: int = 1, entity: str | None = None) -> None:
        """Ignore the count."""


# Outbound events handed to the bus or outbox, and those that could not be (never raised).
EVENTS_PUBLISHED = "EventsPublished"
EVENTS_PUBLISH_FAILED = "EventsPublishFailed"
# Webhook deliveries that succeeded, that will be tried again, and that were given up on.
WEBHOOKS_DELIVERED = "WebhookDeliveries"
WEBHOOKS_RETRIED = "WebhookRetries"
WEBHOOKS_FAILED = "WebhookDeliveriesFailed"
