"""Change-data-capture catch-up and full loads: what webhooks missed reaches the CRM anyway.

Per tenant and QBO entity, a watermark in the sync-state store (entity key ``qbo:<Entity>``)
says from when the next catch-up asks. It moves only when a catch-up (or a full load) has
handed off everything since, so any gap (a lost webhook, a failed run, an outage) is covered by
the next run, which is both the schedule and the recovery. Changes seen twice cost nothing
downstream: unchanged content is never queued again.

- No watermark (first load) or one older than change-data-capture's 30 days: the entity is
  read whole, paged by the client, and mapping rows of objects handed off before the load that
  it no longer lists are deleted (objects deleted while nothing was watching).
- Otherwise one CDC call asks for every due entity since the oldest watermark. When QuickBooks
  holds more than 1,000 changes of one entity, the entity list is split in halves; one entity
  still too large halves its time window: change-data-capture from the middle, the older half
  by a query on ``Metadata.LastUpdatedTime`` (which lists live objects only; deletions inside
  such an older half wait for the next full load). Past ``max_splits`` halvings it is read
  whole.

Watermarks are the catch-up's start time less a margin (the server's own times are not part of
the reader port), which covers clock skew between this host and Intuit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..model.entities import LIST_ENTITIES
from ..model.identity import SOURCE_QBO
from ..store.ports import DeliveryStatus, EntitySyncState, MappingStore, SyncStateStore
from .reader import CDC_MAX_AGE_DAYS, CdcWindowExpired, CdcWindowTooLarge, QboReader
from .sync import QBO_ORDER, QboSync
from .transform import QBO_ENTITIES, TransformError, canonical, deletion
from .values import canonical_id, qbo_id

log = logging.getLogger(__name__)

STATE_PREFIX = "qbo:"
# Records handed off per call during a full load (memory stays bounded on large companies).
LOAD_CHUNK = 500


def state_key(entity: str) -> str:
    """The sync-state entity key of a QBO entity's watermark (apart from Desktop's)."""
    return STATE_PREFIX + entity


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _select(entity: str, where: str = "") -> str:
    # Inactive list elements are still synced (deactivating is QBO's way to delete a customer
    # or an item); QBO leaves them out of a query unless asked.
    conditions = [
        c
        for c in ("Active in (true, false)" if QBO_ENTITIES[entity] in LIST_ENTITIES else "", where)
        if c
    ]
    tail = f" where {' and '.join(conditions)}" if conditions else ""
    return f"select * from {entity}{tail}"


@dataclass(slots=True)
class CatchUpReport:
    """What one tenant's catch-up did."""

    tenant: str
    cdc_calls: int = 0
    cdc_records: int = 0
    full_loads: list[str] = field(default_factory=list)
    range_queries: int = 0
    loaded: int = 0
    swept: int = 0  # deletions found by a full load
    queued: int = 0
    unchanged: int = 0
    error: str = ""


class CdcCatchUp:
    """Brings a tenant's QBO records up to date from its watermarks."""

    def __init__(
        self,
        sync: QboSync,
        state: SyncStateStore,
        mappings: MappingStore,
        clock: Callable[[], float] = time.time,
        margin: timedelta = timedelta(minutes=5),
        max_splits: int = 8,
        entities: Sequence[str] = QBO_ORDER,
    ) -> None:
        self.sync = sync
        self.state = state
        self.mappings = mappings
        self.clock = clock
        self.margin = margin
        self.max_splits = max_splits
        self.entities = tuple(entities)

    def run(self, tenant: str, reader: QboReader) -> CatchUpReport:
        """Catch the tenant up: full loads where due, change-data-capture for the rest."""
        report = CatchUpReport(tenant)
        now = datetime.fromtimestamp(self.clock(), UTC)
        start = now - self.margin
        stored = self.state.get_all(tenant)
        oldest_allowed = now - timedelta(days=CDC_MAX_AGE_DAYS) + self.margin
        full, since = [], None
        incremental = []
        for entity in self.entities:
            st = stored.get(state_key(entity))
            mark = datetime.fromisoformat(st.watermark) if st and st.watermark else None
            if mark is None or mark < oldest_allowed:
                full.append(entity)
            else:
                incremental.append(entity)
                since = mark if since is None or mark < since else since
        for entity in full:
            self.full_load(tenant, reader, entity, report)
            self._advance(tenant, entity, start, stored)
        if incremental and since is not None:
            self._cdc(tenant, reader, incremental, since, now, 0, report)
            for entity in incremental:
                self._advance(tenant, entity, start, stored)
        return report

    def run_all(
        self, tenants: Iterable[str], readers: Callable[[str], QboReader]
    ) -> list[CatchUpReport]:
        """``run`` for each tenant; one tenant's failure is reported, the others go on."""
        reports = []
        for tenant in tenants:
            try:
                reports.append(self.run(tenant, readers(tenant)))
            except Exception as exc:
                log.warning("QuickBooks Online catch-up failed: %s", exc, extra={"tenant": tenant})
                reports.append(CatchUpReport(tenant, error=f"{type(exc).__name__}: {exc}"))
        return reports

    # --- change-data-capture ---------------------------------------------------------------

    def _cdc(
        self,
        tenant: str,
        reader: QboReader,
        entities: list[str],
        since: datetime,
        until: datetime,
        depth: int,
        report: CatchUpReport,
    ) -> None:
        report.cdc_calls += 1
        try:
            changes = reader.change_data_capture(entities, since)
        except CdcWindowExpired:
            for entity in entities:
                self.full_load(tenant, reader, entity, report)
            return
        except CdcWindowTooLarge as exc:
            if len(entities) > 1:
                half = len(entities) // 2
                for part in (entities[:half], entities[half:]):
                    self._cdc(tenant, reader, part, since, until, depth, report)
                return
            entity = entities[0]
            if depth >= self.max_splits:
                log.warning(
                    "%s: CDC still too large after %d halvings (%s); reading it whole",
                    entity,
                    depth,
                    exc,
                    extra={"tenant": tenant},
                )
                self.full_load(tenant, reader, entity, report)
                return
            middle = since + (until - since) / 2
            self._cdc(tenant, reader, entities, middle, until, depth + 1, report)
            self._range(tenant, reader, entity, since, middle, report)
            return
        records = []
        for entity, objects in changes.items():
            records.extend(self._canonical(entity, objects))
        report.cdc_records += len(records)
        self._hand_off(tenant, reader, records, report)

    def _range(
        self,
        tenant: str,
        reader: QboReader,
        entity: str,
        start: datetime,
        end: datetime,
        report: CatchUpReport,
    ) -> None:
        where = (
            f"Metadata.LastUpdatedTime >= '{_iso(start)}' and "
            f"Metadata.LastUpdatedTime < '{_iso(end)}'"
        )
        report.range_queries += 1
        self._stream(tenant, reader, entity, _select(entity, where), report, None)

    # --- full loads ------------------------------------------------------------------------

    def full_load(self, tenant: str, reader: QboReader, entity: str, report: CatchUpReport) -> None:
        """Read ``entity`` whole and hand it off; then delete the mapping rows of objects handed
        off before the load began that QBO no longer lists."""
        began = self.clock()
        seen: set[str] = set()
        self._stream(tenant, reader, entity, _select(entity), report, seen)
        report.full_loads.append(entity)
        canon = QBO_ENTITIES[entity]
        gone = [
            m
            for m in self.mappings.scan(tenant)
            if m.source == SOURCE_QBO
            and m.entity == canon
            and m.source_id not in seen
            and m.status != DeliveryStatus.DELETED
            and m.handed_at is not None
            and m.handed_at < began
        ]
        if gone:
            when = datetime.fromtimestamp(began, UTC)
            records = [deletion(entity, qbo_id(m.source_id), when) for m in gone]
            report.swept += len(records)
            self._hand_off(tenant, reader, records, report)

    def _stream(
        self,
        tenant: str,
        reader: QboReader,
        entity: str,
        statement: str,
        report: CatchUpReport,
        seen: set[str] | None,
    ) -> None:
        chunk: list[dict[str, Any]] = []
        for obj in reader.query(statement):
            if seen is not None and obj.get("Id") not in (None, ""):
                seen.add(canonical_id(obj["Id"]))
            chunk.extend(self._canonical(entity, [obj]))
            if len(chunk) >= LOAD_CHUNK:
                report.loaded += len(chunk)
                self._hand_off(tenant, reader, chunk, report)
                chunk = []
        if chunk:
            report.loaded += len(chunk)
            self._hand_off(tenant, reader, chunk, report)

    # --- helpers ---------------------------------------------------------------------------

    def _canonical(self, entity: str, objects: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for obj in objects:
            try:
                out.append(canonical(entity, obj))
            except TransformError as exc:
                log.warning("a QuickBooks Online %s is skipped: %s", entity, exc)
        return out

    def _hand_off(
        self,
        tenant: str,
        reader: QboReader,
        records: list[dict[str, Any]],
        report: CatchUpReport,
    ) -> None:
        if not records:
            return
        done = self.sync.sync_tenant(tenant, reader, None, records)
        report.queued += done.queued
        report.unchanged += done.unchanged

    def _advance(
        self, tenant: str, entity: str, mark: datetime, stored: dict[str, EntitySyncState]
    ) -> None:
        key = state_key(entity)
        previous = stored.get(key) or EntitySyncState(tenant, key)
        self.state.put(replace(previous, watermark=_iso(mark), last_success_at=self.clock()))
