"""The SQLite database file shared by the SQLite adapters.

One database file in the data directory holds every table. Each thread gets its own connection
(the WSGI server is multi-threaded); writes that must be atomic run in ``BEGIN IMMEDIATE``.

The database holds session tickets, password hashes and queued customer records, so its
directory is kept 0700 and the database file 0600: the file is created (or tightened) before
SQLite opens it, and SQLite gives its ``-wal`` and ``-shm`` files the database file's mode. A
loose directory or file left by an earlier release is tightened with a warning (see
:mod:`lambdas.store.private`).
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .. import keys
from ..ports import StoreError
from ..private import FILE_MODE, create_private_file, private_dir, tighten
from .mappings import MAPPINGS_SCHEMA, migrate_mappings
from .record_queue import RECORD_QUEUE_SCHEMA
from .sessions import SESSIONS_SCHEMA
from .tenants import TENANTS_SCHEMA

# The tables every database has from the start; the other stores add theirs on first use.
# Earlier releases cached the ZOHO access token here; it now lives beside the secrets
# (FileTokenCache), so a leftover table (a cache only) is dropped rather than left at rest.
_SCHEMA = (
    TENANTS_SCHEMA
    + SESSIONS_SCHEMA
    + RECORD_QUEUE_SCHEMA
    + MAPPINGS_SCHEMA
    + "DROP TABLE IF EXISTS zoho_tokens;\n"
)

# SQLite's companion files: write-ahead log, shared-memory index, rollback journal.
_COMPANIONS = ("-wal", "-shm", "-journal")

DB_FILE = "relay.sqlite3"


def _close_all(conns: dict[threading.Thread, sqlite3.Connection], lock: threading.Lock) -> None:
    with lock:
        for conn in conns.values():
            conn.close()
        conns.clear()


class SqliteDatabase:
    """A database file shared by the SQLite adapters, one connection per thread.

    Connections are closed when their thread has ended (checked as new ones open), on
    :meth:`close`, and when the database object is collected.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        private_dir(self.path.parent)
        create_private_file(self.path)
        for suffix in _COMPANIONS:  # left by a crash of an earlier (looser) release
            tighten(self.path.with_name(self.path.name + suffix), FILE_MODE)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: dict[threading.Thread, sqlite3.Connection] = {}
        weakref.finalize(self, _close_all, self._conns, self._lock)
        conn = self.connection()
        conn.executescript(_SCHEMA)
        # Tables created by an earlier release get the columns added since.
        migrate_mappings(conn)

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> SqliteDatabase:
        """The relay's database inside a data directory."""
        return cls(Path(data_dir) / DB_FILE)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so that another thread may close it once this
            # one has ended; each connection is still used by its own thread alone.
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
            with self._lock:
                for thread in [t for t in self._conns if not t.is_alive()]:
                    self._conns.pop(thread).close()
                self._conns[threading.current_thread()] = conn
        return conn

    def close(self) -> None:
        """Close every thread's connection; the next use opens a new one."""
        _close_all(self._conns, self._lock)
        self._local = threading.local()

    def __enter__(self) -> SqliteDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locking) transaction, committed on success."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(keys.unavailable(f"SQLite store at {self.path}", str(exc))) from exc
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
