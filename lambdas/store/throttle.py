"""The failed-login counter of one key, and an in-process LoginThrottle built on it.

The SQLite adapter applies ``FailureCounter.after_failure`` inside one transaction; the DynamoDB
adapter does the same steps as conditional updates (``lambdas/store/dynamo/throttle.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from .ports import ThrottlePolicy


@dataclass(frozen=True, slots=True)
class FailureCounter:
    """Failures of one key in its current window, its blocks so far and its current block."""

    failures: int = 0
    window_start: float = 0.0
    strikes: int = 0
    blocked_until: float = 0.0
    expires_at: float = 0.0

    def live(self, now: float) -> bool:
        """False once the key has been quiet for the policy's memory (the counter is void)."""
        return self.expires_at > now

    def after_failure(self, now: float, policy: ThrottlePolicy) -> FailureCounter:
        """The counter after one more failure at ``now`` (unchanged while blocked)."""
        current = self if self.live(now) else FailureCounter()
        if current.blocked_until > now:
            # Refused without a check: not a guess, so it neither counts nor extends the block.
            return current
        if current.failures and current.window_start > now - policy.window_seconds:
            failures, start = current.failures + 1, current.window_start
        else:
            failures, start = 1, now
        counter = replace(current, failures=failures, window_start=start)
        if failures >= policy.max_failures:
            counter = replace(
                counter,
                failures=0,
                window_start=now,
                strikes=current.strikes + 1,
                blocked_until=now + policy.block_seconds(current.strikes),
            )
        return replace(counter, expires_at=max(counter.blocked_until, now) + policy.memory_seconds)


class MemoryLoginThrottle:
    """LoginThrottle in this process only (tests, and a relay wired without a store)."""

    def __init__(self) -> None:
        self._counters: dict[str, FailureCounter] = {}
        self._lock = threading.Lock()

    def blocked(self, keys: Sequence[str], now: float) -> float | None:
        """Until when the most blocked of ``keys`` is blocked; None if none is."""
        with self._lock:
            until = [
                c.blocked_until
                for k in keys
                if (c := self._counters.get(k)) is not None
                and c.live(now)
                and c.blocked_until > now
            ]
        return max(until, default=None)

    def fail(self, keys: Sequence[str], now: float, policy: ThrottlePolicy) -> float | None:
        """Count a failure against each key not blocked now; the latest block this started."""
        started: list[float] = []
        with self._lock:
            for key in keys:
                before = self._counters.get(key, FailureCounter())
                after = self._counters[key] = before.after_failure(now, policy)
                if after.blocked_until > now and after.strikes != before.strikes:
                    started.append(after.blocked_until)
        return max(started, default=None)

    def succeed(self, key: str) -> None:
        """Forget the key."""
        with self._lock:
            self._counters.pop(key, None)
