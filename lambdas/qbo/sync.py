"""The QuickBooks Online sync: change notices in, canonical records on the record queue out.

For each realm of a batch of notices, the changed objects are read by id (one ``Id IN (...)``
query per entity, batched by the client), transformed, and handed off through the same
``HandOff`` as the Desktop path, with source ``qbo``: the same change detection, claim check,
payment links and record queue to the same forwarder. Deletions (a Delete notice) become
canonical deletion records without a read; a merge reads the surviving object and deletes the
merged one. The invoices a payment is applied to are read again in the same pass (their balance
changed), as are re-reads the forwarder or the audit asked for.

Fairness: ``drain`` takes one receive at a time from the change queue, which is fair between
realms (``ChangeQueue``), and each message holds a bounded number of notices, so a realm's
backlog delays another realm's first record by one batch at most. A realm whose reads fail
(throttled, unavailable, needing a reconnect) leaves its messages for the queue's redelivery
and does not hold up the other realms of the batch.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..model.entities import DELETION_ENTITIES, SYNC_ORDER
from ..model.identity import SOURCE_QBO
from ..store.ports import MappingStore, PayloadStore, RecordQueue, StoreError, SyncStateStore
from ..store.qbo_ports import ChangeQueue, ReceivedChange
from ..sync.handoff import HandOff
from .notices import ChangeNotice, NoticeError, unpack
from .reader import QboReader
from .transform import CANONICAL_TO_QBO, QBO_ENTITIES, TransformError, canonical, deletion
from .values import moment, qbo_id

log = logging.getLogger(__name__)

# Canonical entities in the order records are handed off (lists before the transactions that
# refer to them, payments after their invoices), restricted to what QBO syncs.
ORDER: tuple[str, ...] = tuple(e for e in SYNC_ORDER if e in CANONICAL_TO_QBO)
QBO_ORDER: tuple[str, ...] = tuple(CANONICAL_TO_QBO[e] for e in ORDER)


class RealmDirectory(Protocol):
    """Which tenant a QuickBooks Online company (realm) belongs to.

    ``find_by_realm`` answers a tenant name, or a connection record with ``tenant`` (and
    ``status``) attributes such as ``QboConnection``; None when no tenant has the realm.
    """

    def find_by_realm(self, realm_id: str) -> Any: ...


def tenant_of(directory: RealmDirectory, realm: str) -> str | None:
    """The tenant syncing ``realm``; None when there is none or it is disconnected."""
    found = directory.find_by_realm(realm)
    if found is None or isinstance(found, str):
        return found or None
    if getattr(found, "status", "") == "disconnected":
        return None
    return getattr(found, "tenant", None) or None


@dataclass(slots=True)
class SyncReport:
    """What one pass did, in all and per realm."""

    notices: int = 0
    read: int = 0
    queued: int = 0
    unchanged: int = 0
    deletions: int = 0
    unknown_realms: set[str] = field(default_factory=set)
    failed_realms: dict[str, str] = field(default_factory=dict)
    malformed: int = 0
    realms_order: list[str] = field(default_factory=list)  # in the order they were synced

    def add(self, other: SyncReport) -> None:
        """Fold another report into this one."""
        self.notices += other.notices
        self.read += other.read
        self.queued += other.queued
        self.unchanged += other.unchanged
        self.deletions += other.deletions
        self.unknown_realms |= other.unknown_realms
        self.failed_realms.update(other.failed_realms)
        self.malformed += other.malformed
        self.realms_order.extend(other.realms_order)


@dataclass(slots=True)
class _Plan:
    """One tenant's work: ids to read per QBO entity, deletion records, forced re-reads."""

    reads: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    deletions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _latest(notices: Sequence[ChangeNotice]) -> list[ChangeNotice]:
    """The last notice per object (a later notice supersedes an earlier one)."""
    last: dict[tuple[str, str], ChangeNotice] = {}
    for n in notices:
        key = (n.entity, n.id)
        prev = last.get(key)
        if prev is None or (moment(n.occurred) or _EPOCH) >= (moment(prev.occurred) or _EPOCH):
            last[key] = n
    return list(last.values())


_EPOCH = moment("1970-01-01T00:00:00+00:00")


class QboSync:
    """Reads what notices name, and hands it off as canonical records of source ``qbo``."""

    def __init__(
        self,
        realms: RealmDirectory,
        readers: Callable[[str], QboReader],
        mappings: MappingStore,
        records: RecordQueue,
        state: SyncStateStore,
        payloads: PayloadStore | None = None,
        clock: Callable[[], float] = time.time,
        in_flight_seconds: float = 900.0,
    ) -> None:
        self.realms = realms
        self.readers = readers
        self.state = state
        self.clock = clock
        self.hand_off = HandOff(
            SOURCE_QBO, mappings, records, payloads, clock, in_flight_seconds, state
        )

    # --- notices -------------------------------------------------------------------------

    def apply(self, notices: Sequence[ChangeNotice]) -> SyncReport:
        """Sync the objects ``notices`` name, realm by realm in order of first appearance.

        A realm whose sync fails is named in ``failed_realms`` (the others go on); StoreError
        from the record queue fails that realm the same way.
        """
        report = SyncReport(notices=len(notices))
        by_realm: dict[str, list[ChangeNotice]] = defaultdict(list)
        for n in notices:
            by_realm[n.realm].append(n)
        for realm, items in by_realm.items():
            tenant = tenant_of(self.realms, realm)
            if tenant is None:
                log.warning("QuickBooks Online changes of realm %s: no tenant has it", realm)
                report.unknown_realms.add(realm)
                continue
            report.realms_order.append(realm)
            try:
                self._apply_tenant(tenant, items, report)
            except Exception as exc:
                log.warning(
                    "QuickBooks Online sync of realm %s failed: %s",
                    realm,
                    exc,
                    extra={"tenant": tenant},
                )
                report.failed_realms[realm] = f"{type(exc).__name__}: {exc}"
        return report

    def _apply_tenant(
        self, tenant: str, notices: Sequence[ChangeNotice], report: SyncReport
    ) -> None:
        plan = _Plan()
        for n in _latest(notices):
            if n.entity not in QBO_ENTITIES:
                continue
            if n.operation == "Delete":
                record = deletion(n.entity, n.id, moment(n.occurred))
                plan.deletions[(n.entity, n.id)] = record
                continue
            if n.operation == "Merge" and n.merged_id:
                plan.deletions[(n.entity, n.merged_id)] = deletion(
                    n.entity, n.merged_id, moment(n.occurred)
                )
            plan.reads[n.entity].add(n.id)
        for entity, ids in plan.reads.items():
            for oid in ids:
                plan.deletions.pop((entity, oid), None)  # read after its deletion: it is back
        reader = self.readers(tenant)
        report.add(self.sync_tenant(tenant, reader, plan.reads, list(plan.deletions.values())))

    # --- reading and handing off ---------------------------------------------------------

    def sync_tenant(
        self,
        tenant: str,
        reader: QboReader,
        reads: dict[str, set[str]] | None = None,
        records: Sequence[dict[str, Any]] = (),
    ) -> SyncReport:
        """Read ``reads`` (QBO entity -> Ids) and the tenant's pending re-reads, hand them off
        with ``records`` (canonical records read elsewhere: deletions, change-data-capture),
        then read and hand off the invoices the hand-off says changed."""
        report = SyncReport()
        wanted = {e: set(ids) for e, ids in (reads or {}).items()}
        if self._pass(tenant, reader, wanted, records, report):
            # The invoices a payment or credit memo changed, now rather than next time.
            self._pass(tenant, reader, {}, (), report)
        return report

    def _pass(
        self,
        tenant: str,
        reader: QboReader,
        wanted: dict[str, set[str]],
        records: Sequence[dict[str, Any]],
        report: SyncReport,
    ) -> bool:
        """One read and hand-off; True when it asked for re-reads of linked records."""
        forced = self._take_refetch(tenant, wanted)
        by_entity = self._read(reader, wanted, report)
        for r in records:
            by_entity.setdefault(str(r.get("entity")), []).append(r)
        report.deletions += sum(len(by_entity.get(e, ())) for e in DELETION_ENTITIES)
        batches = [by_entity.pop(e, []) for e in ORDER]
        batches.append([r for rs in by_entity.values() for r in rs])
        try:
            handed = self.hand_off(tenant, batches, forced)
        except StoreError:
            self._request_again(tenant, forced)
            raise
        self._count(report, handed.counts)
        return any(handed.refetch.values())

    def _count(self, report: SyncReport, counts: list[tuple[int, int]]) -> None:
        report.queued += sum(q for q, _ in counts)
        report.unchanged += sum(u for _, u in counts)

    def _read(
        self, reader: QboReader, wanted: dict[str, set[str]], report: SyncReport
    ) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for entity in QBO_ORDER:
            ids = sorted(wanted.get(entity, ()), key=_id_order)
            if not ids:
                continue
            objects = reader.read_by_ids(entity, ids)
            report.read += len(objects)
            records = []
            for obj in objects:
                try:
                    records.append(canonical(entity, obj))
                except TransformError as exc:
                    log.warning("a QuickBooks Online %s is skipped: %s", entity, exc)
            # Ids not returned were deleted meanwhile: their Delete notice (or the catch-up)
            # brings the deletion.
            out[QBO_ENTITIES[entity]] = records
        return out

    def _take_refetch(self, tenant: str, wanted: dict[str, set[str]]) -> frozenset[tuple[str, str]]:
        """Add the tenant's pending re-reads to ``wanted`` and clear them (re-requested if the
        hand-off fails); the (canonical entity, id) pairs they name."""
        taken: set[tuple[str, str]] = set()
        for entity, ids in self.state.pending_refetch(tenant, SOURCE_QBO).items():
            name = CANONICAL_TO_QBO.get(entity)
            if name is None:
                continue
            wanted.setdefault(name, set()).update(qbo_id(i) for i in ids)
            taken.update((entity, i) for i in ids)
            self.state.clear_refetch(tenant, SOURCE_QBO, entity, ids)
        return frozenset(taken)

    def _request_again(self, tenant: str, taken: frozenset[tuple[str, str]]) -> None:
        by_entity: dict[str, list[str]] = defaultdict(list)
        for entity, sid in taken:
            by_entity[entity].append(sid)
        for entity, ids in by_entity.items():
            self.state.request_refetch(tenant, SOURCE_QBO, entity, sorted(ids))

    # --- the change queue ----------------------------------------------------------------

    def handle(self, received: Sequence[ReceivedChange]) -> tuple[SyncReport, list[str]]:
        """Sync the notices of received change messages; (report, receipts handled).

        Messages of realms whose sync failed are not handled (the queue delivers them again);
        malformed ones are handled (dropped with a warning). A Lambda fed by the queue reports
        the others as batch item failures.
        """
        notices: list[ChangeNotice] = []
        realm_of: dict[str, str] = {}
        done: list[str] = []
        malformed = 0
        for m in received:
            try:
                items = unpack([m.change.body])
            except NoticeError as exc:
                log.warning("a malformed change message is dropped: %s", exc)
                malformed += 1
                done.append(m.receipt)
                continue
            notices.extend(items)
            realm_of[m.receipt] = m.change.realm
        report = self.apply(notices)
        report.malformed += malformed
        done += [r for r, realm in realm_of.items() if realm not in report.failed_realms]
        return report, done

    def drain(self, queue: ChangeQueue, batch_size: int = 10, max_batches: int = 100) -> SyncReport:
        """Sync queued notices one receive at a time until the queue shows none (or
        ``max_batches`` ran), deleting what ``handle`` handled."""
        total = SyncReport()
        for _ in range(max_batches):
            received = queue.receive(batch_size)
            if not received:
                break
            report, done = self.handle(received)
            queue.delete(done)
            total.add(report)
        return total


def _id_order(value: str) -> tuple[int, str]:
    return (int(value), value) if value.isdigit() else (0, value)
