"""Per-realm request limits shared by every process and Lambda instance.

Intuit allows 500 requests per minute per realm (all apps together), 10 per second per realm
and app, and historically 10 concurrent ones (research §3.1); over that it answers 429 and asks
for 60 s of quiet. Choice: a **reservation scheduler in the state store** (one small item per
realm, changed by an atomic read-modify-write: a conditional UpdateItem on a version in
DynamoDB, an immediate transaction in SQLite), not an SQS FIFO queue grouped by realm:

- FIFO message groups serialise a realm to one message in flight, but they do not pace: ten
  quick messages still make ten calls in one second, and a 429 cannot hold back the messages
  behind it. Pacing would need the same shared state anyway.
- The limiter sits in the client, so every call is covered (first loads, webhook fetches, CDC,
  writes, whoever makes them), not only those that came through one queue.

How it works: each call reserves a start time ``max(next_at, paused_until, now)`` and moves
``next_at`` on by ``spacing = max(1 / per_second, 60 / per_minute)``, so starts are at least
``spacing`` apart across all callers; it also takes one of ``max_in_flight`` slots (with an
expiry, so a crashed Lambda's slot frees itself) until it returns. A 429 moves
``paused_until`` 60 s (plus jitter) ahead for every caller of the realm. A caller whose start
would be more than ``max_wait`` away does not reserve and gets :class:`QboThrottled`.

Guarantees (for calls through this limiter): at most ``ceil(W / spacing)`` calls start in any
window of W seconds (at the defaults, 8 per second and 450 per minute: headroom under Intuit's
10 and 500, for network jitter and other apps of the same company); at most ``max_in_flight``
calls per realm at once; no call starts for 60 s after a 429 (one that waited for its start
looks again when it comes, so a pause another caller began meanwhile holds it too).
Fairness: the state is per realm, so one realm's backlog or pause never delays another
realm's calls; the other half of the fairness promise (one realm's queued work not delaying
another realm's first record by more than one batch) belongs to the sync queue, which must not
hold a worker on one realm's backlog.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .errors import QboThrottled

T = TypeVar("T")

THROTTLE_PAUSE = 60.0  # Intuit: "wait 60 seconds before retrying"


@dataclass(frozen=True, slots=True)
class RealmPolicy:
    """The limits one realm's calls are held to."""

    per_second: float = 8.0
    per_minute: float = 450.0
    max_in_flight: int = 4
    # How long an in-flight slot lasts at most (above the client's connect + read timeout).
    slot_seconds: float = 90.0
    # The longest a caller waits for its turn before giving up with QboThrottled.
    max_wait: float = 75.0

    @property
    def spacing(self) -> float:
        """Seconds between two starts of the realm."""
        return max(1.0 / self.per_second, 60.0 / self.per_minute)

    def most_in(self, window: float) -> int:
        """The most calls this policy lets start within ``window`` seconds."""
        return math.ceil(window / self.spacing)


@dataclass(slots=True)
class LimiterState:
    """One realm's schedule: next free start, the pause after a 429, slots in flight."""

    next_at: float = 0.0
    paused_until: float = 0.0
    slots: dict[str, float] = field(default_factory=dict)  # slot id -> expiry

    def admit(self, slot: str, now: float, policy: RealmPolicy) -> float | None:
        """Reserve a start for ``slot``: its time, or None when all slots are taken or the
        start would be more than ``max_wait`` away (then nothing is reserved)."""
        self.slots = {k: v for k, v in self.slots.items() if v > now}
        if len(self.slots) >= policy.max_in_flight:
            return None
        start = max(self.next_at, self.paused_until, now)
        if start - now > policy.max_wait:
            return None
        self.next_at = start + policy.spacing
        self.slots[slot] = start + policy.slot_seconds
        return start

    def release(self, slot: str) -> None:
        self.slots.pop(slot, None)

    def pause(self, until: float) -> None:
        """No start before ``until`` (extends, never shortens, a pause)."""
        self.paused_until = max(self.paused_until, until)

    def to_item(self) -> dict[str, Any]:
        return {"next_at": self.next_at, "paused_until": self.paused_until, "slots": self.slots}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> LimiterState:
        return cls(
            next_at=float(item.get("next_at") or 0.0),
            paused_until=float(item.get("paused_until") or 0.0),
            slots={str(k): float(v) for k, v in (item.get("slots") or {}).items()},
        )


class RealmLimitStore(Protocol):
    """Per-realm LimiterState, changed atomically across processes."""

    def update(self, realm_id: str, change: Callable[[LimiterState], T]) -> T:
        """Apply ``change`` to the realm's state (a fresh one if none) and save the result, as
        one atomic step: concurrent updates never lose one another. ``change`` may run more
        than once (optimistic retries), so it must not have other effects."""

    def get(self, realm_id: str) -> LimiterState:
        """The realm's current state (a fresh one if none)."""


class RealmLimiter:
    """Waits for a realm's turn before each call, in every process sharing ``store``."""

    def __init__(
        self,
        store: RealmLimitStore,
        policy: RealmPolicy | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 0.05,
    ) -> None:
        self.store = store
        self.policy = policy or RealmPolicy()
        self.clock = clock
        self.sleep = sleep
        self.poll_seconds = poll_seconds

    @contextmanager
    def turn(self, realm_id: str) -> Iterator[None]:
        """Hold one of the realm's slots for one call, starting when the schedule allows."""
        slot = uuid.uuid4().hex
        policy = self.policy
        deadline = self.clock() + policy.max_wait
        while True:
            now = self.clock()
            start = self.store.update(realm_id, lambda s, now=now: s.admit(slot, now, policy))
            if start is not None:
                if start <= now:
                    break
                try:
                    self.sleep(start - now)
                    # A 429 another caller met while this one waited for its start holds it too.
                    state = self.store.get(realm_id)
                except BaseException:
                    self.store.update(realm_id, lambda s: s.release(slot))
                    raise
                now = self.clock()
                if state.paused_until <= now:
                    break
                self.store.update(realm_id, lambda s: s.release(slot))
            else:
                state = self.store.get(realm_id)
            wait_until = max(state.paused_until, now + self.poll_seconds)
            if wait_until > deadline:
                raise QboThrottled(
                    f"QuickBooks Online realm {realm_id} is at its request limit (or paused "
                    "after a 429) for longer than this call may wait",
                    retry_after=max(wait_until - now, 1.0),
                )
            self.sleep(min(wait_until, deadline) - now)
        try:
            yield
        finally:
            self.store.update(realm_id, lambda s: s.release(slot))

    def pause(self, realm_id: str, seconds: float = THROTTLE_PAUSE, jitter: float = 5.0) -> float:
        """After a 429: no caller of the realm starts for ``seconds`` (+ up to ``jitter``)."""
        until = self.clock() + seconds + random.uniform(0, jitter)
        self.store.update(realm_id, lambda s: s.pause(until))
        return until
