"""Ports: the storage and queue interfaces the core depends on.

Each has an SQLite adapter (the embedded default) and an AWS adapter (DynamoDB / SQS); one
contract suite in tests/integration/test_store_contract.py runs against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class StoreError(RuntimeError):
    """A store or queue operation failed; the message says what and is safe to show."""


class AlreadyExists(StoreError):
    """A create met an existing key (tenant name or Web Connector user)."""


class ConcurrentUpdate(StoreError):
    """A conditional save lost a race: somebody saved the same item first."""


@dataclass(slots=True)
class Tenant:
    """One QuickBooks company synced for one customer: a QBWC user and its settings."""

    name: str
    qbwc_user: str
    password_hash: str
    company_file: str = ""
    enabled_entities: tuple[str, ...] = ("Customer",)
    min_interval_seconds: int = 0
    created_at: float = 0.0
    last_sync_at: float | None = None
    # The braced GUID in the tenant's .qwc file, which QBWC stamps into the company file. It is
    # written once (by create or ensure_file_id) and never changed by update.
    file_id: str = ""
    # The closeConnection summary of the last session, for the support page.
    last_summary: str = ""

    def to_item(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "qbwc_user": self.qbwc_user,
            "password_hash": self.password_hash,
            "company_file": self.company_file,
            "enabled_entities": list(self.enabled_entities),
            "min_interval_seconds": self.min_interval_seconds,
            "created_at": self.created_at,
            "last_sync_at": self.last_sync_at,
            "file_id": self.file_id,
            "last_summary": self.last_summary,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Tenant:
        return cls(
            name=item["name"],
            qbwc_user=item["qbwc_user"],
            password_hash=item["password_hash"],
            company_file=item.get("company_file") or "",
            enabled_entities=tuple(item.get("enabled_entities") or ()),
            min_interval_seconds=int(item.get("min_interval_seconds") or 0),
            created_at=float(item.get("created_at") or 0.0),
            last_sync_at=(
                float(item["last_sync_at"]) if item.get("last_sync_at") is not None else None
            ),
            file_id=item.get("file_id") or "",
            last_summary=item.get("last_summary") or "",
        )


class TenantStore(Protocol):
    """Tenants by name, and by Web Connector user name (unique across tenants)."""

    def create(self, tenant: Tenant) -> None:
        """Add a tenant; AlreadyExists if the name or the QBWC user is taken."""

    def get(self, name: str) -> Tenant | None: ...

    def find_by_user(self, qbwc_user: str) -> Tenant | None: ...

    def list(self) -> list[Tenant]: ...

    def update(self, tenant: Tenant) -> None:
        """Replace an existing tenant's settings (name and user stay).

        The stored ``file_id`` is kept, whatever ``tenant.file_id`` holds; ``tenant.file_id`` is
        set to it.
        """

    def delete(self, name: str) -> bool: ...

    def find_by_file_id(self, file_id: str) -> Tenant | None:
        """The tenant whose .qwc FileID (braced GUID, any case) this is."""

    def ensure_file_id(self, name: str) -> str:
        """The tenant's FileID, created once if the tenant has none (conditional write).

        Concurrent callers all get the same value. StoreError if there is no such tenant.
        """

    def deployment_owner_id(self) -> str:
        """The deployment's QBWC OwnerID (braced GUID), created once (conditional write)."""


@dataclass(slots=True)
class SessionRecord:
    """A Web Connector session as stored: keys, lease and the protocol layer's opaque state."""

    ticket: str
    tenant: str
    expires_at: float
    version: int = 0
    closed: bool = False
    state: dict[str, Any] = field(default_factory=dict)


class SessionStore(Protocol):
    """Sessions by ticket, with at most one live session per tenant."""

    def create(self, session: SessionRecord, now: float) -> bool:
        """Store a new session; False (nothing written) if the tenant has a live one."""

    def get(self, ticket: str, now: float) -> SessionRecord | None:
        """The session, or None when unknown or expired."""

    def save(self, session: SessionRecord) -> None:
        """Write the session if its stored version is still ``session.version``, then bump it.

        Raises ConcurrentUpdate otherwise.
        """

    def close(self, session: SessionRecord) -> None:
        """Mark the session closed and free its tenant for a new session."""


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """One record for the forwarder. ``dedup_id`` identifies the record version."""

    tenant: str
    body: str
    dedup_id: str


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A message taken from the queue; delete it with its ``receipt`` once handled."""

    message: QueueMessage
    receipt: str


class RecordQueue(Protocol):
    """The durable hand-off between the relay and the forwarder."""

    def send(self, messages: Sequence[QueueMessage]) -> None:
        """Durably enqueue every message or raise StoreError (some may then be enqueued)."""

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]: ...

    def delete(self, receipts: Sequence[str]) -> None: ...
