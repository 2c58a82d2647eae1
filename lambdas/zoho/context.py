"""One tenant's share of a forwarder batch: its configuration, client, mappings and outcomes.

Every message read in the batch is a ``Msg``. The context remembers the mapping rows it read,
claims versions before ZOHO writes, collects the forwarder's outcome writes and parks what
failed, and writes it all at the end (``finish``), dead letters first.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..model.envelope import Envelope
from ..model.identity import target, version_order
from ..store.keys import mapping_key
from ..store.ports import (
    Claim,
    DeadLetter,
    DeadLetterQueue,
    DeliveryOutcome,
    DeliveryStatus,
    Mapping,
    MappingStore,
    StoreError,
    SyncStateStore,
)
from .client import ZohoClient
from .mapping import MappingConfig
from .outcomes import ForwardReport, Outcome, Status

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Msg:
    """A message of the batch and how far its handling got."""

    key: str
    body: str
    envelope: Envelope
    record: dict[str, Any]
    deliveries: int = 1
    parts: dict[str, str] = field(default_factory=dict)  # module -> "ok" | "retry" | "failed"
    failure: str = ""
    failure_entity: str = ""  # the mapping row the failure belongs to (a contact's own row)
    waiting: str = ""  # why it must come again (a parent not in ZOHO yet)
    # Written by a call with a timed-out attempt, whose work ZOHO may do after later writes.
    in_doubt: bool = False
    # (module, ZOHO id) of the record it was written back from (see links); inherited by a
    # newer version of the same record in the batch.
    link: tuple[str, str] | None = None
    note: str = ""  # said with an applied outcome (a linked record found deleted)

    @property
    def entity(self) -> str:
        return self.envelope.entity

    @property
    def source(self) -> str:
        return self.envelope.source

    @property
    def source_id(self) -> str:
        return self.envelope.source_id

    @property
    def version(self) -> str:
        return self.envelope.version

    @property
    def content_hash(self) -> str:
        return self.envelope.content_hash


@dataclass(slots=True)
class Redelete:
    """A record whose deletion a write of ``msg`` may have undone in ZOHO."""

    msg: Msg
    entity: str
    source_id: str
    zoho_id: str | None


@dataclass(slots=True)
class Ports:
    """What every tenant context of a forwarder shares."""

    mappings: MappingStore
    dead_letters: DeadLetterQueue
    refetch: SyncStateStore | None
    clock: Callable[[], float]


class TenantContext:
    """One tenant's run over a batch, with a valid mapping configuration."""

    def __init__(
        self,
        ports: Ports,
        tenant: str,
        config: MappingConfig,
        client: Callable[[], ZohoClient],
        msgs: list[Msg],
        report: ForwardReport,
        today: date,
    ) -> None:
        self.ports = ports
        self.tenant = tenant
        self.config = config
        self._make_client = client
        self._client: ZohoClient | None = None
        self.msgs = msgs
        self.report = report
        self.today = today
        # One token per run: it names this forwarder's claims.
        self.token = secrets.token_hex(8)
        self.known: dict[tuple[str, str, str], Mapping] = {}
        self.writes: list[tuple[Msg, DeliveryOutcome]] = []
        self.letters: list[tuple[Msg, str]] = []
        # Records a write may have reached after their deletion: deleted again at the end of
        # the run (by ZOHO id, or looked up by QuickBooks id when no id is known).
        self.redelete: list[Redelete] = []
        # Redelivered messages that lost to a newer version (see ``suspect``).
        self.suspects: list[tuple[Msg, tuple[str, ...]]] = []
        # Linked versions that lost to a newer one: only their link is written (see links).
        self.relinks: list[Msg] = []

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def client(self) -> ZohoClient:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def settle_costs(self) -> None:
        """Add the client's calls to the report."""
        if self._client is not None:
            self.report.calls += self._client.calls
            self.report.token_calls += self._client.token_calls

    def outcome(self, msg: Msg, status: Status, reason: str = "") -> None:
        self.report.outcomes[msg.key] = Outcome(status, reason)

    def decided(self, msg: Msg) -> bool:
        return msg.key in self.report.outcomes

    def pending(self) -> list[Msg]:
        return [m for m in self.msgs if not self.decided(m)]

    def load(self, source: str, entity: str, ids: Sequence[str]) -> None:
        """Read the mappings of ``ids`` not read yet in this run."""
        wanted = [i for i in dict.fromkeys(ids) if (source, entity, i) not in self.known]
        if wanted:
            found = self.ports.mappings.get_many(self.tenant, source, entity, wanted)
            for sid, m in found.items():
                self.known[(source, entity, sid)] = m

    def mapping(self, source: str, entity: str, sid: str) -> Mapping | None:
        return self.known.get((source, entity, sid))

    # --- claims and outcomes ----------------------------------------------------------------

    def claim(self, msgs: list[Msg], store_entities: Sequence[str]) -> list[Msg]:
        """Claim each message's version in every row it writes; those that lost are stale."""
        claims = [
            Claim(self.tenant, m.source, e, m.source_id, m.version, self.token, m.envelope.read_at)
            for m in msgs
            for e in store_entities
        ]
        lost = self.ports.mappings.claim_many(claims)
        lost_records = {(c.source, c.source_id) for c in claims if c.key in lost}
        out = []
        for m in msgs:
            if (m.source, m.source_id) in lost_records:
                self.outcome(m, Status.STALE, "a newer version of the record is being written")
                self.suspect(m, store_entities)
                # Not stale when read a moment ago: a concurrent claim of this version or a
                # newer one won; relays' clocks may disagree on which read is later, so
                # QuickBooks is asked once more (the re-read is later than both).
                self.reread(m)
            else:
                out.append(m)
        return out

    def unchanged(self, msgs: list[Msg], store_entities: Sequence[str]) -> None:
        """``msgs`` claimed content ZOHO already holds: each hand-off is answered all the same.

        Without an outcome the row would say "handed off, no answer since" for the whole
        in-flight horizon (the audit would not judge it meanwhile). The rows are read again
        after the claim: one a conflict marked meanwhile is left to its re-read.
        """
        for m in msgs:
            self.outcome(m, Status.UNCHANGED)
        for source in {m.source for m in msgs}:
            ids = [m.source_id for m in msgs if m.source == source]
            rows = {
                e: self.ports.mappings.get_many(self.tenant, source, e, ids) for e in store_entities
            }
            for m in (m for m in msgs if m.source == source):
                held = [(e, r[m.source_id]) for e, r in rows.items() if m.source_id in r]
                if all(
                    r.status == DeliveryStatus.SYNCED and r.applied_hash == m.content_hash
                    for _, r in held
                ):
                    for e, r in held:
                        self.synced(m, e, r.zoho_module, r.zoho_id, r.applied_fields)

    def reread(self, m: Msg) -> None:
        """Ask the relay to read ``m``'s record again (best effort)."""
        if self.ports.refetch is None:
            return
        try:
            self.ports.refetch.request_refetch(self.tenant, m.source, m.entity, [m.source_id])
        except StoreError as exc:
            log.warning("tenant %s: re-read of %s not requested: %s", self.tenant, m.key, exc)

    def is_stale(self, m: Msg, stored: Mapping | None) -> str:
        """Why ``m`` must not be written over what is stored ("" when it may)."""
        if stored is None:
            return ""
        if stored.status == DeliveryStatus.DELETED:
            return "the record was deleted in QuickBooks"
        if stored.claimed_order is not None and version_order(m.version) < stored.claimed_order:
            return f"version {m.version} is older than one already written"
        same = stored.claimed_order is not None and version_order(m.version) == stored.claimed_order
        if same and (stored.claimed_read or 0.0) > m.envelope.read_at:
            # An earlier read of the same version, delivered late (an invoice's balance changes
            # without a new EditSequence when a payment applied to it is voided). With other
            # content than what was written, QuickBooks is asked once more: relays' clocks may
            # disagree on which read is later.
            if m.content_hash != stored.applied_hash:
                self.reread(m)
            return f"an earlier read of version {m.version} than one already written"
        return ""

    def synced(
        self,
        m: Msg,
        entity: str,
        module: str,
        zoho_id: str | None,
        applied_fields: dict[str, str] | None = None,
    ) -> None:
        """``m``'s content is in ZOHO as ``module``/``zoho_id``, with ``applied_fields`` (the
        write-back fields' values written there)."""
        self._write(
            m,
            DeliveryOutcome(
                self.tenant,
                m.source,
                entity,
                m.source_id,
                DeliveryStatus.SYNCED,
                m.version,
                self.ports.clock(),
                content_hash=m.content_hash,
                zoho_module=module,
                zoho_id=zoho_id,
                token=self.token,
                applied_fields=dict(applied_fields or {}),
            ),
        )

    def deleted(self, m: Msg, entity: str, sid: str) -> None:
        """The record ``entity``/``sid`` that ``m`` deletes is gone or marked in ZOHO."""
        self._write(
            m,
            DeliveryOutcome(
                self.tenant,
                m.source,
                entity,
                sid,
                DeliveryStatus.DELETED,
                m.version,
                self.ports.clock(),
                content_hash=m.content_hash,
            ),
        )

    def ignore(self, m: Msg, reason: str, entity: str | None = None) -> None:
        """The mapping leaves ``m`` out: recorded, so the relay sends it again when re-read."""
        self.outcome(m, Status.IGNORED, reason)
        self._write(m, self._unapplied(m, DeliveryStatus.IGNORED, reason, entity))

    def park(self, m: Msg, reason: str, entity: str | None = None) -> None:
        """Give up on ``m``: a dead letter with the reason, and the mapping says so."""
        self.outcome(m, Status.PARKED, reason)
        self.letters.append((m, reason))
        self._write(m, self._unapplied(m, DeliveryStatus.PARKED, reason, entity))

    def _unapplied(
        self, m: Msg, status: DeliveryStatus, reason: str, entity: str | None
    ) -> DeliveryOutcome:
        return DeliveryOutcome(
            self.tenant,
            m.source,
            entity or target(m.record)[0],
            m.source_id,
            status,
            m.version,
            self.ports.clock(),
            last_error=reason,
        )

    def record(self, m: Msg, outcome: DeliveryOutcome) -> None:
        """Write ``outcome`` (of ``m``) at the end of the run, with the others."""
        self._write(m, outcome)

    def _write(self, m: Msg, outcome: DeliveryOutcome) -> None:
        self.writes.append((m, outcome))
        row = self.known.get((outcome.source, outcome.entity, outcome.source_id))
        if row is not None and outcome.status == DeliveryStatus.SYNCED:
            row.zoho_id, row.zoho_module = outcome.zoho_id, outcome.zoho_module
            row.applied_hash, row.status = outcome.content_hash, outcome.status
            row.applied_fields = dict(outcome.applied_fields)
        elif row is not None and outcome.status == DeliveryStatus.CONFLICT and outcome.zoho_id:
            row.zoho_id, row.zoho_module = outcome.zoho_id, outcome.zoho_module
            row.status, row.last_error = outcome.status, outcome.last_error
        elif row is None:
            self.known[(outcome.source, outcome.entity, outcome.source_id)] = Mapping(
                self.tenant,
                outcome.source,
                outcome.entity,
                outcome.source_id,
                zoho_module=outcome.zoho_module,
                zoho_id=outcome.zoho_id,
                applied_hash=outcome.content_hash,
                status=outcome.status,
                last_error=outcome.last_error,
                applied_fields=dict(outcome.applied_fields),
            )
        else:
            row.status, row.last_error = outcome.status, outcome.last_error

    def _deleted_meanwhile(
        self, rows: list[tuple[Msg, str, str, str, str | None]]
    ) -> set[tuple[str, str, str]]:
        """Rows whose record was deleted meanwhile: a write that landed after the deletion is
        deleted again (there is nothing to re-read)."""
        gone: set[tuple[str, str, str]] = set()
        for m, source, entity, sid, zoho_id in rows:
            row = self.ports.mappings.get(self.tenant, source, entity, sid)
            if row is not None and row.status == DeliveryStatus.DELETED:
                # No id known: the write that may have landed (a forwarder that died after it)
                # created the record, so it is looked up by its QuickBooks id.
                self.redelete.append(Redelete(m, entity, sid, zoho_id or row.zoho_id))
                gone.add((source, entity, sid))
        return gone

    # --- the end of a run -------------------------------------------------------------------

    def finish(self) -> None:
        """Park, then write the outcomes; a write that lost to a newer version is a conflict."""
        if self.letters and not self._send_letters():
            parked = {id(m) for m, _ in self.letters}
            self.writes = [(m, o) for m, o in self.writes if id(m) not in parked]
        lost: list[DeliveryOutcome] = []
        if self.writes:
            try:
                lost = self.ports.mappings.record_outcomes([o for _, o in self.writes])
            except StoreError as exc:
                log.error(
                    "tenant %s: could not store %d outcome(s): %s",
                    self.tenant,
                    len(self.writes),
                    exc,
                )
                for m, _ in self.writes:
                    status = self.report.outcomes.get(m.key, Outcome(Status.RETRY)).status
                    if status == Status.APPLIED:
                        self.outcome(m, Status.RETRY, f"mapping store: {exc}")
                # A suspect must not leave the queue before its conflict is recorded.
                for m, _ in self.suspects:
                    self.outcome(m, Status.RETRY, f"mapping store: {exc}")
                return
        lost_keys = {o.key for o in lost if o.status == DeliveryStatus.SYNCED}
        # An unchanged message wrote nothing to ZOHO: its answer losing is no conflict.
        wrote_nothing = {k for k, o in self.report.outcomes.items() if o.status == Status.UNCHANGED}
        rows = {
            (m.key, o.key): (m, o.source, o.entity, o.source_id, o.zoho_id)
            for m, o in self.writes
            if o.key in lost_keys and m.key not in wrote_nothing
        }
        for m, entities in self.suspects:
            for e in entities:
                key = mapping_key(self.tenant, m.source, e, m.source_id)
                rows.setdefault((m.key, key), (m, m.source, e, m.source_id, None))
        if rows:
            self._conflicts(list(rows.values()))

    def suspect(self, m: Msg, entities: Sequence[str]) -> None:
        """``m`` lost to a newer version on a redelivery: an earlier delivery may have written
        ZOHO and died before recording it, so ZOHO may hold this older version."""
        if m.deliveries > 1:
            self.suspects.append((m, tuple(entities)))

    def _send_letters(self) -> bool:
        now = self.ports.clock()
        letters = [DeadLetter(self.tenant, m.body, reason, now) for m, reason in self.letters]
        try:
            self.ports.dead_letters.send(letters)
        except StoreError as exc:
            log.error("could not park %d record(s): %s; they stay on the queue", len(letters), exc)
            for m, _ in self.letters:
                self.outcome(m, Status.RETRY, f"dead-letter queue unavailable: {exc}")
            return False
        self.report.failed += len(letters)
        return True

    def _conflicts(self, rows: list[tuple[Msg, str, str, str, str | None]]) -> None:
        """ZOHO may now hold an older version than the mapping store says.

        Mark the rows (every writer still in flight then loses too) and ask the relay to read
        the records again, so ZOHO ends on QuickBooks' current version whatever the order. The
        messages leave the queue only once that is stored; otherwise they come again.
        """
        for m, *_ in rows:
            self.outcome(m, Status.STALE, "lost to a concurrent write; re-read requested")
        try:
            gone = self._deleted_meanwhile(rows)
        except StoreError as exc:
            for m, *_ in rows:
                self.outcome(m, Status.RETRY, f"conflict not recorded: {exc}")
            return
        rows = [r for r in rows if (r[1], r[2], r[3]) not in gone]
        if not rows:
            return
        marks = {
            mapping_key(self.tenant, source, entity, sid): DeliveryOutcome(
                self.tenant,
                source,
                entity,
                sid,
                DeliveryStatus.CONFLICT,
                m.version,
                self.ports.clock(),
                last_error="a concurrent write of another version; re-read requested",
                token=secrets.token_hex(8),
            )
            for m, source, entity, sid, _ in rows
        }
        log.warning(
            "tenant %s: %d ZOHO write(s) may have lost to a concurrent version; re-reading them",
            self.tenant,
            len(marks),
        )
        by_entity: dict[tuple[str, str], list[str]] = {}
        for _, source, entity, sid, _ in rows:
            spec = self.config.spec_for_store_entity(entity)
            canonical = spec.entity if spec is not None else entity
            by_entity.setdefault((source, canonical), []).append(sid)
        try:
            self.ports.mappings.record_outcomes(list(marks.values()))
            if self.ports.refetch is not None:
                for (source, entity), ids in by_entity.items():
                    self.ports.refetch.request_refetch(self.tenant, source, entity, ids)
        except StoreError as exc:
            log.error("tenant %s: could not mark conflicts: %s; retrying later", self.tenant, exc)
            for m, *_ in rows:
                self.outcome(m, Status.RETRY, f"conflict not recorded: {exc}")
            return
        self.report.conflicts += len(marks)
