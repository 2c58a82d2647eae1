"""Ports: the storage and queue interfaces the core depends on.

Each has an SQLite adapter (the embedded default) and an AWS adapter (DynamoDB / SQS); one
contract suite in tests/integration/test_store_contract.py runs against both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .keys import mapping_key


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
    # Until when the session keeps its tenant busy; None: as long as it lives. Shorter than the
    # session's life, so an update abandoned by the Web Connector does not block the next one.
    lock_expires_at: float | None = None

    @property
    def lease_until(self) -> float:
        """When the tenant's lock held by this session runs out."""
        return self.expires_at if self.lock_expires_at is None else self.lock_expires_at


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


@dataclass(slots=True)
class EntitySyncState:
    """What the sync engine keeps per tenant and entity between sessions.

    ``watermark`` is the largest ``TimeModified`` QuickBooks itself returned for the entity, as
    the workstation's wall-clock time without offset (QuickBooks reports wrong offsets around
    daylight-saving changes, and reads zone-less dates as its own local time). It only moves once
    a session has read the entity's whole iterator.
    """

    tenant: str
    entity: str
    watermark: str | None = None
    page_size: int | None = None
    bytes_per_record: float | None = None
    last_success_at: float | None = None

    def to_item(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "entity": self.entity,
            "watermark": self.watermark,
            "page_size": self.page_size,
            "bytes_per_record": self.bytes_per_record,
            "last_success_at": self.last_success_at,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> EntitySyncState:
        return cls(
            tenant=item["tenant"],
            entity=item["entity"],
            watermark=item.get("watermark"),
            page_size=int(item["page_size"]) if item.get("page_size") is not None else None,
            bytes_per_record=(
                float(item["bytes_per_record"])
                if item.get("bytes_per_record") is not None
                else None
            ),
            last_success_at=(
                float(item["last_success_at"]) if item.get("last_success_at") is not None else None
            ),
        )


class SyncStateStore(Protocol):
    """Per-tenant, per-entity sync state (watermarks and page sizes)."""

    def get_all(self, tenant: str) -> dict[str, EntitySyncState]:
        """Every entity's state of the tenant, keyed by entity."""

    def put(self, state: EntitySyncState) -> None:
        """Create or replace one entity's state."""

    def delete_tenant(self, tenant: str) -> None:
        """Forget the tenant's sync state (the next session is a full sync)."""


@dataclass(slots=True)
class EntityRunCounts:
    """One entity's figures within one session."""

    received: int = 0
    queued: int = 0
    unchanged: int = 0
    errors: int = 0


@dataclass(slots=True)
class RunRecord:
    """One Web Connector session as it ended: the run history row."""

    tenant: str
    ticket: str
    started_at: float
    ended_at: float
    status: str  # completed | partial | failed
    exchanges: int = 0
    errors: int = 0
    summary: str = ""
    last_error: str = ""
    entities: dict[str, EntityRunCounts] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return max(0.0, self.ended_at - self.started_at)

    def to_item(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "ticket": self.ticket,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "exchanges": self.exchanges,
            "errors": self.errors,
            "summary": self.summary,
            "last_error": self.last_error,
            "entities": {
                name: {
                    "received": c.received,
                    "queued": c.queued,
                    "unchanged": c.unchanged,
                    "errors": c.errors,
                }
                for name, c in self.entities.items()
            },
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RunRecord:
        return cls(
            tenant=item["tenant"],
            ticket=item["ticket"],
            started_at=float(item["started_at"]),
            ended_at=float(item["ended_at"]),
            status=item["status"],
            exchanges=int(item.get("exchanges") or 0),
            errors=int(item.get("errors") or 0),
            summary=item.get("summary") or "",
            last_error=item.get("last_error") or "",
            entities={
                name: EntityRunCounts(**{k: int(v) for k, v in counts.items()})
                for name, counts in (item.get("entities") or {}).items()
            },
        )


class RunHistory(Protocol):
    """One row per Web Connector session, newest first per tenant."""

    def add(self, run: RunRecord) -> None:
        """Record a finished session (idempotent per tenant and ticket)."""

    def recent(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        """The tenant's latest runs, newest first."""


MAPPING_STATUSES = ("queued", "synced", "failed", "deleted")


@dataclass(slots=True)
class Mapping:
    """Where one source record landed in ZOHO CRM, and the version and content last applied.

    ``version`` is the record's EditSequence (or TimeModified when it has none) as last applied;
    ``content_hash`` is the sha256 of its canonical JSON, so an unchanged record is not re-sent.
    """

    tenant: str
    source: str
    entity: str
    source_id: str
    content_hash: str = ""
    zoho_module: str = ""
    zoho_id: str | None = None
    status: str = "queued"  # queued | synced | failed | deleted
    last_error: str | None = None
    version: str = ""
    updated_at: float = 0.0

    @property
    def key(self) -> str:
        """The store key: ``tenant#source#entity#source_id``."""
        return mapping_key(self.tenant, self.source, self.entity, self.source_id)

    def to_item(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "source": self.source,
            "entity": self.entity,
            "source_id": self.source_id,
            "content_hash": self.content_hash,
            "zoho_module": self.zoho_module,
            "zoho_id": self.zoho_id,
            "status": self.status,
            "last_error": self.last_error,
            "version": self.version,
            "updated_at": self.updated_at,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Mapping:
        return cls(
            tenant=item["tenant"],
            source=item["source"],
            entity=item["entity"],
            source_id=item["source_id"],
            content_hash=item.get("content_hash") or "",
            zoho_module=item.get("zoho_module") or "",
            zoho_id=item.get("zoho_id"),
            status=item.get("status") or "queued",
            last_error=item.get("last_error"),
            version=item.get("version") or "",
            updated_at=float(item.get("updated_at") or 0.0),
        )


def check_mapping_statuses(mappings: Sequence[Mapping]) -> None:
    """Raise StoreError for a mapping whose status is not one of MAPPING_STATUSES."""
    for m in mappings:
        if m.status not in MAPPING_STATUSES:
            raise StoreError(
                f"mapping {m.key}: status {m.status!r} is not one of {', '.join(MAPPING_STATUSES)}"
            )


class MappingStore(Protocol):
    """Source record -> ZOHO record, per tenant; the forwarder's and sync engine's memory."""

    def get(self, tenant: str, source: str, entity: str, source_id: str) -> Mapping | None: ...

    def get_many(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> dict[str, Mapping]:
        """The stored mappings among ``source_ids``, keyed by source id (missing ones absent)."""

    def put(self, mapping: Mapping) -> None:
        """Create or replace one mapping."""

    def put_many(self, mappings: Sequence[Mapping]) -> None:
        """Create or replace many mappings (the last wins when one key repeats)."""

    def find_by_zoho_id(self, tenant: str, zoho_module: str, zoho_id: str) -> Mapping | None:
        """The mapping whose ZOHO record is ``zoho_module``/``zoho_id``, if any."""

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Mapping]:
        """Up to ``limit`` of the tenant's mappings (with ``status`` if given), in key order."""


@dataclass(slots=True)
class ZohoToken:
    """A ZOHO access token as cached in the shared store, plus the refresh throttle's block.

    ``blocked_until`` is set when ZOHO's accounts server throttled a refresh: until then nobody
    asks again (each further ask extends ZOHO's block).
    """

    access_token: str = ""
    api_domain: str = ""
    expires_at: float = 0.0
    blocked_until: float = 0.0

    def usable(self, now: float, margin: float = 60.0) -> bool:
        """True while the token has more than ``margin`` seconds to live."""
        return bool(self.access_token) and self.expires_at - margin > now


class TokenCache(Protocol):
    """Per-tenant ZOHO access token shared by every process, with a refresh lease.

    Whoever holds the lease is the only one refreshing; the others wait for the token it saves.
    """

    def load(self, tenant: str) -> ZohoToken | None: ...

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        """Take the refresh lease if nobody holds an unexpired one (or ``holder`` does)."""

    def save(self, tenant: str, holder: str, token: ZohoToken) -> None:
        """Store the token and release ``holder``'s lease (if it still holds it)."""

    def release(self, tenant: str, holder: str) -> None:
        """Give the lease back without a new token (the refresh failed)."""


@dataclass(frozen=True, slots=True)
class Pause:
    """A tenant's forwarding is paused until ``until`` (epoch seconds) for ``reason``."""

    until: float
    reason: str


class ForwarderState(Protocol):
    """Per-tenant settings and pauses of the ZOHO forwarder, shared by every process."""

    def pause(self, tenant: str, until: float, reason: str) -> None:
        """Pause the tenant's forwarding until ``until`` (extends, never shortens, a pause)."""

    def paused(self, tenant: str, now: float) -> Pause | None:
        """The tenant's pause, if one lasts beyond ``now``."""

    def resume(self, tenant: str) -> None: ...

    def get_mapping(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's mapping override (a mapping file's JSON), if any."""

    def put_mapping(self, tenant: str, mapping: dict[str, Any] | None) -> None:
        """Store (or with None, remove) the tenant's mapping override."""


class SecretStore(Protocol):
    """JSON secrets by name (e.g. ``zoho/<tenant>``); values never reach logs."""

    def get(self, name: str) -> dict[str, Any] | None: ...

    def put(self, name: str, value: dict[str, Any]) -> None: ...

    def delete(self, name: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record message the forwarder gave up on, with why (ZOHO's code and message)."""

    tenant: str
    body: str
    reason: str


class DeadLetterQueue(Protocol):
    """Where parked records go for an operator to inspect and replay."""

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Durably park every letter or raise StoreError."""
