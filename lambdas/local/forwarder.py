"""The local ZOHO forwarder: drains the SQLite record queue in-process with the Lambda's core.

Receive a batch, forward it, delete what was handled; messages left for later stay on the queue
(invisible for its visibility timeout, like SQS). Draining is bounded by ``max_batches``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..model.tenant import tenant_time_zones
from ..store.files import FileSecretStore, FileTokenCache
from ..store.payloads import FolderPayloadStore
from ..store.sqlite import (
    SqliteDatabase,
    SqliteDeadLetterQueue,
    SqliteForwarderState,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteSyncStateStore,
    SqliteTenantStore,
)
from ..store.sqlite.outbox import SqliteOutbox
from ..zoho.client import ZohoClient, client_factory
from ..zoho.forwarder import Status, ZohoForwarder

STATUSES = tuple(s.value for s in Status)


@dataclass(slots=True)
class DrainResult:
    """What one drain did: message outcomes, ZOHO records written or parked, calls made."""

    messages: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    succeeded: int = 0
    failed: int = 0
    calls: int = 0
    token_calls: int = 0
    reasons: list[str] = field(default_factory=list)  # why messages were parked or left

    def to_json(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            **self.outcomes,
            "zoho_records_written": self.succeeded,
            "zoho_records_parked": self.failed,
            "zoho_calls": self.calls,
            "zoho_token_calls": self.token_calls,
        }


def build_local_forwarder(
    db: SqliteDatabase,
    data_dir: Path | str,
    clients: Callable[[str], ZohoClient] | None = None,
    clock: Callable[[], float] = time.time,
) -> ZohoForwarder:
    """The forwarder over the data directory's SQLite store, payloads and secrets file.

    ``clock`` is the forwarder's time (outcome times, and the tenant's "today" that decides
    whether an unpaid invoice is overdue); tests pin it.
    """
    tokens = FileTokenCache.in_dir(data_dir)
    return ZohoForwarder(
        mappings=SqliteMappingStore(db),
        state=SqliteForwarderState(db),
        dead_letters=SqliteDeadLetterQueue(db),
        clients=clients or client_factory(FileSecretStore.in_dir(data_dir), tokens),
        clock=clock,
        max_deliveries=SqliteRecordQueue.MAX_RECEIVES - 1,
        payloads=FolderPayloadStore.in_dir(data_dir),
        refetch=SqliteSyncStateStore(db),
        time_zones=tenant_time_zones(SqliteTenantStore(db)),
        events=SqliteOutbox(db),
    )


def drain(
    queue: SqliteRecordQueue,
    forwarder: ZohoForwarder,
    batch_size: int = 500,
    max_batches: int = 1000,
    on_batch: Callable[[DrainResult], None] | None = None,
) -> DrainResult:
    """Forward queued records until the queue shows none, or ``max_batches`` batches ran.

    ``on_batch`` is told the running totals after each batch (progress displays).
    """
    result = DrainResult()
    for _ in range(max_batches):
        batch = queue.receive(batch_size)
        if not batch:
            break
        report = forwarder.forward(
            [(m.receipt, m.message.body) for m in batch],
            {m.receipt: m.deliveries for m in batch},
        )
        done = [k for k, o in report.outcomes.items() if o.status != Status.RETRY]
        queue.delete(done)
        result.messages += len(batch)
        for outcome in report.outcomes.values():
            result.outcomes[outcome.status] += 1
            if outcome.status in (Status.PARKED, Status.RETRY) and len(result.reasons) < 20:
                result.reasons.append(outcome.reason)
        result.succeeded += report.succeeded
        result.failed += report.failed
        result.calls += report.calls
        result.token_calls += report.token_calls
        if on_batch is not None:
            on_batch(result)
    return result
