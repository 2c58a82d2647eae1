"""EventPublisher on Amazon EventBridge: one PutEvents call per batch, to the environment's bus.

Every event becomes one entry: ``Source`` is ``qbxml-relay``, ``DetailType`` the event type
(``session.completed`` ...), ``Detail`` the event document, ``Time`` its time. Batches hold at
most ``MAX_ENTRIES`` entries and ``MAX_REQUEST_BYTES`` bytes as EventBridge counts them; an event
that alone exceeds the limit is dropped (logged and counted: the event model keeps them small).
Entries EventBridge refuses (``FailedEntryCount``) are logged by error code and counted; nothing
is raised (see ``GuardedPublisher``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from botocore.config import Config

from ..metrics import Metrics
from ..model.events import Event
from .publisher import GuardedPublisher

log = logging.getLogger(__name__)

SOURCE = "qbxml-relay"
MAX_ENTRIES = 10
MAX_REQUEST_BYTES = 256 * 1024
# EventBridge counts a given Time as 14 bytes.
TIME_BYTES = 14
# A publish must not hold up the Web Connector's closeConnection or a forwarder batch: short
# timeouts and two attempts in all (about 6 s at worst when EventBridge does not answer).
CLIENT_CONFIG = Config(
    connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2}
)


def entry(event: Event, bus: str) -> dict[str, Any]:
    """The PutEvents entry of one event."""
    return {
        "Source": SOURCE,
        "DetailType": event.type,
        "Detail": json.dumps(event.to_json(), separators=(",", ":"), sort_keys=True),
        "Time": datetime.fromtimestamp(event.time, UTC),
        "EventBusName": bus,
    }


def entry_size(item: dict[str, Any]) -> int:
    """An entry's size as EventBridge computes it for the 256 KB limit."""
    size = TIME_BYTES if item.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(item.get(key) or "").encode())
    return size + sum(len(r.encode()) for r in item.get("Resources") or [])


def batches(
    items: list[dict[str, Any]],
    max_entries: int = MAX_ENTRIES,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> Iterator[list[dict[str, Any]]]:
    """``items`` in order, in batches within both limits (an oversize entry is not yielded)."""
    batch: list[dict[str, Any]] = []
    size = 0
    for item in items:
        n = entry_size(item)
        if n > max_bytes:
            continue
        if batch and (len(batch) == max_entries or size + n > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += n
    if batch:
        yield batch


class EventBridgePublisher(GuardedPublisher):
    """Publishes to the bus ``bus`` (name or ARN) with the events client ``client``."""

    def __init__(self, client: Any, bus: str, metrics: Metrics | None = None) -> None:
        super().__init__(metrics)
        self.client = client
        self.bus = bus

    def _send(self, events: list[Event]) -> int:
        items = [entry(e, self.bus) for e in events]
        oversize = [
            e.id for e, i in zip(events, items, strict=True) if entry_size(i) > MAX_REQUEST_BYTES
        ]
        if oversize:
            log.error(
                "dropped %d event(s) over EventBridge's size limit: %s", len(oversize), oversize
            )
        failed = len(oversize)
        for batch in batches(items):
            try:
                reply = self.client.put_events(Entries=batch)
            except Exception as exc:  # the other batches may still go through
                log.error("PutEvents of %d event(s) failed: %s", len(batch), exc)
                failed += len(batch)
                continue
            count = int(reply.get("FailedEntryCount") or 0)
            if count:
                codes = sorted(
                    {
                        str(r.get("ErrorCode"))
                        for r in reply.get("Entries") or []
                        if r.get("ErrorCode")
                    }
                )
                log.error("EventBridge refused %d event(s): %s", count, ", ".join(codes))
                failed += count
        return failed
