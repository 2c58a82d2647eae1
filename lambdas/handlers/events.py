"""The functions' event publisher: the environment's EventBridge bus (QBRELAY_EVENT_BUS).

Without the variable (a stack deployed before the bus existed, or a test) nothing is published.
The client has short timeouts (``CLIENT_CONFIG``): publishing must never slow a sync.
"""

from __future__ import annotations

import os

import boto3

from ..events import EventPublisher, NoEvents
from ..events.eventbridge import CLIENT_CONFIG, EventBridgePublisher
from ..metrics import Metrics

EVENT_BUS_ENV = "QBRELAY_EVENT_BUS"


def event_publisher(metrics: Metrics | None = None) -> EventPublisher:
    """The bus's publisher, or one that publishes nothing when no bus is configured."""
    bus = os.environ.get(EVENT_BUS_ENV)
    if not bus:
        return NoEvents()
    return EventBridgePublisher(boto3.client("events", config=CLIENT_CONFIG), bus, metrics)
