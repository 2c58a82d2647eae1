"""The serve process's forwarder: a thread that drains the record queue into ZOHO continuously.

It runs the same core as the Lambda forwarder, concurrently with the relay answering the Web
Connector, as AWS runs them; scheduled jobs (invoices falling overdue) run on it too. Every loop
is bounded, and ``stop`` ends it within one poll interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..store.ports import RecordQueue
from ..zoho.forwarder import ZohoForwarder
from .forwarder import DrainResult, drain

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Job:
    """Something to run every ``every`` seconds on the worker thread."""

    name: str
    every: float
    run: Callable[[], object]
    next_at: float = 0.0


class ForwarderWorker:
    """Drains ``queue`` through ``forwarder`` on a thread until stopped."""

    def __init__(
        self,
        queue: RecordQueue,
        forwarder: ZohoForwarder,
        poll_seconds: float = 1.0,
        batch_size: int = 100,
        jobs: list[Job] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.forwarder = forwarder
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self.jobs = jobs or []
        self.clock = clock
        self.total = DrainResult()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qbrelay-forwarder", daemon=True)

    def start(self) -> ForwarderWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """True once a drain found the queue empty (within ``timeout`` seconds)."""
        self._idle.clear()
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                result = drain(self.queue, self.forwarder, self.batch_size, max_batches=50)
                self._add(result)
                if result.messages == 0:
                    self._idle.set()
                self._run_jobs()
            except Exception:  # keep serving: the next poll tries again
                log.exception("the forwarder worker failed a round; retrying")
            if self._stop.wait(self.poll_seconds if self._idle.is_set() else 0.05):
                break

    def _run_jobs(self) -> None:
        now = self.clock()
        for job in self.jobs:
            if now >= job.next_at:
                job.next_at = now + job.every
                try:
                    job.run()
                except Exception:
                    log.exception(
                        "scheduled job %s failed; it runs again in %.0f s", job.name, job.every
                    )

    def _add(self, r: DrainResult) -> None:
        t = self.total
        t.messages += r.messages
        for k, v in r.outcomes.items():
            t.outcomes[k] += v
        t.succeeded += r.succeeded
        t.failed += r.failed
        t.calls += r.calls
        t.token_calls += r.token_calls
