"""AWS adapters: DynamoDB for tenants, sessions, mappings, state and webhook event ids; SQS for
the record, dead-letter and QuickBooks Online change queues; Secrets Manager for secrets.

Items keep their payload as one JSON string attribute beside the key attributes, so the SQLite
twin stores exactly the same shape. Every AWS error reaches callers as a ``StoreError`` (or
``ConcurrentUpdate``), never as a botocore exception.
"""

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
    "SecretsManagerSecretStore",
    "SqsChangeQueue",
    "SqsDeadLetterQueue",
    "SqsRecordQueue",
]
