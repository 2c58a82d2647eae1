"""The durable hand-off: which records go to the forwarder, as envelopes, and what is recorded.

Change detection decides against delivery, not against what was sent: a record is left out only
when ZOHO already holds its content (the forwarder's applied hash), when the same content was
handed off so recently that it is still in flight (no outcome since, younger than the in-flight
horizon, which is shorter than the queue's redelivery horizon), or when the same content is
parked waiting for a re-drive. Everything else, including content consumed but not applied
(ignored by the mapping, dead-lettered, overwritten by a concurrent write), is sent again.

A record too large for one queue message travels by claim check: the record goes to the payload
store and the message carries its key. Only the relay's own attributes of the mapping are
written (``record_handoffs``), after the queue accepted the messages.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..model.envelope import ENVELOPE_HEADROOM, MAX_MESSAGE_BYTES, Envelope
from ..model.identity import IdentityError, target
from ..store.ports import (
    DeliveryStatus,
    Handoff,
    Mapping,
    MappingStore,
    PayloadStore,
    QueueMessage,
    RecordQueue,
    StoreError,
    SyncStateStore,
)
from .vetting import vouched_version

log = logging.getLogger(__name__)

# Records whose QuickBooks numbers change other records' status: a payment or credit memo
# changes the balance of the invoices it is applied to.
LINKING_ENTITIES = frozenset({"ReceivePayment", "CreditMemo"})
LINKED_ENTITY = "Invoice"


def links_of(record: dict[str, Any]) -> tuple[str, ...]:
    """The invoices a payment or credit memo is applied to (sorted TxnIDs)."""
    found: set[str] = set()
    for key in ("applied_to_txns", "linked_txns"):
        for a in record.get(key) or []:
            if isinstance(a, dict) and a.get("txn_id") and a.get("txn_type") in (None, "Invoice"):
                found.add(str(a["txn_id"]))
    return tuple(sorted(found))


@dataclass(slots=True)
class HandoffResult:
    """Per batch (queued, unchanged) and review mark, the records a re-read was asked for, by
    entity, and the (entity, id) of the records sent whose version was implausible (see
    vetting.vouched_version)."""

    counts: list[tuple[int, int]] = field(default_factory=list)
    refetch: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    implausible: list[tuple[str, str]] = field(default_factory=list)
    marks: list[str | None] = field(default_factory=list)


# Given the records that go, per batch, the review mark of each batch (see HandOff.__call__).
Review = Callable[[list[list[dict[str, Any]]]], Sequence[str | None]]


class HandOff:
    """Decides, sends and records one exchange's records for one source."""

    def __init__(
        self,
        source: str,
        mappings: MappingStore,
        queue: RecordQueue,
        payloads: PayloadStore | None,
        clock: Callable[[], float],
        in_flight_seconds: float,
        refetch: SyncStateStore | None = None,
    ) -> None:
        self.refetch = refetch
        self.source = source
        self.mappings = mappings
        self.queue = queue
        self.payloads = payloads
        self.clock = clock
        self.in_flight_seconds = in_flight_seconds

    def __call__(
        self,
        tenant: str,
        batches: Sequence[list[dict[str, Any]]],
        forced: frozenset[tuple[str, str]] = frozenset(),
        review: Review | None = None,
        links: dict[tuple[str, str], str] | None = None,
    ) -> HandoffResult:
        """Queue what must go, then record the hand-offs; StoreError when the queue refused.

        ``forced`` names (entity, id) pairs read again on request: they go unless ZOHO holds
        their content or it is in flight, even when the same content is parked. ``review`` is
        given, per batch, the records that go (not those left out as unchanged, so a record
        read again is not weighed twice) and answers per batch the mark its messages carry for
        a person to confirm (see Envelope.review; None: no mark). ``links`` maps (entity, id)
        of records a write-back produced to the ZOHO record they were written from
        (Envelope.link, "Module/zoho_id"): those always go, since the link is news to ZOHO.
        """
        now = self.clock()
        result = HandoffResult()
        known = self._known(tenant, [r for records in batches for r in records])
        going: list[list[tuple[dict[str, Any], Envelope, str, str, Mapping | None]]] = []
        for records in batches:
            batch = []
            unchanged = 0
            for record in records:
                envelope = _envelope(tenant, self.source, record, now)
                entity, sid = _target(record)
                vouched = vouched_version(envelope.version, now)
                if vouched is not None:
                    envelope = replace(envelope, version=vouched)
                row = known.get((entity, sid))
                link = (links or {}).get((entity, sid))
                if link:
                    envelope = replace(envelope, link=link)
                elif self._skip(envelope, row, now, (entity, sid) in forced):
                    unchanged += 1
                    continue
                if vouched is not None:
                    result.implausible.append((entity, sid))
                batch.append((record, envelope, entity, sid, row))
            going.append(batch)
            result.counts.append((len(batch), unchanged))
        if review is not None:
            result.marks = list(review([[g[0] for g in batch] for batch in going]))
        messages: list[QueueMessage] = []
        handoffs: list[Handoff] = []
        for index, batch in enumerate(going):
            mark = result.marks[index] if index < len(result.marks) else None
            for record, envelope, entity, sid, row in batch:
                if mark:
                    envelope = replace(envelope, review=mark)
                links = self._links(record, entity, row, result)
                fitted, body = self._fitted(envelope)
                messages.append(QueueMessage(tenant, body, fitted.dedup_id))
                handoffs.append(
                    Handoff(
                        tenant,
                        self.source,
                        entity,
                        sid,
                        envelope.content_hash,
                        envelope.version,
                        now,
                        links,
                    )
                )
        if self.refetch is not None:
            # Before the send: once the payment is handed off, nothing else would bring its
            # invoices' new balances (a re-read too many is harmless).
            for entity, ids in result.refetch.items():
                if ids:
                    self.refetch.request_refetch(tenant, self.source, entity, sorted(ids))
        if messages:
            self.queue.send(messages)
            try:
                self.mappings.record_handoffs(handoffs)
            except StoreError as exc:
                # The records are on their way; without the note they only count as not in
                # flight, so a later session may send them once more (harmless: idempotent).
                log.error("could not record %d hand-off(s): %s", len(handoffs), exc)
        return result

    def _known(self, tenant: str, records: list[dict[str, Any]]) -> dict[tuple[str, str], Mapping]:
        by_entity: dict[str, list[str]] = defaultdict(list)
        for record in records:
            entity, sid = _target(record)
            by_entity[entity].append(sid)
        known: dict[tuple[str, str], Mapping] = {}
        for entity, ids in by_entity.items():
            for sid, row in self.mappings.get_many(tenant, self.source, entity, ids).items():
                known[(entity, sid)] = row
        return known

    def _skip(self, envelope: Envelope, row: Mapping | None, now: float, forced: bool) -> bool:
        if row is None:
            return False
        return self._settled(row, envelope.content_hash, now, forced)

    def delivered_as_handed(self, row: Mapping, now: float) -> bool:
        """True when the content last handed off for ``row`` needs no sending again: ZOHO holds
        it, it is in flight or parked (what a re-read of that very content would decide)."""
        return bool(row.handed_hash) and self._settled(row, row.handed_hash, now, False)

    def _settled(self, row: Mapping, digest: str, now: float, forced: bool) -> bool:
        """True when content ``digest`` of ``row``'s record is left out (see the module)."""
        # ZOHO has it, and nothing else is on its way: content handed off since (a change then
        # undone in QuickBooks) could still land after it, so this version must follow.
        outstanding = row.handed_hash not in ("", digest, row.applied_hash)
        if row.applied_hash == digest and row.status != DeliveryStatus.CONFLICT:
            return not outstanding
        if row.in_flight(digest, now, self.in_flight_seconds):
            return True  # on its way (an outcome after the hand-off ends this)
        # Parked with this very content: a re-drive sends it, or a re-read that asked for it.
        return not forced and row.status == DeliveryStatus.PARKED and row.handed_hash == digest

    def _links(
        self, record: dict[str, Any], entity: str, row: Mapping | None, result: HandoffResult
    ) -> tuple[str, ...] | None:
        if entity not in LINKING_ENTITIES:
            return None
        # A deletion unlinks everything; a change may unlink some invoices and link others.
        new = () if record.get("entity") != entity else links_of(record)
        old = row.links if row is not None else ()
        result.refetch[LINKED_ENTITY].update(old, new)
        return new

    def _fitted(self, envelope: Envelope) -> tuple[Envelope, str]:
        """The envelope as it travels (the record or its claim check) and its message body."""
        body = envelope.to_json()
        # The body is ASCII (the encoder escapes the rest), so its length is its size in bytes.
        if len(body) <= MAX_MESSAGE_BYTES - ENVELOPE_HEADROOM:
            return envelope, body
        if self.payloads is None:
            raise StoreError(
                f"{envelope.entity} {envelope.source_id} is larger than one queue message and "
                "no payload store is configured for the claim check"
            )
        key = envelope.claim_key
        self.payloads.put(key, json.dumps(envelope.record, sort_keys=True).encode("utf-8"))
        checked = envelope.checked(key)
        return checked, checked.to_json()


def _target(record: dict[str, Any]) -> tuple[str, str]:
    try:
        return target(record)
    except IdentityError as exc:
        raise StoreError(str(exc)) from None


def _envelope(tenant: str, source: str, record: dict[str, Any], now: float) -> Envelope:
    try:
        return Envelope.of(tenant, source, record, now)
    except IdentityError as exc:
        raise StoreError(str(exc)) from None
