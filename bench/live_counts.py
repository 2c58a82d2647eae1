"""What the live simulation counts: SOAP requests, store and record-queue calls, ZOHO calls and
qbXML bytes (``bench/live_sim.py`` fills them, ``bench/live_cost.py`` prices them)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from lambdas.store import sqlite as sqlite_stores
from lambdas.store.files import FileTokenCache

# Stores whose calls are DynamoDB requests on AWS (the record queue's are SQS requests).
STORES = (
    *(
        getattr(sqlite_stores, name)
        for name in sqlite_stores.__all__
        if name.startswith("Sqlite") and name not in ("SqliteDatabase", "SqliteRecordQueue")
    ),
    FileTokenCache,
)


@dataclass(slots=True)
class Counts:
    """What the rig did: SOAP requests by operation, store calls by port method, queue calls
    and messages, ZOHO API calls, qbXML bytes both ways, sessions and exchanges."""

    soap: Counter[str] = field(default_factory=Counter)
    stores: Counter[str] = field(default_factory=Counter)
    queue: Counter[str] = field(default_factory=Counter)
    zoho_calls: float = 0  # the forwarder's
    zoho_total: float = 0  # every ZOHO API call (the capture's too), as of the last snapshot
    qbxml_sent: float = 0
    qbxml_received: float = 0
    sessions: float = 0
    exchanges: float = 0
    forwarder_runs: float = 0  # drains that forwarded at least one message
    soap_seconds: float = 0.0  # real round trips of the SOAP calls

    def per(self, n: int) -> Counts:
        """These counts divided by ``n`` (the average of ``n`` sessions)."""

        def each(c: Counter[str]) -> Counter[str]:
            return Counter({k: v / n for k, v in c.items()})

        return Counts(
            each(self.soap),
            each(self.stores),
            each(self.queue),
            self.zoho_calls / n,
            self.zoho_total / n,
            self.qbxml_sent / n,
            self.qbxml_received / n,
            self.sessions / n,
            self.exchanges / n,
            self.forwarder_runs / n,
            self.soap_seconds / n,
        )

    def minus(self, other: Counts) -> Counts:
        """The counts since ``other`` (a copy taken earlier)."""
        return Counts(
            self.soap - other.soap,
            self.stores - other.stores,
            self.queue - other.queue,
            self.zoho_calls - other.zoho_calls,
            self.zoho_total - other.zoho_total,
            self.qbxml_sent - other.qbxml_sent,
            self.qbxml_received - other.qbxml_received,
            self.sessions - other.sessions,
            self.exchanges - other.exchanges,
            self.forwarder_runs - other.forwarder_runs,
            self.soap_seconds - other.soap_seconds,
        )

    def copy(self) -> Counts:
        return self.minus(Counts())

    @property
    def capture_calls(self) -> float:
        """ZOHO calls of the change capture (all but the forwarder's)."""
        return self.zoho_total - self.zoho_calls


@contextmanager
def counted_stores(counts: Counts) -> Iterator[None]:
    """Count every outermost public call of the SQLite stores and the record queue."""
    local = threading.local()
    lock = threading.Lock()
    saved: list[tuple[type, str, Any]] = []

    def wrap(cls: type, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        queue = cls is sqlite_stores.SqliteRecordQueue

        @wraps(method)
        def counted(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(local, "depth", 0)
            local.depth = depth + 1
            try:
                result = method(*args, **kwargs)
            finally:
                local.depth = depth
            if depth == 0:
                with lock:
                    if queue:
                        counts.queue[name] += 1
                        size = len(args[1]) if name in ("send", "delete") else len(result or ())
                        counts.queue[f"{name}.messages"] += size
                    else:
                        counts.stores[f"{cls.__name__}.{name}"] += 1
            return result

        return counted

    for cls in (*STORES, sqlite_stores.SqliteRecordQueue):
        for name, method in list(vars(cls).items()):
            if name.startswith("_") or not callable(method) or isinstance(method, type):
                continue
            saved.append((cls, name, method))
            setattr(cls, name, wrap(cls, name, method))
    try:
        yield
    finally:
        for cls, name, method in saved:
            setattr(cls, name, method)
