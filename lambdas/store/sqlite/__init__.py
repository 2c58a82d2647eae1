"""SQLite adapters: the embedded default store of the local process.

One database file in the data directory holds every table (see :mod:`.database`).
"""

from .database import DB_FILE, SqliteDatabase
from .dead_letters import SqliteDeadLetterQueue
from .forwarder_state import SqliteForwarderState
from .mappings import SqliteMappingStore
from .qbo import SqliteOAuthStateStore, SqliteQboConnectionStore, SqliteRealmLimitStore
from .record_queue import SqliteRecordQueue
from .runs import SqliteRunHistory
from .sessions import SqliteSessionStore
from .sync_state import SqliteSyncStateStore
from .tenants import SqliteTenantStore
from .throttle import SqliteLoginThrottle

__all__ = [
    "DB_FILE",
    "SqliteDatabase",
    "SqliteDeadLetterQueue",
    "SqliteForwarderState",
    "SqliteLoginThrottle",
    "SqliteMappingStore",
    "SqliteOAuthStateStore",
    "SqliteQboConnectionStore",
    "SqliteRealmLimitStore",
    "SqliteRecordQueue",
    "SqliteRunHistory",
    "SqliteSessionStore",
    "SqliteSyncStateStore",
    "SqliteTenantStore",
]
