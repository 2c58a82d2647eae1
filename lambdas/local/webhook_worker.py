"""The serve process's webhook deliverer: a thread that drains the event outbox to subscribers.

Each round hands the outbox's new events to the deliverer (one delivery per matching
subscription, created once) and makes the attempts that are due, first ones and retries alike:
the delivery log's ``next_attempt_at`` is the local twin of the deliverer Lambda's delayed SQS
messages. It runs on its own thread, so a slow receiver never holds up forwarding to ZOHO.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..store.files import FileSecretStore
from ..store.sqlite import SqliteDatabase
from ..store.sqlite.outbox import SqliteOutbox
from ..store.sqlite.webhooks import SqliteDeliveryLog, SqliteSubscriptionStore
from ..webhooks.delivery import Deliverer, Sender
from ..webhooks.http import LOCAL, post

log = logging.getLogger(__name__)

# Dispatched events are kept this long (the delivery log holds what was sent).
OUTBOX_RETENTION_SECONDS = 7 * 86400


def local_deliverer(
    db: SqliteDatabase,
    data_dir: Path | str,
    clock: Callable[[], float] = time.time,
    sender: Sender = post,
) -> Deliverer:
    """The deliverer over the data directory's subscriptions, delivery log and secrets."""
    return Deliverer(
        SqliteSubscriptionStore(db),
        SqliteDeliveryLog(db),
        FileSecretStore.in_dir(data_dir),
        LOCAL,
        clock=clock,
        sender=sender,
    )


class OutboxDispatch:
    """One round of local delivery: new events fanned out, due attempts made."""

    def __init__(
        self,
        outbox: SqliteOutbox,
        deliverer: Deliverer,
        deliveries: SqliteDeliveryLog,
        batch_size: int = 100,
    ) -> None:
        self.outbox = outbox
        self.deliverer = deliverer
        self.deliveries = deliveries
        self.batch_size = batch_size

    def run_once(self) -> int:
        """Dispatch pending events and attempt what is due; how many attempts were made."""
        events = self.outbox.pending(self.batch_size)
        if events:
            self.deliverer.fan_out(events)
            # Marked after the fan-out: a crash in between fans out again, and deliveries are
            # created once per event and subscription.
            self.outbox.mark_dispatched([e.id for e in events], self.deliverer.clock())
        due = self.deliveries.due(self.deliverer.clock(), self.batch_size)
        for delivery in due:
            self.deliverer.attempt(delivery)
        return len(due)

    def prune(self) -> int:
        """Forget events dispatched longer ago than the retention."""
        return self.outbox.prune(self.deliverer.clock() - OUTBOX_RETENTION_SECONDS)


def local_dispatch(db: SqliteDatabase, data_dir: Path | str) -> OutboxDispatch:
    """The dispatch of a data directory's outbox."""
    return OutboxDispatch(SqliteOutbox(db), local_deliverer(db, data_dir), SqliteDeliveryLog(db))


class WebhookWorker:
    """Runs ``dispatch`` every ``poll_seconds`` on a thread until stopped."""

    def __init__(self, dispatch: OutboxDispatch, poll_seconds: float = 1.0) -> None:
        self.dispatch = dispatch
        self.poll_seconds = poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qbrelay-webhooks", daemon=True)

    def start(self) -> WebhookWorker:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        rounds = 0
        while not self._stop.is_set():
            try:
                busy = self.dispatch.run_once()
                rounds += 1
                if rounds % 3600 == 0:
                    self.dispatch.prune()
            except Exception:  # keep serving: the next round tries again
                log.exception("the webhook worker failed a round; retrying")
                busy = 0
            if self._stop.wait(0.05 if busy else self.poll_seconds):
                break
