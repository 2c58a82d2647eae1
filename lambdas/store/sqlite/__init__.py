"""SQLite adapters: the embedded default store of the local process.

One database file in the data directory holds every table (see :mod:`.database`).
"""

from .api_keys import SqliteApiKeyStore
from .audit_results import SqliteAuditResults
from .change_queue import SqliteChangeQueue
from .database import DB_FILE, SqliteDatabase
from .dead_letters import SqliteDeadLetterQueue
from .forwarder_state import SqliteForwarderState
from .mappings import SqliteMappingStore
from .qbo import SqliteOAuthStateStore, SqliteQboConnectionStore, SqliteRealmLimitStore
from .qbo_events import SqliteSeenEvents
from .record_queue import SqliteRecordQueue
from .runs import SqliteRunHistory
from .sessions import SqliteSessionStore
from .sync_state import SqliteSyncStateStore
from .tenants import SqliteTenantStore
from .throttle import SqliteLoginThrottle
from .writeback import SqliteWriteBackStore

__all__ = [
    "DB_FILE",
    "SqliteApiKeyStore",
    "SqliteAuditResults",
    "SqliteChangeQueue",
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
    "SqliteSeenEvents",
    "SqliteSessionStore",
    "SqliteSyncStateStore",
    "SqliteTenantStore",
    "SqliteWriteBackStore",
]
