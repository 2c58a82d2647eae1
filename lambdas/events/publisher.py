"""The publisher port: where the relay, the forwarder and the scheduled checks hand events.

Publishing must never fail or slow a sync: ``publish`` does not raise. An adapter implements
``_send`` (which may raise, or report entries it could not hand on); ``GuardedPublisher`` logs
and counts every failure (``failed``, and the ``EventsPublishFailed`` metric) and swallows it.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol

from ..metrics import EVENTS_PUBLISH_FAILED, EVENTS_PUBLISHED, Metrics, NoMetrics
from ..model.events import Event

log = logging.getLogger(__name__)


class EventPublisher(Protocol):
    """Hands events to subscribers' channel (a bus, an outbox)."""

    def publish(self, events: Sequence[Event]) -> None:
        """Hand ``events`` on; never raises (failures are logged and counted)."""


class NoEvents:
    """A publisher that hands nothing on (no channel configured)."""

    def publish(self, events: Sequence[Event]) -> None:
        """Drop the events."""


class GuardedPublisher(ABC):
    """A publisher whose failures are logged and counted, never raised."""

    def __init__(self, metrics: Metrics | None = None) -> None:
        self.metrics = metrics or NoMetrics()
        self.published = 0
        self.failed = 0

    def publish(self, events: Sequence[Event]) -> None:
        """Hand ``events`` on through ``_send``; whatever goes wrong stays here."""
        events = list(events)
        if not events:
            return
        try:
            failed = self._send(events)
        except Exception as exc:  # nothing may reach the sync
            log.error("could not publish %d event(s): %s: %s", len(events), type(exc).__name__, exc)
            failed = len(events)
        self._count(len(events) - failed, failed)

    def _count(self, published: int, failed: int) -> None:
        self.published += published
        self.failed += failed
        try:
            self.metrics.count(EVENTS_PUBLISHED, published)
            self.metrics.count(EVENTS_PUBLISH_FAILED, failed)
        except Exception:  # a metrics failure must not reach the sync either
            log.exception("could not count published events")

    @abstractmethod
    def _send(self, events: list[Event]) -> int:
        """Hand ``events`` on; how many could not be (it may raise instead)."""
