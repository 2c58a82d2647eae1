"""The sync engine: plans a session, builds each exchange's queries and applies the answers.

It owns everything between "a session started" and "records are on the queue": watermarks,
iterators, page sizes, status classes, change detection and the durable hand-off. The protocol
layer (``lambdas/qbwc/relay.py``) owns tickets, SOAP-level errors and the session record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from qbxml import HcpInfo, ResponseSet, StatusClass, parse_response, to_dict
from qbxml.requests import Request
from qbxml.status import UNSUPPORTED_CODES
from qbxml.sync import GATE_ENTITY

from ..metrics import RECORDS_QUEUED, RECORDS_RECEIVED, RECORDS_UNCHANGED, Metrics, NoMetrics
from ..model.entities import DELETION_ENTITIES, SYNC_ORDER
from ..model.identity import SOURCE_QBD
from ..store.ports import (
    EntitySyncState,
    HandoffWindow,
    MappingStore,
    PayloadStore,
    RecordQueue,
    StoreError,
    SyncStateStore,
    Tenant,
)
from .editions import availability, told_by_hcp
from .gate import narrow, open_failed_gates, sweep_due
from .grouping import message_set
from .handoff import HandOff
from .hours import apply_hours
from .paging import PagePolicy, response_bytes
from .plan import Plan, Step
from .probes import mark_probes, take_probes
from .vetting import IMPLAUSIBLE_VERSION, review_marks, unasked
from .watermarks import after, ceiling, later, query_start, wall_clock

log = logging.getLogger(__name__)

SOURCE = SOURCE_QBD
# QuickBooks' answer to a lookup by an id it does not have: the record was deleted meanwhile.
STATUS_NOT_FOUND = 3120
# Answers whose records are used (a warning is reported; "no match" has none).
ANSWERED = (StatusClass.OK, StatusClass.EMPTY, StatusClass.INFO, StatusClass.WARNING)


@dataclass(frozen=True, slots=True)
class SyncSettings:
    """Tunables of the sync engine."""

    paging: PagePolicy = field(default_factory=PagePolicy)
    max_retries: int = 3
    max_restarts: int = 3
    # Content handed off this recently, with no forwarder outcome since, is still in flight and
    # not sent again. Shorter than the queue's redelivery horizon (visibility timeout times
    # maxReceiveCount: 6 min x 8 on AWS), so a message lost to the dead-letter queue is resent.
    in_flight_seconds: float = 900.0
    # Re-reads by id one session asks for at most; the rest wait for the next session.
    max_refetch: int = 500
    # An entity QuickBooks answered "not enabled / not supported" for is asked again after this
    # long (a preference the HCP response does not report may have been switched on).
    unsupported_recheck: timedelta = timedelta(days=7)
    # Containment of a stolen Web Connector password (see vetting): records one session may
    # hand on before the rest wait for review, and the deletions that count as a mass
    # deletion (more than this many and more than this share of the tenant's mapped records, in
    # one session or in the tenant's last 24 hours); records the tenant's sessions may hand on
    # in 24 hours.
    max_session_records: int = 100_000
    mass_deletion_min: int = 25
    mass_deletion_share: float = 0.10
    max_daily_records: int = 500_000

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SyncSettings:
        """Defaults, with QBRELAY_MAX_SESSION_RECORDS, QBRELAY_MAX_DAILY_RECORDS,
        QBRELAY_MASS_DELETION_MIN and QBRELAY_MASS_DELETION_SHARE when set (ValueError names a
        bad one)."""
        values: dict[str, Any] = {}
        for name, attr, kind in (
            ("QBRELAY_MAX_SESSION_RECORDS", "max_session_records", int),
            ("QBRELAY_MAX_DAILY_RECORDS", "max_daily_records", int),
            ("QBRELAY_MASS_DELETION_MIN", "mass_deletion_min", int),
            ("QBRELAY_MASS_DELETION_SHARE", "mass_deletion_share", float),
        ):
            raw = environ.get(name)
            if raw:
                try:
                    values[attr] = kind(raw)
                except ValueError:
                    raise ValueError(f"{name} must be a number, not {raw!r}") from None
                if values[attr] < 0:
                    raise ValueError(f"{name} must not be negative")
        return cls(**values)


@dataclass(slots=True)
class ExchangeResult:
    """What one response did: problems to report (the session goes on unless ``fatal``)."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    fatal: str | None = None


def _record_time(record: dict[str, Any]) -> str | None:
    value = record.get("time_modified") or record.get("time_deleted")
    return wall_clock(value) if isinstance(value, str) and value else None


class SyncEngine:
    """Plans sessions and applies QuickBooks' answers over the state, mapping and queue ports."""

    def __init__(
        self,
        state: SyncStateStore,
        mappings: MappingStore,
        queue: RecordQueue,
        settings: SyncSettings | None = None,
        clock: Callable[[], float] = time.time,
        metrics: Metrics | None = None,
        payloads: PayloadStore | None = None,
    ) -> None:
        self.metrics = metrics or NoMetrics()
        self.state = state
        self.mappings = mappings
        self.queue = queue
        self.settings = settings or SyncSettings()
        self.clock = clock
        self.hand_off = HandOff(
            SOURCE, mappings, queue, payloads, clock, self.settings.in_flight_seconds, state
        )

    # --- planning ---------------------------------------------------------------------------

    def plan(self, tenant: Tenant) -> Plan:
        """The session's steps for the tenant's enabled entities, from their stored state.

        Queries start the tenant's margin before each watermark. A stored watermark past the
        ceiling (written before the ceiling existed) is not trusted: that entity is read whole.
        """
        stored = self.state.get_all(tenant.name)
        paging = self.settings.paging
        margin = timedelta(seconds=tenant.watermark_margin_seconds)
        limit = ceiling(self.clock())
        steps = []
        # What the deletion queries ask about: the deletions of the entities synced, no others.
        covered = [e for e in SYNC_ORDER if e in tenant.enabled_entities]
        for entity in SYNC_ORDER:
            if entity not in tenant.enabled_entities:
                continue
            st = stored.get(entity) or EntitySyncState(tenant.name, entity)
            page = paging.clamp(st.page_size or paging.size_for(st.bytes_per_record))
            watermark = st.watermark
            if watermark is not None and after(watermark, limit):
                log.warning(
                    "watermark %s of %s is in the future (workstation clock?); reading it whole",
                    watermark,
                    entity,
                    extra={"tenant": tenant.name},
                )
                watermark = None
            start = query_start(watermark, margin)
            steps.append(
                Step(
                    entity=entity,
                    page_size=page,
                    bytes_per_record=st.bytes_per_record,
                    watermark=watermark,
                    changed_at=st.changed_at,
                    swept_at=st.swept_at,
                    synced_before=st.last_success_at is not None,
                    modified_from=start.isoformat() if start else None,
                    covers=covered if entity in DELETION_ENTITIES else [],
                )
            )
        if tenant.live:
            mark_probes(steps)
            if not sweep_due(steps, stored, self.clock(), tenant.live_sweep_seconds):
                steps = narrow(steps, stored)
        apply_hours(tenant, steps, self.clock())
        plan = self._skip_unsupported(Plan(steps), stored)
        self._add_refetch(plan, self.state.pending_refetch(tenant.name, SOURCE))
        return plan

    def _add_refetch(self, plan: Plan, wanted: dict[str, Any]) -> None:
        """Append a re-read step per requested record not in the plan yet, up to the cap."""
        present = {s.key for s in plan.steps}
        room = self.settings.max_refetch - sum(1 for s in plan.steps if s.ids)
        for entity in SYNC_ORDER:
            for sid in sorted(wanted.get(entity, ())):
                step = Step(entity=entity, ids=[sid], synced_before=True)
                if step.key in present:
                    continue
                if room <= 0:
                    return
                plan.steps.append(step)
                present.add(step.key)
                room -= 1

    def next_exchange(self, plan: Plan, exchange: int) -> list[tuple[Step, Request]]:
        """The steps (and their queries) of the next message set (see ``grouping``)."""
        return [
            (s, s.query(_request_id(exchange, s, i), page))
            for i, (s, page) in enumerate(message_set(plan, self.settings.paging))
        ]

    # --- applying responses -----------------------------------------------------------------

    def apply(
        self,
        tenant: str,
        plan: Plan,
        pending: dict[str, str],
        response: str,
        also_sent: Collection[str] = (),
        asked: dict[str, int] | None = None,
        parsed: ResponseSet | None = None,
    ) -> ExchangeResult:
        """Apply the response to the pending requests (request id -> step key).

        Records reach the queue before anything advances; if the hand-off fails, the result is
        fatal and every step of the exchange starts over from its watermark next time. A
        response that answers anything but the requests sent (``pending``, plus the other
        requests ``also_sent`` in the message set; ``asked``: each query's MaxReturned) is
        refused whole (see vetting). Raises QbxmlError when the response cannot be read.
        ``parsed`` is the response already parsed by the caller (it is not parsed again).
        """
        result = ExchangeResult()
        responses = (parsed if parsed is not None else parse_response(response)).responses
        refusal = unasked(plan, pending, responses, also_sent, asked)
        if refusal is not None:
            log.warning("refused a response: %s", refusal, extra={"tenant": tenant})
            for key in pending.values():
                plan.step(key).restart()
            result.fatal = (
                f"QuickBooks' response was refused, nothing in it was used: {refusal}. If "
                "QuickBooks really sent it, report it; otherwise check who holds this tenant's "
                "Web Connector password (qbrelay tenant rotate-password)."
            )
            return result
        parsed = {r.request_id: r for r in responses}
        sizes = response_bytes(response)
        accepted: list[tuple[Step, Any, list[dict[str, Any]]]] = []
        for request_id, key in pending.items():
            step = plan.step(key)
            entity = step.entity
            rs = parsed.get(request_id)
            if rs is None:
                # QuickBooks stopped before this request (an earlier one failed the set).
                self._retry_or_fail(step, "QuickBooks did not answer the request", result)
                continue
            status = rs.status_class
            if step.entity == GATE_ENTITY and status not in ANSWERED:
                # Not an error: the probes it held run instead (sync/gate.py).
                step.status, step.error = "skipped", f"{rs.status_code}: {rs.status_message}"
                continue
            if step.ids and rs.status_code == STATUS_NOT_FOUND:
                status = StatusClass.EMPTY  # the record is gone; its deletion comes by itself
            if status in ANSWERED:
                if status is StatusClass.WARNING:
                    result.warnings.append(f"{entity} {rs.status_code}: {rs.status_message}")
                accepted.append((step, rs, [to_dict(r) for r in rs.records]))
            elif (
                status is StatusClass.STALE_ITERATOR and step.restarts < self.settings.max_restarts
            ):
                step.restart()
            elif status is StatusClass.RETRYABLE:
                self._retry_or_fail(step, f"{rs.status_code}: {rs.status_message}", result)
            elif rs.status_code in UNSUPPORTED_CODES:
                why = f"QuickBooks answered {rs.status_code}: {rs.status_message}"
                self._mark_unsupported(tenant, step, why)
            else:
                self._fail(step, f"{rs.status_code}: {rs.status_message}", result)
        open_failed_gates(plan)
        accepted, probe_failure = take_probes(self, tenant, plan, accepted)
        if probe_failure is not None:
            for step, _, _ in accepted:
                step.restart()
            result.fatal = probe_failure
            return result
        if plan.mapped_before is None and any(recs for _, _, recs in accepted):
            plan.mapped_before = self._mapped(tenant)
        steps = [step for step, _, _ in accepted]

        def review(going: list[list[dict[str, Any]]]) -> list[str | None]:
            return review_marks(
                plan,
                list(zip(steps, going, strict=True)),
                self.settings.max_session_records,
                self.settings.mass_deletion_min,
                self.settings.mass_deletion_share,
                lambda: plan.mapped_before or 0,
                window=self._window(tenant) if any(going) else HandoffWindow(),
                max_daily_records=self.settings.max_daily_records,
            )

        reread = self._clear_refetch(tenant, steps)
        try:
            handed = self.hand_off(tenant, [recs for _, _, recs in accepted], reread, review)
            self._follow_links(plan, handed.refetch)
        except StoreError as exc:
            n = sum(len(recs) for _, _, recs in accepted)
            self._request_again(tenant, reread)
            for step in steps:
                step.restart()
            result.fatal = (
                f"Could not store {n} records for forwarding: {exc}. Nothing was lost; the next "
                "Web Connector run asks QuickBooks again."
            )
            return result
        for mark in dict.fromkeys(m for m in handed.marks if m):
            result.warnings.append(
                f"{mark}: held for review; see qbrelay failures list, then "
                "qbrelay failures redrive --confirm to send them on"
            )
        self._count(tenant, steps, handed.counts)
        if handed.implausible:
            entity, sid = handed.implausible[0]
            result.warnings.append(
                f"{IMPLAUSIBLE_VERSION}: {len(handed.implausible)} record(s) carry a version "
                f"later than the relay's clock allows (first: {entity} {sid}); the workstation "
                "clock is wrong, or the answer was forged. They are sent, ordered by when the "
                "relay read them, so later changes still win"
            )
            log.warning("%s", result.warnings[-1], extra={"tenant": tenant})
        for (step, rs, records), (queued, unchanged) in zip(accepted, handed.counts, strict=True):
            self._advance(tenant, step, rs, records, queued, unchanged, sizes.get(rs.request_id))
        return result

    def _window(self, tenant: str) -> HandoffWindow | None:
        """The tenant's hand-offs of the last 24 hours, or None when the store cannot say (then
        the session's own counts are weighed conservatively: see vetting.review_marks)."""
        try:
            return self.state.handoff_window(tenant, self.clock())
        except StoreError as exc:
            log.warning("could not read the hand-off window: %s", exc, extra={"tenant": tenant})
            return None

    def _count(self, tenant: str, steps: list[Step], counts: list[tuple[int, int]]) -> None:
        """Add what was handed off to the tenant's 24-hour counters; a failure only logs (the
        records are on their way; the window undercounts them)."""
        queued = [(s, q) for s, (q, _) in zip(steps, counts, strict=True)]
        deletions = sum(q for s, q in queued if s.entity in DELETION_ENTITIES)
        records = sum(q for _, q in queued) - deletions
        if not records and not deletions:
            return
        try:
            self.state.count_handoffs(tenant, self.clock(), records, deletions)
        except StoreError as exc:
            log.warning(
                "could not count %d hand-off(s): %s",
                records + deletions,
                exc,
                extra={"tenant": tenant},
            )

    def _mapped(self, tenant: str) -> int:
        """The tenant's mapped records, or 0 when the store cannot say (then only the mass
        deletion minimum applies: a person confirms rather than the session failing)."""
        try:
            return self.mappings.count(tenant)
        except StoreError as exc:
            log.warning("could not count the mapped records: %s", exc, extra={"tenant": tenant})
            return 0

    def _advance(
        self,
        tenant: str,
        step: Step,
        rs: Any,
        records: list[dict[str, Any]],
        queued: int,
        unchanged: int,
        size: int | None,
    ) -> None:
        """Count the step's answer and move it on: its page size from the bytes its own response
        took (``size``; None when the response could not be told apart: then the estimate
        stays), its iterator, and its end."""
        paging = self.settings.paging
        step.status = "running"
        step.received += len(records)
        step.queued += queued
        step.unchanged += unchanged
        self.metrics.count(RECORDS_RECEIVED, len(records), step.entity)
        self.metrics.count(RECORDS_QUEUED, queued, step.entity)
        self.metrics.count(RECORDS_UNCHANGED, unchanged, step.entity)
        self.see_times(tenant, step, records)
        if records and size is not None:
            step.bytes_per_record = paging.observe(step.bytes_per_record, size, len(records))
            step.page_size = paging.size_for(step.bytes_per_record)
        if rs.iterator_id and rs.iterator_remaining_count:
            step.iterator_id = rs.iterator_id
            step.remaining = rs.iterator_remaining_count
            return
        step.iterator_id = None
        step.remaining = 0
        step.status = "done"
        if not step.ids:
            self.checkpoint(tenant, step)

    def see_times(self, tenant: str, step: Step, records: list[dict[str, Any]]) -> None:
        """Note the records' times in ``step.max_seen``, except those past the ceiling."""
        limit = ceiling(self.clock())
        ahead = 0
        for record in records:
            stamp = _record_time(record)
            if stamp is not None and after(stamp, limit):
                ahead += 1
                step.future_latest = later(step.future_latest, stamp)
                continue
            step.max_seen = later(step.max_seen, stamp)
        if ahead:
            step.future_stamped += ahead
            log.warning(
                "%d %s records are stamped in the future (latest %s, ceiling %s): the "
                "workstation clock is wrong; they are synced but do not move the watermark",
                ahead,
                step.entity,
                step.future_latest,
                limit,
                extra={"tenant": tenant},
            )

    def checkpoint(self, tenant: str, step: Step) -> None:
        """Persist a finished step: the watermark moves only when its query ran to the end."""
        done = step.status == "done"
        now = self.clock()
        watermark = later(step.watermark, step.max_seen) if done else step.watermark
        self.state.put(
            EntitySyncState(
                tenant=tenant,
                entity=step.entity,
                watermark=watermark,
                page_size=step.page_size,
                bytes_per_record=step.bytes_per_record,
                last_success_at=now if done else None,
                changed_at=now if done and watermark != step.watermark else step.changed_at,
                swept_at=now if done and not step.narrow else step.swept_at,
            )
        )

    def _retry_or_fail(self, step: Step, reason: str, result: ExchangeResult) -> None:
        if step.retries < self.settings.max_retries:
            step.retries += 1
            return
        self._fail(step, reason, result)

    def _fail(self, step: Step, reason: str, result: ExchangeResult) -> None:
        step.status = "failed"
        step.error = reason
        result.errors.append(f"QuickBooks refused the {step.entity} query: {reason}")

    # --- entities the company file lacks (editions, preferences) ----------------------------

    def _skip_unsupported(self, plan: Plan, stored: dict[str, EntitySyncState]) -> Plan:
        """Skip the entities stored as unsupported. One the HCP response ruled out stays skipped
        until consider_hcp sees the next one; one QuickBooks refused is asked again once its
        re-check is due (``unsupported_recheck``)."""
        recheck = self.settings.unsupported_recheck.total_seconds()
        now = self.clock()
        for step in plan.steps:
            st = stored.get(step.entity)
            if st is None or not st.unsupported:
                continue
            step.unsupported = st.unsupported
            if told_by_hcp(st.unsupported) or now - (st.unsupported_at or 0.0) < recheck:
                step.status = "skipped"
        return plan

    def consider_hcp(self, tenant: str, plan: Plan, hcp: HcpInfo) -> None:
        """Apply what the session's HCP response says: leave out the entities the edition or
        the preferences rule out, and bring back a skipped one it no longer rules out (the
        feature switched on, another edition) or says is there."""
        told = availability(hcp)
        for step in plan.steps:
            available, why = told.get(step.entity, (None, ""))
            if available is False:
                if step.status == "pending" or step.unsupported != why:
                    self._mark_unsupported(tenant, step, why)
            elif step.unsupported and (available or told_by_hcp(step.unsupported)):
                step.status, step.unsupported = "pending", None
                st = self.state.get_all(tenant).get(step.entity)
                if st is not None and st.unsupported:
                    self.state.put(replace(st, unsupported=None, unsupported_at=None))

    def _mark_unsupported(self, tenant: str, step: Step, why: str) -> None:
        """Stop asking for an entity the company file cannot answer; not an error. The session
        that finds it out names it once; later ones skip it silently."""
        step.status = "skipped" if step.unsupported else "unsupported"
        step.unsupported = why
        step.iterator_id = None
        st = self.state.get_all(tenant).get(step.entity) or EntitySyncState(tenant, step.entity)
        self.state.put(replace(st, unsupported=why, unsupported_at=self.clock()))
        log.info("%s unsupported by the company file: %s", step.entity, why)

    # --- re-reads by id -------------------------------------------------------------------

    def _clear_refetch(self, tenant: str, steps: list[Step]) -> frozenset[tuple[str, str]]:
        """Drop the answered re-read requests before handing off (a new request stays)."""
        by_entity: dict[str, list[str]] = {}
        for step in steps:
            for sid in step.ids:
                by_entity.setdefault(step.entity, []).append(sid)
        for entity, ids in by_entity.items():
            self.state.clear_refetch(tenant, SOURCE, entity, ids)
        return frozenset((e, i) for e, ids in by_entity.items() for i in ids)

    def _request_again(self, tenant: str, reread: frozenset[tuple[str, str]]) -> None:
        by_entity: dict[str, list[str]] = {}
        for entity, sid in reread:
            by_entity.setdefault(entity, []).append(sid)
        for entity, ids in by_entity.items():
            self.state.request_refetch(tenant, SOURCE, entity, ids)

    def _follow_links(self, plan: Plan, wanted: dict[str, set[str]]) -> None:
        """Re-read the records a hand-off changed (a payment's invoices) later in this session.

        The hand-off stored the request before sending, so a session that ends first (or a
        relay that dies) leaves it to the next one.
        """
        self._add_refetch(plan, {e: ids for e, ids in wanted.items() if ids})


def _request_id(exchange: int, step: Step, index: int) -> str:
    """A requestID unique in its message set (and short: QuickBooks echoes at most 50)."""
    return f"{exchange}-{step.entity}" if not step.ids else f"{exchange}-r{index}"
