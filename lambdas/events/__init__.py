"""Outbound events: the publisher port and its adapters (EventBridge on AWS, an SQLite outbox
locally); the event model is in :mod:`lambdas.model.events`."""

from .publisher import EventPublisher, GuardedPublisher, NoEvents

__all__ = ["EventPublisher", "GuardedPublisher", "NoEvents"]
