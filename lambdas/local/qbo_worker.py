"""The serve process's QuickBooks Online worker: a thread that syncs queued webhook changes,
runs the change-data-capture catch-up on a schedule, and applies the open write-back operations
of tenants with write-back on after each round (the deployment's scheduled catch-up does it
after its catch-up). Every loop is bounded; ``stop`` ends it within one poll interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..qbo.runtime import QboRuntime
from ..store.qbo_ports import ChangeQueue

log = logging.getLogger(__name__)

# As the deployment's schedule (infra: the QBO catch-up rule).
CATCH_UP_EVERY = 15 * 60.0


class QboWorker:
    """Drains ``changes`` through ``runtime`` and catches up every ``catch_up_every`` seconds
    (the first catch-up at start: it is also the first load of a new connection)."""

    def __init__(
        self,
        runtime: QboRuntime,
        changes: ChangeQueue,
        poll_seconds: float = 1.0,
        catch_up_every: float = CATCH_UP_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.changes = changes
        self.poll_seconds = poll_seconds
        self.catch_up_every = catch_up_every
        self.clock = clock
        self.synced = 0
        self.catch_ups = 0
        self.written = 0
        self._next_catch_up = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qbrelay-qbo", daemon=True)

    def start(self) -> QboWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        self._thread.join(timeout)

    def catch_up_soon(self) -> None:
        """Run the catch-up at the next round (after a new connection, say)."""
        self._next_catch_up = 0.0

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.runtime.drain(self.changes, max_batches=20)
                self.synced += report.queued
                if self.clock() >= self._next_catch_up:
                    self._next_catch_up = self.clock() + self.catch_up_every
                    self.runtime.catch_up()
                    self.catch_ups += 1
                # Cheap when nothing is open: no API call is made without an operation.
                self.written += sum(r.applied for r in self.runtime.write_back())
            except Exception:  # keep serving: the next round tries again
                log.exception("the QuickBooks Online worker failed a round; retrying")
            if self._stop.wait(self.poll_seconds):
                break
