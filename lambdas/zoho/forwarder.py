"""The ZOHO forwarder: record-queue messages in, ZOHO CRM records and mapping outcomes out.

One ``ZohoForwarder.forward`` call handles a batch of messages (any tenants, any order). Every
message ends with one ``Status`` (see ``outcomes``). Per tenant, the work runs on one
``TenantContext`` with a valid mapping: upserts entity by entity, parents first (``upserts``),
then payments (``payments``), then deletions (``deletions``); write-back's ``ZohoUpdate``
messages set fields on ZOHO records by id (``zoho_updates``). Every ZOHO write is preceded by a
claim of the record's version and followed by a conditional outcome write, so two forwarders
holding two versions of a record cannot leave ZOHO on the older one unnoticed: the loser marks a
conflict and asks the relay to read the record again.

A message the queue has delivered ``max_deliveries`` times without an outcome is parked with its
last reason before the queue could move it to the dead-letter queue silently.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, tzinfo

from ..events.publisher import EventPublisher, NoEvents
from ..model import events
from ..model.content import content_hash
from ..model.entities import DELETION_ENTITIES, PAYMENT, SYNC_ORDER
from ..model.envelope import Envelope, EnvelopeError
from ..store.ports import (
    DeadLetter,
    DeadLetterQueue,
    DeliveryOutcome,
    DeliveryStatus,
    ForwarderState,
    MappingStore,
    PayloadStore,
    StoreError,
    SyncStateStore,
)
from ..writeback.outcomes import ZOHO_UPDATE, link_target
from .client import ZohoClient
from .context import Msg, Ports, Redelete, TenantContext
from .deletions import already_gone, apply_deletions, delete_in_zoho, find_in_zoho
from .errors import (
    ZohoConfigError,
    ZohoCreditsExhausted,
    ZohoError,
    ZohoTokenThrottled,
    ZohoUnavailable,
)
from .mapping import MappingError, build_config
from .outcomes import ForwardReport, Outcome, Status
from .payments import apply_payments
from .upserts import current, upsert_entity
from .zoho_updates import apply_zoho_updates

log = logging.getLogger(__name__)

UNKNOWN_TENANT = "(unknown)"
REVIEW_HINT = (
    "held for review: check qbrelay failures list, then qbrelay failures redrive --confirm "
    "to send it on"
)

__all__ = ["ForwardReport", "Outcome", "Status", "ZohoForwarder"]


class ZohoForwarder:
    """Forwards record messages to ZOHO CRM over explicit ports and a per-tenant client."""

    def __init__(
        self,
        mappings: MappingStore,
        state: ForwarderState,
        dead_letters: DeadLetterQueue,
        clients: Callable[[str], ZohoClient],
        clock: Callable[[], float] = time.time,
        credit_pause_seconds: float = 1800.0,
        config_pause_seconds: float = 900.0,
        park_after_deliveries: int = 5,
        max_deliveries: int = 7,
        payloads: PayloadStore | None = None,
        refetch: SyncStateStore | None = None,
        time_zones: Callable[[str], tzinfo] | None = None,
        events: EventPublisher | None = None,
    ) -> None:
        self.ports = Ports(mappings, dead_letters, refetch, clock)
        self.state = state
        self.clients = clients
        self.clock = clock
        self.credit_pause_seconds = credit_pause_seconds
        self.config_pause_seconds = config_pause_seconds
        # A record waiting for its parent this often is parked with that reason.
        self.park_after_deliveries = park_after_deliveries
        # Anything not applied after this many deliveries is parked: one below the queue's
        # maxReceiveCount, so the queue never dead-letters a message without a reason.
        self.max_deliveries = max_deliveries
        self.payloads = payloads
        self.time_zones = time_zones or (lambda _tenant: UTC)
        # failure.parked for every record given up on (never raises: see EventPublisher).
        self.events: EventPublisher = events or NoEvents()

    def today(self, tenant: str) -> date:
        """The tenant's date now, in its time zone (what "overdue" is judged by)."""
        return datetime.fromtimestamp(self.clock(), self.time_zones(tenant)).date()

    def forward(
        self, messages: Sequence[tuple[str, str]], deliveries: dict[str, int] | None = None
    ) -> ForwardReport:
        """Handle ``messages`` (key, body); every key gets an outcome in the report.

        ``deliveries`` (by key) says how often the queue has delivered a message.
        """
        report = ForwardReport()
        by_tenant: dict[str, list[Msg]] = defaultdict(list)
        malformed: list[tuple[str, DeadLetter]] = []
        gone: list[tuple[str, Envelope, DeadLetter]] = []
        for key, body in messages:
            try:
                envelope = Envelope.from_json(body)
            except EnvelopeError as exc:
                reason = f"malformed record message: {exc}"
                report.outcomes[key] = Outcome(Status.PARKED, reason)
                malformed.append((key, DeadLetter(UNKNOWN_TENANT, body, reason, self.clock())))
                continue
            try:
                record = self._record(envelope)
            except EnvelopeError as exc:
                # A readable envelope whose record cannot be had: parked under its tenant, and
                # QuickBooks is asked again (the payload expired, or does not match).
                reason = f"claim-checked record unavailable: {exc}"
                report.outcomes[key] = Outcome(Status.PARKED, reason)
                gone.append(
                    (key, envelope, DeadLetter(envelope.tenant, body, reason, self.clock()))
                )
                continue
            count = (deliveries or {}).get(key, 1)
            msg = Msg(key, body, envelope, record, count, link=link_target(envelope))
            by_tenant[envelope.tenant].append(msg)
        if malformed:
            self._park_malformed(malformed, report)
        if gone:
            self._park_unavailable(gone, report)
        for tenant, msgs in by_tenant.items():
            self._run_tenant(tenant, msgs, report)
        named = {m.key: (m.envelope, m.deliveries) for msgs in by_tenant.values() for m in msgs}
        named.update({key: (e, (deliveries or {}).get(key, 1)) for key, e, _ in gone})
        self.events.publish(self._parked_events(report, named))
        return report

    def _parked_events(
        self, report: ForwardReport, named: dict[str, tuple[Envelope, int]]
    ) -> list[events.Event]:
        """One ``failure.parked`` per message that ended parked (its letter is stored)."""
        now = self.clock()
        out = []
        for key, outcome in report.outcomes.items():
            if outcome.status != Status.PARKED:
                continue
            envelope, count = named.get(key, (None, 1))
            out.append(
                events.failure_parked(
                    envelope.tenant if envelope else UNKNOWN_TENANT,
                    key,
                    at=now,
                    entity=envelope.entity if envelope else "",
                    source_id=envelope.source_id if envelope else "",
                    version=envelope.version if envelope else "",
                    reason=outcome.reason,
                    deliveries=count,
                )
            )
        return out

    def _record(self, envelope: Envelope) -> dict:
        if envelope.record is not None:
            return envelope.record
        if self.payloads is None:
            raise EnvelopeError("a claim-checked record, but no payload store is configured")
        try:
            data = self.payloads.get(envelope.claim or "")
        except StoreError as exc:
            raise EnvelopeError(f"payload store: {exc}") from None
        if data is None:
            raise EnvelopeError(f"the claim-checked record {envelope.claim} is gone (expired?)")
        try:
            record = json.loads(data)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise EnvelopeError("the claim-checked payload is not a record")
        # The payload must be the record the envelope names: a claim naming another tenant's
        # or another record's payload is refused.
        if envelope.claim != envelope.claim_key or content_hash(record) != envelope.content_hash:
            raise EnvelopeError("the claim-checked payload does not match its message")
        return record

    def _park_malformed(self, items: list[tuple[str, DeadLetter]], report: ForwardReport) -> None:
        try:
            self.ports.dead_letters.send([letter for _, letter in items])
        except StoreError as exc:
            log.error("could not park %d record(s): %s; they stay on the queue", len(items), exc)
            for key, _ in items:
                report.outcomes[key] = Outcome(
                    Status.RETRY, f"dead-letter queue unavailable: {exc}"
                )
            return
        report.failed += len(items)

    def _park_unavailable(
        self, items: list[tuple[str, Envelope, DeadLetter]], report: ForwardReport
    ) -> None:
        try:
            self.ports.dead_letters.send([letter for _, _, letter in items])
            for _, e, letter in items:
                self.ports.mappings.record_outcomes(
                    [
                        DeliveryOutcome(
                            e.tenant,
                            e.source,
                            e.entity,
                            e.source_id,
                            DeliveryStatus.PARKED,
                            e.version,
                            self.clock(),
                            last_error=letter.reason,
                        )
                    ]
                )
                if self.ports.refetch is not None:
                    self.ports.refetch.request_refetch(e.tenant, e.source, e.entity, [e.source_id])
        except StoreError as exc:
            log.error("could not park %d record(s): %s; they stay on the queue", len(items), exc)
            for key, _, _ in items:
                report.outcomes[key] = Outcome(Status.RETRY, f"could not park: {exc}")
            return
        report.failed += len(items)

    # --- one tenant -------------------------------------------------------------------------

    def _run_tenant(self, tenant: str, msgs: list[Msg], report: ForwardReport) -> None:
        try:
            config = build_config(
                self.state.get_mapping(tenant), origin=f"mapping of tenant {tenant}"
            )
        except MappingError as exc:
            self._stop(tenant, ZohoConfigError(str(exc)), msgs, report)
            self._give_up_late(tenant, msgs, report, None)
            return
        ctx = TenantContext(
            self.ports,
            tenant,
            config,
            lambda: self.clients(tenant),
            msgs,
            report,
            self.today(tenant),
        )
        pause = self.state.paused(tenant, self.clock())
        try:
            if pause is not None:
                self._retry_rest(ctx, f"forwarding paused: {pause.reason}")
            else:
                self._route(ctx)
        except ZohoCreditsExhausted as exc:
            log.warning(
                "tenant %s: %s; pausing forwarding for %.0f s",
                tenant,
                exc,
                self.credit_pause_seconds,
            )
            until = self.clock() + self.credit_pause_seconds
            self.state.pause(tenant, until, f"ZOHO API credits exhausted? {exc}")
            self._retry_rest(ctx, f"paused: {exc}")
        except ZohoTokenThrottled as exc:
            log.warning("tenant %s: %s", tenant, exc)
            self.state.pause(tenant, exc.until, str(exc))
            self._retry_rest(ctx, str(exc))
        except ZohoConfigError as exc:
            self._stop(tenant, exc, ctx.pending(), report)
        except ZohoUnavailable as exc:
            log.warning("tenant %s: ZOHO unavailable: %s", tenant, exc)
            self._retry_rest(ctx, str(exc))
        except StoreError as exc:
            log.error("tenant %s: store unavailable: %s", tenant, exc)
            self._retry_rest(ctx, str(exc))
        self._give_up_late(tenant, msgs, report, ctx)
        try:
            ctx.finish()
            self._redelete(ctx)
        except (StoreError, ZohoError) as exc:
            log.error("tenant %s: finishing the batch failed: %s", tenant, exc)
        finally:
            ctx.settle_costs()

    def _route(self, ctx: TenantContext) -> None:
        upserts: dict[str, list[Msg]] = defaultdict(list)
        payments: list[Msg] = []
        deletions: list[Msg] = []
        updates: list[Msg] = []
        for m in ctx.msgs:
            if m.envelope.review:
                # Held by the relay's containment rules: a person confirms before ZOHO sees it.
                ctx.park(m, f"{m.envelope.review}; {REVIEW_HINT}")
            elif m.entity == ZOHO_UPDATE:
                # Made by write-back, not read from QuickBooks: no mapping entity of its own.
                updates.append(m)
            elif m.entity in DELETION_ENTITIES:
                deletions.append(m)
            elif m.entity == PAYMENT and ctx.config.payment is not None:
                payments.append(m)
            elif ctx.config.spec(m.entity) is not None:
                upserts[m.entity].append(m)
            else:
                ctx.ignore(m, f"the mapping leaves {m.entity} out")
        for entity in SYNC_ORDER:
            if upserts.get(entity):
                upsert_entity(ctx, entity, current(ctx, entity, upserts[entity]))
        if payments:
            apply_payments(ctx, PAYMENT, payments)
        if deletions:
            apply_deletions(ctx, deletions)
        if updates:
            apply_zoho_updates(ctx, updates)

    def _stop(self, tenant: str, exc: ZohoError, msgs: list[Msg], report: ForwardReport) -> None:
        message = f"ZOHO forwarding for tenant {tenant} stopped: {exc}"
        log.error(message)
        self.state.pause(tenant, self.clock() + self.config_pause_seconds, str(exc))
        for m in msgs:
            if m.key not in report.outcomes:
                report.outcomes[m.key] = Outcome(Status.RETRY, message)

    @staticmethod
    def _retry_rest(ctx: TenantContext, reason: str) -> None:
        for m in ctx.pending():
            ctx.outcome(m, Status.RETRY, reason)

    def _give_up_late(
        self, tenant: str, msgs: list[Msg], report: ForwardReport, ctx: TenantContext | None
    ) -> None:
        """Park what has waited too long, rather than let the queue dead-letter it silently."""
        late = []
        for m in msgs:
            outcome = report.outcomes.get(m.key)
            if outcome is None or outcome.status != Status.RETRY:
                continue
            waiting = bool(m.waiting) and m.deliveries >= self.park_after_deliveries
            if waiting or m.deliveries >= self.max_deliveries:
                late.append((m, f"{outcome.reason}, still after {m.deliveries} deliveries"))
        if not late:
            return
        if ctx is None:
            # No mapping configuration to work with: park the letters only.
            now = self.clock()
            letters = [DeadLetter(tenant, m.body, reason, now) for m, reason in late]
            try:
                self.ports.dead_letters.send(letters)
            except StoreError as exc:
                log.error("could not park %d record(s): %s", len(letters), exc)
                return
            report.failed += len(letters)
            for m, reason in late:
                report.outcomes[m.key] = Outcome(Status.PARKED, reason)
            return
        for m, reason in late:
            ctx.park(m, reason)

    def _redelete(self, ctx: TenantContext) -> None:
        """Delete again what a write may have brought back after its record's deletion.

        Until ZOHO confirms it, the messages behind it are not done: they come again (and are
        found suspect again), so a failure here cannot leave a deleted record active.
        """
        by_entity: dict[str, list[Redelete]] = defaultdict(list)
        for item in ctx.redelete:
            by_entity[item.entity].append(item)
        for store_entity, items in by_entity.items():
            spec = ctx.config.spec_for_store_entity(store_entity)
            if spec is None:
                continue
            try:
                ids = list(
                    dict.fromkeys(
                        zoho_id
                        for item in items
                        for zoho_id in (
                            [item.zoho_id]
                            if item.zoho_id
                            else find_in_zoho(ctx, spec, item.source_id)
                        )
                    )
                )
                results = delete_in_zoho(ctx, spec, ids) if ids else []
                failed = [r.reason() for r in results if not (r.ok or already_gone(r))]
            except ZohoError as exc:
                failed = [str(exc)]
            if ids:
                log.warning(
                    "tenant %s: %d %s record(s) were written after their deletion; deleting again",
                    ctx.tenant,
                    len(ids),
                    spec.module,
                )
            if failed:
                for item in items:
                    ctx.outcome(item.msg, Status.RETRY, f"deleting again failed: {failed[0]}")
