"""Ports: the storage and queue interfaces the core depends on.

Each has an SQLite adapter (the embedded default) and an AWS adapter (DynamoDB / SQS); one
contract suite in tests/integration/test_store_contract.py runs against both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from .keys import mapping_key


class StoreError(RuntimeError):
    """A store or queue operation failed; the message says what and is safe to show."""


class AlreadyExists(StoreError):
    """A create met an existing key (tenant name or Web Connector user)."""


class ConcurrentUpdate(StoreError):
    """A conditional save lost a race: somebody saved the same item first."""


# How far before its watermark an incremental query starts unless the tenant says otherwise.
DEFAULT_WATERMARK_MARGIN_SECONDS = 2 * 3600
# A live tenant's Web Connector interval (RunEveryNSeconds) unless set otherwise.
DEFAULT_LIVE_INTERVAL_SECONDS = 60
# How often a live tenant's probes sweep (the watermark margin, deletions) unless set otherwise:
# the ordinary schedule's 15 minutes, so live mode never sees less than a scheduled tenant.
DEFAULT_LIVE_SWEEP_SECONDS = 15 * 60


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
    # How far before the watermark incremental queries start (lambdas/sync/watermarks.py): more
    # than the default for multi-user files edited on workstations in different time zones.
    watermark_margin_seconds: int = DEFAULT_WATERMARK_MARGIN_SECONDS
    # IANA zone of the company (e.g. America/Chicago): "today" for overdue invoices; "" is UTC.
    time_zone: str = ""
    # The Web Connector version last seen authenticating as this tenant, and when (display
    # only: see QbwcRelay.client_version for how it is learnt and why it cannot be trusted).
    qbwc_version: str = ""
    qbwc_seen_at: float | None = None
    # When the Web Connector last authenticated as this tenant (relay-owned, like the summary).
    last_seen_at: float | None = None
    # Paused by an operator (qbrelay pause): authenticate answers "none" and the QuickBooks
    # Online sync skips the tenant; records already queued still reach ZOHO. A CLI setting.
    paused: bool = False
    paused_reason: str = ""
    paused_at: float | None = None
    # Write-back (lambdas/writeback/): ZOHO accounts and won deals become QuickBooks customers
    # and invoices. Changes made in ZOHO from ``writeback_since`` on are captured (set when it
    # is enabled, so an existing CRM is not copied into the books by surprise). CLI settings.
    writeback: bool = False
    writeback_since: float | None = None
    conflict_policy: str = "qb_wins"  # lambdas/writeback/model.py POLICIES
    won_stage: str = "Closed Won"  # the Deal stage that makes an invoice
    invoice_item: str = ""  # QuickBooks item of the one line of a deal without products
    # Live mode (lambdas/qbwc/live.py): the .qwc asks for a run every ``live_interval_seconds``,
    # authenticate answers "none" when nothing is due, a finished session waits with "NoOp"
    # for write-back work, and incremental reads start with cheap change probes. CLI settings.
    live: bool = False
    live_interval_seconds: int = DEFAULT_LIVE_INTERVAL_SECONDS
    # Between sweeps a live round asks only for changes after the watermarks (lambdas/sync/
    # gate.py); a sweep is a whole probe round, margin and deletions included.
    live_sweep_seconds: int = DEFAULT_LIVE_SWEEP_SECONDS
    # When people work in the company file, in ``time_zone`` (lambdas/sync/hours.py), e.g.
    # "Mon-Fri 08:00-18:00": smaller pages and no full reads then. "" = no such hours.
    business_hours: str = ""

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
            "watermark_margin_seconds": self.watermark_margin_seconds,
            "time_zone": self.time_zone,
            "qbwc_version": self.qbwc_version,
            "qbwc_seen_at": self.qbwc_seen_at,
            "last_seen_at": self.last_seen_at,
            "paused": self.paused,
            "paused_reason": self.paused_reason,
            "paused_at": self.paused_at,
            "writeback": self.writeback,
            "writeback_since": self.writeback_since,
            "conflict_policy": self.conflict_policy,
            "won_stage": self.won_stage,
            "invoice_item": self.invoice_item,
            "live": self.live,
            "live_interval_seconds": self.live_interval_seconds,
            "live_sweep_seconds": self.live_sweep_seconds,
            "business_hours": self.business_hours,
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
            # Rows stored before the setting existed get the default (0 is a valid margin).
            watermark_margin_seconds=(
                int(item["watermark_margin_seconds"])
                if item.get("watermark_margin_seconds") is not None
                else DEFAULT_WATERMARK_MARGIN_SECONDS
            ),
            time_zone=item.get("time_zone") or "",
            qbwc_version=item.get("qbwc_version") or "",
            qbwc_seen_at=(
                float(item["qbwc_seen_at"]) if item.get("qbwc_seen_at") is not None else None
            ),
            last_seen_at=(
                float(item["last_seen_at"]) if item.get("last_seen_at") is not None else None
            ),
            paused=bool(item.get("paused")),
            paused_reason=item.get("paused_reason") or "",
            paused_at=float(item["paused_at"]) if item.get("paused_at") is not None else None,
            writeback=bool(item.get("writeback")),
            writeback_since=(
                float(item["writeback_since"]) if item.get("writeback_since") is not None else None
            ),
            conflict_policy=item.get("conflict_policy") or "qb_wins",
            won_stage=item.get("won_stage") or "Closed Won",
            invoice_item=item.get("invoice_item") or "",
            live=bool(item.get("live")),
            live_interval_seconds=int(
                item.get("live_interval_seconds") or DEFAULT_LIVE_INTERVAL_SECONDS
            ),
            live_sweep_seconds=int(item.get("live_sweep_seconds") or DEFAULT_LIVE_SWEEP_SECONDS),
            business_hours=item.get("business_hours") or "",
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

    def record_session(self, name: str, summary: str, synced_at: float | None) -> None:
        """The relay's facts of the tenant's last session: its summary and, when it completed,
        when. Only these attributes are written (the settings stay as the CLI left them);
        StoreError if there is no such tenant."""

    def record_client(self, name: str, qbwc_version: str, at: float) -> None:
        """The Web Connector version seen authenticating as the tenant, and when: a relay-owned
        attribute like ``record_session``'s (the settings stay); StoreError if no such tenant."""

    def record_seen(self, name: str, at: float) -> None:
        """When the Web Connector last authenticated as the tenant: a relay-owned attribute
        like ``record_session``'s (the settings stay); StoreError if there is no such tenant."""

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

    def lock_until(self, tenant: str, now: float) -> float | None:
        """Until when a live session keeps the tenant busy; None when the tenant is free."""

    def note_client(self, address: str, qbwc_version: str, now: float, expires_at: float) -> None:
        """Remember the Web Connector version ``address`` announced, until ``expires_at``.

        One entry per address (a new note replaces the old); expired ones are dropped.
        """

    def client_note(self, address: str, now: float) -> str | None:
        """The version noted for ``address``, unless it has expired by ``now``."""

    def end_sessions(self, tenant: str, now: float) -> int:
        """Close every live session of the tenant and free the tenant; how many were closed.

        For a password change or a removal: a ticket issued under the old password must stop
        working at once, not when it expires. A closed session's next call finds no session.
        """


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """When failed logins block a key (a user or a source address), and for how long.

    ``max_failures`` failures within ``window_seconds`` block the key for
    ``base_block_seconds``, doubling with every further block up to ``max_block_seconds``. A key
    quiet for ``memory_seconds`` (no failure, no block) starts over.
    """

    max_failures: int = 5
    window_seconds: float = 900.0
    base_block_seconds: float = 30.0
    max_block_seconds: float = 900.0
    memory_seconds: float = 86400.0

    def block_seconds(self, strikes: int) -> float:
        """How long the block after ``strikes`` earlier blocks lasts."""
        # Capped exponent: 2**strikes must not overflow for a key blocked for months.
        return min(self.base_block_seconds * 2 ** min(strikes, 32), self.max_block_seconds)


class LoginThrottle(Protocol):
    """Failed-login counters per key, shared by every process (and Lambda instance).

    Keys are built by :mod:`lambdas.store.keys` (``auth_user`` / ``auth_address``). Counting is
    atomic per key, so concurrent guesses cannot slip past the limit between a read and a write.
    """

    def blocked(self, keys: Sequence[str], now: float) -> float | None:
        """Until when the most blocked of ``keys`` is blocked; None if none is."""

    def fail(self, keys: Sequence[str], now: float, policy: ThrottlePolicy) -> float | None:
        """Count a failure against each key not blocked now; the latest block this started."""

    def succeed(self, key: str) -> None:
        """Forget the key's failures and blocks (a correct password for that user)."""


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """One record for the forwarder. ``dedup_id`` identifies the record version."""

    tenant: str
    body: str
    dedup_id: str


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A message taken from the queue; delete it with its ``receipt`` once handled.

    ``deliveries`` counts how often the queue has handed this message out (this time included),
    as SQS's ApproximateReceiveCount does.
    """

    message: QueueMessage
    receipt: str
    deliveries: int = 1


class RecordQueue(Protocol):
    """The durable hand-off between the relay and the forwarder."""

    def send(self, messages: Sequence[QueueMessage]) -> None:
        """Durably enqueue every message or raise StoreError (some may then be enqueued)."""

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]: ...

    def delete(self, receipts: Sequence[str]) -> None: ...


# Hand-offs are counted per tenant and clock hour; the window is the current hour and the
# ones before it, so it spans between 23 and 24 hours of history.
WINDOW_HOURS = 24


def window_hour(at: float) -> int:
    """The clock hour (hours since the epoch) that time ``at`` falls in."""
    return int(at // 3600)


@dataclass(frozen=True, slots=True)
class HandoffWindow:
    """Records and deletions handed off for one tenant in the last ``WINDOW_HOURS`` hours."""

    records: int = 0
    deletions: int = 0


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
    # Why this company file cannot answer the entity's query (QuickBooks Pro has no sales orders,
    # estimates switched off, a 3250 answer), and since when; None while it can. Sessions skip
    # such an entity; see SyncEngine.consider_hcp for what brings it back.
    unsupported: str | None = None
    unsupported_at: float | None = None
    # When a session last moved the watermark (relay time): equal to ``last_success_at`` when
    # the latest read found a change, so a live round asks that second again (sync/gate.py).
    changed_at: float | None = None
    # When a sweep (not a narrow live round, sync/gate.py) last read the entity to the end;
    # None in rows written before: ``last_success_at`` stands for it then.
    swept_at: float | None = None

    def to_item(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "entity": self.entity,
            "watermark": self.watermark,
            "page_size": self.page_size,
            "bytes_per_record": self.bytes_per_record,
            "last_success_at": self.last_success_at,
            "unsupported": self.unsupported,
            "unsupported_at": self.unsupported_at,
            "changed_at": self.changed_at,
            "swept_at": self.swept_at,
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
            unsupported=item.get("unsupported") or None,
            unsupported_at=(
                float(item["unsupported_at"]) if item.get("unsupported_at") is not None else None
            ),
            changed_at=float(item["changed_at"]) if item.get("changed_at") is not None else None,
            swept_at=float(item["swept_at"]) if item.get("swept_at") is not None else None,
        )


class SyncStateStore(Protocol):
    """Per-tenant, per-entity sync state (watermarks and page sizes)."""

    def get_all(self, tenant: str) -> dict[str, EntitySyncState]:
        """Every entity's state of the tenant, keyed by entity."""

    def put(self, state: EntitySyncState) -> None:
        """Create or replace one entity's state."""

    def delete_tenant(self, tenant: str) -> None:
        """Forget the tenant's sync state and re-read requests (the next session is a full sync).

        Idempotent: deleting what is gone already is no error.
        """

    def reset(self, tenant: str, entities: Sequence[str]) -> None:
        """Forget the watermarks of these entities, so the next session reads them whole.

        Page sizes, size estimates and unsupported notes stay; other entities are not touched
        (nor rewritten). An entity without stored state needs no reset and is skipped.
        """

    def request_refetch(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> None:
        """Ask the next session to read these records again from QuickBooks.

        Anyone may ask (the forwarder after a conflict, the audit, the relay for a payment's
        invoices); only the relay clears. Adding is atomic and never drops another's request.
        """

    def pending_refetch(self, tenant: str, source: str) -> dict[str, list[str]]:
        """The requested re-reads of the tenant, by entity (sorted ids)."""

    def clear_refetch(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> None:
        """Drop these requests (the relay read the records); others' new ids stay."""

    def count_handoffs(self, tenant: str, at: float, records: int, deletions: int) -> None:
        """Add to the tenant's hand-off counters of the hour ``at`` falls in.

        Atomic: concurrent adds are never lost. Hours older than the window are forgotten.
        """

    def handoff_window(self, tenant: str, at: float) -> HandoffWindow:
        """The tenant's hand-offs in the window ending with the hour ``at`` falls in."""


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
    # Problems that did not stop the session: QuickBooks warnings, a workstation clock ahead.
    warnings: list[str] = field(default_factory=list)
    # The catalogue code of ``last_error`` (lambdas/model/error_catalogue.py); "" for none or
    # for rows stored before codes existed (lambdas.model.errors.classify_text reads those).
    error_code: str = ""

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
            "warnings": list(self.warnings),
            "error_code": self.error_code,
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
            warnings=[str(w) for w in item.get("warnings") or []],
            error_code=item.get("error_code") or "",
        )


class RunHistory(Protocol):
    """One row per Web Connector session, newest first per tenant."""

    def add(self, run: RunRecord) -> None:
        """Record a finished session (idempotent per tenant and ticket)."""

    def recent(self, tenant: str, limit: int = 20) -> list[RunRecord]:
        """The tenant's latest runs, newest first."""

    def count(self, tenant: str) -> int:
        """How many runs of the tenant are recorded."""

    def delete_tenant(self, tenant: str) -> int:
        """Remove every run of the tenant; how many were removed (idempotent)."""


class DeliveryStatus(StrEnum):
    """What the forwarder last did with a record (its own attribute of the mapping)."""

    SYNCED = "synced"  # ZOHO holds ``applied_hash``
    PARKED = "parked"  # refused or given up on: visible in ``qbrelay failures``, re-driven
    IGNORED = "ignored"  # the tenant's mapping leaves the entity out
    DELETED = "deleted"  # deleted in QuickBooks, and the deletion applied
    CONFLICT = "conflict"  # a concurrent write may have left ZOHO older; a re-read is due


@dataclass(slots=True)
class Mapping:
    """What is known about one source record, by the two components that know it.

    The relay owns the *handed off* attributes (``handed_*``, ``links``): what it put on the
    queue last. The forwarder owns the *applied* attributes (ZOHO id, ``applied_*``, status,
    last error, outcome time) and the claim that orders its writes. Each writes only its own
    attributes; no component ever replaces a whole row.
    """

    tenant: str
    source: str
    entity: str
    source_id: str
    # handed off (relay)
    handed_hash: str = ""
    handed_version: str = ""
    handed_at: float | None = None
    links: tuple[str, ...] = ()  # ids of records this one changes (a payment's invoices)
    # applied (forwarder)
    zoho_module: str = ""
    zoho_id: str | None = None
    applied_hash: str = ""
    applied_version: str = ""
    status: str = ""  # a DeliveryStatus, "" before any outcome
    last_error: str | None = None
    outcome_at: float | None = None
    claimed_order: float | None = None
    claimed_read: float | None = None  # when the relay read the claimed content
    # The write-back fields' values the forwarder last wrote to this record's ZOHO record
    # (lambdas/writeback/zoho_fields.py ``kept_values``): the capture tells its echo by them.
    applied_fields: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The store key: ``tenant#source#entity#source_id``."""
        return mapping_key(self.tenant, self.source, self.entity, self.source_id)

    def in_flight(self, content_hash: str, now: float, horizon: float) -> bool:
        """True while this content was handed off under ``horizon`` s ago, no outcome since."""
        if self.handed_hash != content_hash or self.handed_at is None:
            return False
        if now - self.handed_at >= horizon:
            return False
        return self.outcome_at is None or self.outcome_at < self.handed_at

    def to_item(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "source": self.source,
            "entity": self.entity,
            "source_id": self.source_id,
            "handed_hash": self.handed_hash,
            "handed_version": self.handed_version,
            "handed_at": self.handed_at,
            "links": list(self.links),
            "zoho_module": self.zoho_module,
            "zoho_id": self.zoho_id,
            "applied_hash": self.applied_hash,
            "applied_version": self.applied_version,
            "status": self.status,
            "last_error": self.last_error,
            "outcome_at": self.outcome_at,
            "claimed_order": self.claimed_order,
            "claimed_read": self.claimed_read,
            "applied_fields": dict(self.applied_fields),
        }


@dataclass(frozen=True, slots=True)
class Handoff:
    """The relay put this content of a record on the queue at ``at``."""

    tenant: str
    source: str
    entity: str
    source_id: str
    content_hash: str
    version: str
    at: float
    links: tuple[str, ...] | None = None  # None: leave the stored links as they are

    @property
    def key(self) -> str:
        return mapping_key(self.tenant, self.source, self.entity, self.source_id)


@dataclass(frozen=True, slots=True)
class Claim:
    """The forwarder reserves ``version`` of a record before writing it to ZOHO.

    A claim succeeds unless a newer version is claimed already (or the same version read
    later: ``read_at`` orders reads of one version, whose content can differ when QuickBooks
    changes a balance without a new EditSequence) or the record was deleted; the ``token`` then
    names the claimer, and only its outcome write may record the ZOHO write.
    """

    tenant: str
    source: str
    entity: str
    source_id: str
    version: str
    token: str
    read_at: float = 0.0

    @property
    def key(self) -> str:
        return mapping_key(self.tenant, self.source, self.entity, self.source_id)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What the forwarder did with one version of a record, as it writes it to the mapping.

    Conditions (both adapters): ``SYNCED`` only while the record's claim token is still
    ``token``; ``PARKED`` / ``IGNORED`` only while no newer version is claimed and the record is
    not deleted; ``DELETED`` always; ``CONFLICT`` (clears the applied hash, takes a new token so
    every writer still in flight loses; sets the ZOHO id when it names one: a linked record's)
    unless the record is deleted. A failed condition is ``ConcurrentUpdate``. ``SYNCED`` writes
    ``applied_fields`` as given (the values written to the ZOHO record; {} when none are kept).
    """

    tenant: str
    source: str
    entity: str
    source_id: str
    status: DeliveryStatus
    version: str
    at: float
    content_hash: str = ""
    zoho_module: str = ""
    zoho_id: str | None = None
    last_error: str | None = None
    token: str = ""
    applied_fields: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return mapping_key(self.tenant, self.source, self.entity, self.source_id)


class MappingStore(Protocol):
    """Source record -> what was handed off and what ZOHO holds, per tenant."""

    def get(self, tenant: str, source: str, entity: str, source_id: str) -> Mapping | None: ...

    def get_many(
        self, tenant: str, source: str, entity: str, source_ids: Sequence[str]
    ) -> dict[str, Mapping]:
        """The stored mappings among ``source_ids``, keyed by source id (missing ones absent)."""

    def record_handoffs(self, handoffs: Sequence[Handoff]) -> None:
        """Write the relay's attributes of each record (creating rows as needed)."""

    def claim(self, claim: Claim) -> None:
        """Reserve a version for a ZOHO write; ConcurrentUpdate when a newer one holds it."""

    def claim_many(self, claims: Sequence[Claim]) -> set[str]:
        """``claim`` for each; the keys that lost (the rest are claimed)."""

    def record_outcome(self, outcome: DeliveryOutcome) -> None:
        """Write the forwarder's attributes under the outcome's condition (ConcurrentUpdate)."""

    def record_outcomes(self, outcomes: Sequence[DeliveryOutcome]) -> list[DeliveryOutcome]:
        """``record_outcome`` for each; the outcomes whose condition failed."""

    def find_by_zoho_id(self, tenant: str, zoho_module: str, zoho_id: str) -> Mapping | None:
        """The mapping whose ZOHO record is ``zoho_module``/``zoho_id``, if any."""

    def list(self, tenant: str, status: str | None = None, limit: int = 100) -> list[Mapping]:
        """Up to ``limit`` of the tenant's mappings (with ``status`` if given), in key order."""

    def scan(self, tenant: str) -> Iterator[Mapping]:
        """Every mapping of the tenant, in key order, read page by page (for the audit)."""

    def delete_tenant(self, tenant: str) -> int:
        """Remove every mapping of the tenant; how many were removed."""

    def count(self, tenant: str) -> int:
        """How many mappings the tenant has (any status)."""


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

    def delete_tenant(self, tenant: str) -> None:
        """Forget the tenant's cached token, refresh block and lease (idempotent)."""


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

    def delete_tenant(self, tenant: str) -> None:
        """Forget the tenant's pause and mapping override (idempotent)."""


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
    parked_at: float = 0.0


@dataclass(frozen=True, slots=True)
class HeldLetter:
    """A dead letter taken out for a look or a re-drive; ``receipt`` removes or releases it."""

    letter: DeadLetter
    receipt: str


class DeadLetterQueue(Protocol):
    """Where parked records go for an operator to inspect and replay."""

    def send(self, letters: Sequence[DeadLetter]) -> None:
        """Durably park every letter or raise StoreError."""

    def hold(self, limit: int = 100, seconds: float = 60.0) -> list[HeldLetter]:
        """Up to ``limit`` letters, hidden from other readers for ``seconds``."""

    def release(self, receipts: Sequence[str]) -> None:
        """Make held letters visible again (they stay parked)."""

    def remove(self, receipts: Sequence[str]) -> None:
        """Delete held letters (they were re-driven)."""


class PayloadStore(Protocol):
    """Records too large for one queue message, stored by key (the claim check)."""

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` durably or raise StoreError."""

    def get(self, key: str) -> bytes | None:
        """The data under ``key``; None when it is gone (expired)."""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A status-API key as stored: its id, a name for people, and the hash of the secret.

    The secret itself is shown once when the key is created and never stored.
    """

    key_id: str
    name: str
    secret_hash: str
    created_at: float
    last_used_at: float | None = None


class ApiKeyStore(Protocol):
    """The status API's keys by id; several live at once so they can be rotated."""

    def add(self, key: ApiKey) -> None:
        """Store a new key; AlreadyExists if its id is taken."""

    def get(self, key_id: str) -> ApiKey | None: ...

    def list(self) -> list[ApiKey]:
        """Every key, oldest first."""

    def delete(self, key_id: str) -> bool:
        """Revoke a key; False if there was none with this id."""

    def touch(self, key_id: str, at: float) -> None:
        """Record that the key was used at ``at`` (only that attribute; no error if revoked)."""


class AuditResults(Protocol):
    """The last audit summary per tenant (``AuditReport.to_json()``); the audit is its writer."""

    def save(self, tenant: str, summary: dict[str, Any], at: float) -> None:
        """Replace the tenant's last audit summary with this one, taken at ``at``."""

    def last(self, tenant: str) -> tuple[dict[str, Any], float] | None:
        """The tenant's last audit summary and when it was taken, if any."""

    def delete_tenant(self, tenant: str) -> None:
        """Forget the tenant's audit summary (idempotent)."""
