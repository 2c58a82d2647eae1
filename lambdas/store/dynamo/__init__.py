"""AWS adapters: DynamoDB for tenants, sessions, mappings, state and webhook event ids; SQS for
the record, dead-letter and QuickBooks Online change queues; Secrets Manager for secrets.

Items keep their payload as one JSON string attribute beside the key attributes, so the SQLite
twin stores exactly the same shape. Every AWS error reaches callers as a ``StoreError`` (or
``ConcurrentUpdate``), never as a botocore exception.

Each adapter is imported on first use (PEP 562): a Lambda function loads only the adapters it
wires, not the modules (and the qbXML library) behind every other one; see the cold-start rows
of ``make bench``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_MODULE_OF = {
    "DynamoApiKeyStore": "api_keys",
    "DynamoAuditResults": "audit_results",
    "DynamoForwarderState": "forwarder_state",
    "DynamoLoginThrottle": "throttle",
    "DynamoMappingStore": "mappings",
    "DynamoOAuthStateStore": "qbo",
    "DynamoQboConnectionStore": "qbo",
    "DynamoRealmLimitStore": "qbo",
    "DynamoRunHistory": "runs",
    "DynamoSeenEvents": "qbo_events",
    "DynamoSessionStore": "sessions",
    "DynamoSyncStateStore": "sync_state",
    "DynamoTenantStore": "tenants",
    "DynamoTokenCache": "tokens",
    "DynamoWriteBackStore": "writeback",
    "SecretsManagerSecretStore": "secrets",
    "SqsChangeQueue": "change_queue",
    "SqsDeadLetterQueue": "dead_letters",
    "SqsRecordQueue": "record_queue",
}

if TYPE_CHECKING:
    from .api_keys import DynamoApiKeyStore
    from .audit_results import DynamoAuditResults
    from .change_queue import SqsChangeQueue
    from .dead_letters import SqsDeadLetterQueue
    from .forwarder_state import DynamoForwarderState
    from .mappings import DynamoMappingStore
    from .qbo import DynamoOAuthStateStore, DynamoQboConnectionStore, DynamoRealmLimitStore
    from .qbo_events import DynamoSeenEvents
    from .record_queue import SqsRecordQueue
    from .runs import DynamoRunHistory
    from .secrets import SecretsManagerSecretStore
    from .sessions import DynamoSessionStore
    from .sync_state import DynamoSyncStateStore
    from .tenants import DynamoTenantStore
    from .throttle import DynamoLoginThrottle
    from .tokens import DynamoTokenCache
    from .writeback import DynamoWriteBackStore


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "DynamoApiKeyStore",
    "DynamoAuditResults",
    "DynamoForwarderState",
    "DynamoLoginThrottle",
    "DynamoMappingStore",
    "DynamoOAuthStateStore",
    "DynamoQboConnectionStore",
    "DynamoRealmLimitStore",
    "DynamoRunHistory",
    "DynamoSeenEvents",
    "DynamoSessionStore",
    "DynamoSyncStateStore",
    "DynamoTenantStore",
    "DynamoTokenCache",
    "DynamoWriteBackStore",
    "SecretsManagerSecretStore",
    "SqsChangeQueue",
    "SqsDeadLetterQueue",
    "SqsRecordQueue",
]
