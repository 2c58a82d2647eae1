"""The ZOHO forwarder core: record-queue messages in, ZOHO CRM records and mappings out.

One ``ZohoForwarder.forward`` call handles a batch of messages (any tenants, any order). Every
message ends with one outcome:

- ``applied``: the record is in ZOHO (mapping ``synced``);
- ``unchanged``: same content as already synced, so no call at all;
- ``stale``: older than what the mapping store says was applied (or superseded within the
  batch, or the record was deleted): skipped, never overwriting newer data;
- ``ignored``: the tenant's mapping leaves the entity out;
- ``parked``: ZOHO refused it for good (or its parent was refused): mapping ``failed`` with
  ZOHO's code and message, and the message on the dead-letter queue with that reason;
- ``retry``: not handled now (transient trouble, a paused tenant, a parent not yet in ZOHO);
  the caller leaves it on the queue.

Parents go before children: customers (jobs after their parents), items, then transactions,
then payments and deletions. Writes are upserts of up to 100 records on the external-id field,
always with explicit ``duplicate_check_fields`` and the tenant's ``trigger`` list.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..store.ports import (
    DeadLetter,
    DeadLetterQueue,
    ForwarderState,
    Mapping,
    MappingStore,
    StoreError,
)
from ..sync.changes import content_hash
from .client import MAX_RECORDS, RecordResult, ZohoClient
from .errors import (
    ZohoConfigError,
    ZohoCreditsExhausted,
    ZohoError,
    ZohoRequestError,
    ZohoTokenThrottled,
    ZohoUnavailable,
)
from .mapping import EntitySpec, MappingConfig, MappingError, build_config, payment_status
from .transform import ZohoWrite, build_write, deletion_target, source_id

log = logging.getLogger(__name__)

SOURCE = "qbd"
UNKNOWN_TENANT = "(unknown)"
# Parents before children.
ENTITY_ORDER = (
    "Customer",
    "Item",
    "Estimate",
    "SalesOrder",
    "Invoice",
    "SalesReceipt",
    "CreditMemo",
)
DELETIONS = ("ListDeleted", "TxnDeleted")
PAYMENT = "ReceivePayment"
# Per-record codes worth another try later; everything else needs a person.
RETRY_CODES = {"INTERNAL_ERROR", "TOO_MANY_REQUESTS"}
_EXTERNAL_LOOKUP = re.compile(r"external", re.IGNORECASE)


def version_of(record: dict[str, Any]) -> str:
    """The record's version: EditSequence, else TimeModified (TimeDeleted for deletions)."""
    return str(
        record.get("edit_sequence")
        or record.get("time_modified")
        or record.get("time_deleted")
        or ""
    )


def _as_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_older(incoming: str, stored: str) -> bool:
    """True when version ``incoming`` is strictly older than ``stored``.

    EditSequences are numbers (QuickBooks increases them on every change); TimeModified values
    are ISO timestamps. Versions that cannot be compared are not called older.
    """
    if not incoming or not stored:
        return False
    if incoming.isdigit() and stored.isdigit():
        return int(incoming) < int(stored)
    a, b = _as_time(incoming), _as_time(stored)
    if a is not None and b is not None:
        return a < b
    return False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message."""

    status: str  # applied | unchanged | stale | ignored | parked | retry
    reason: str = ""


@dataclass(slots=True)
class ForwardReport:
    """The outcomes of a batch by message key, and what it cost."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    succeeded: int = 0  # ZOHO records written
    failed: int = 0  # records parked
    calls: int = 0  # ZOHO API calls (retries included)
    token_calls: int = 0

    def count(self, status: str) -> int:
        """How many messages ended with ``status``."""
        return sum(1 for o in self.outcomes.values() if o.status == status)


@dataclass(slots=True)
class _Msg:
    key: str
    body: str
    tenant: str
    record: dict[str, Any]
    entity: str
    source_id: str
    version: str
    content_hash: str
    parts: dict[str, str] = field(default_factory=dict)  # module -> "ok" | "retry" | "failed"
    failure: str = ""
    waiting: str = ""  # why it must come again (a parent not in ZOHO yet)
    deliveries: int = 1


def parse_message(body: str) -> tuple[str, str, dict[str, Any], str]:
    """(tenant, source, record, content_hash) of a record-queue message; ValueError if malformed."""
    data = json.loads(body)
    if not isinstance(data, dict) or not isinstance(data.get("record"), dict):
        raise ValueError("not a record message (no record object)")
    tenant, record = data.get("tenant"), data["record"]
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("no tenant")
    if not isinstance(record.get("entity"), str):
        raise ValueError("the record has no entity")
    digest = data.get("content_hash")
    if not isinstance(digest, str) or not digest:
        # A message without the hash (another producer): hash as the relay does.
        digest = content_hash(record)
    return tenant, str(data.get("source") or SOURCE), record, digest


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
    ) -> None:
        self.mappings = mappings
        self.state = state
        self.dead_letters = dead_letters
        self.clients = clients
        self.clock = clock
        self.credit_pause_seconds = credit_pause_seconds
        self.config_pause_seconds = config_pause_seconds
        self.park_after_deliveries = park_after_deliveries

    def forward(
        self, messages: Sequence[tuple[str, str]], deliveries: dict[str, int] | None = None
    ) -> ForwardReport:
        """Handle ``messages`` (key, body); every key gets an outcome in the report.

        ``deliveries`` (by key) says how often the queue has delivered a message: one still
        waiting for its parent after ``park_after_deliveries`` is parked with that reason, rather
        than left for the queue to dead-letter without one.
        """
        report = ForwardReport()
        by_tenant: dict[str, list[_Msg]] = defaultdict(list)
        malformed: list[DeadLetter] = []
        malformed_keys: list[str] = []
        for key, body in messages:
            try:
                tenant, source, record, content_hash = parse_message(body)
                if source != SOURCE:
                    raise ValueError(f"unknown source {source!r}")
            except ValueError as exc:
                reason = f"malformed record message: {exc}"
                report.outcomes[key] = Outcome("parked", reason)
                malformed.append(DeadLetter(UNKNOWN_TENANT, body, reason))
                malformed_keys.append(key)
                continue
            entity = str(record["entity"])
            sid = source_id(record) if entity not in DELETIONS else deletion_target(record)[1]
            msg = _Msg(key, body, tenant, record, entity, sid, version_of(record), content_hash)
            msg.deliveries = (deliveries or {}).get(key, 1)
            by_tenant[tenant].append(msg)
        if malformed:
            self._park_letters(malformed, report, malformed_keys)
        for tenant, msgs in by_tenant.items():
            _TenantRun(self, tenant, msgs, report).run()
        return report

    def _park_letters(
        self, letters: list[DeadLetter], report: ForwardReport, keys: list[str]
    ) -> bool:
        try:
            self.dead_letters.send(letters)
        except StoreError as exc:
            log.error("could not park %d record(s): %s; they stay on the queue", len(letters), exc)
            for key in keys:
                report.outcomes[key] = Outcome("retry", f"dead-letter queue unavailable: {exc}")
            return False
        report.failed += len(letters)
        return True


class _TenantRun:
    """One tenant's share of a batch."""

    def __init__(
        self, fwd: ZohoForwarder, tenant: str, msgs: list[_Msg], report: ForwardReport
    ) -> None:
        self.fwd = fwd
        self.tenant = tenant
        self.msgs = msgs
        self.report = report
        self.today = datetime.fromtimestamp(fwd.clock(), UTC).date()
        self._client: ZohoClient | None = None
        self.config: MappingConfig | None = None
        # Mappings known in this run (read or just written), by (entity, source id).
        self.known: dict[tuple[str, str], Mapping] = {}
        self.writes: dict[tuple[str, str], Mapping] = {}

    # --- plumbing ---------------------------------------------------------------------------

    @property
    def client(self) -> ZohoClient:
        if self._client is None:
            self._client = self.fwd.clients(self.tenant)
        return self._client

    def outcome(self, msg: _Msg, status: str, reason: str = "") -> None:
        self.report.outcomes[msg.key] = Outcome(status, reason)

    def pending(self) -> list[_Msg]:
        return [m for m in self.msgs if m.key not in self.report.outcomes]

    def load(self, entity: str, ids: Sequence[str]) -> None:
        wanted = [i for i in dict.fromkeys(ids) if (entity, i) not in self.known]
        if wanted:
            found = self.fwd.mappings.get_many(self.tenant, SOURCE, entity, wanted)
            for sid, m in found.items():
                self.known[(entity, sid)] = m

    def mapping(self, entity: str, sid: str) -> Mapping | None:
        return self.known.get((entity, sid))

    def remember(self, m: Mapping) -> None:
        m.updated_at = self.fwd.clock()
        self.known[(m.entity, m.source_id)] = m
        self.writes[(m.entity, m.source_id)] = m

    # --- the run ----------------------------------------------------------------------------

    def run(self) -> None:
        pause = self.fwd.state.paused(self.tenant, self.fwd.clock())
        if pause is not None:
            for m in self.msgs:
                self.outcome(m, "retry", f"forwarding paused: {pause.reason}")
            return
        try:
            self.config = build_config(
                self.fwd.state.get_mapping(self.tenant), origin=f"mapping of tenant {self.tenant}"
            )
            self._route()
        except MappingError as exc:
            self._stop(ZohoConfigError(str(exc)))
        except ZohoCreditsExhausted as exc:
            until = self.fwd.clock() + self.fwd.credit_pause_seconds
            log.warning(
                "tenant %s: %s; pausing forwarding for %.0f s",
                self.tenant,
                exc,
                self.fwd.credit_pause_seconds,
            )
            self.fwd.state.pause(self.tenant, until, f"ZOHO API credits exhausted? {exc}")
            self._retry_rest(f"paused: {exc}")
        except ZohoTokenThrottled as exc:
            log.warning("tenant %s: %s", self.tenant, exc)
            self.fwd.state.pause(self.tenant, exc.until, str(exc))
            self._retry_rest(str(exc))
        except ZohoConfigError as exc:
            self._stop(exc)
        except ZohoUnavailable as exc:
            log.warning("tenant %s: ZOHO unavailable: %s", self.tenant, exc)
            self._retry_rest(str(exc))
        except StoreError as exc:
            log.error("tenant %s: store unavailable: %s", self.tenant, exc)
            self._retry_rest(str(exc))
        finally:
            if self._client is not None:
                self.report.calls += self._client.calls
                self.report.token_calls += self._client.token_calls
            self._finish()

    def _stop(self, exc: ZohoError) -> None:
        message = f"ZOHO forwarding for tenant {self.tenant} stopped: {exc}"
        log.error(message)
        until = self.fwd.clock() + self.fwd.config_pause_seconds
        self.fwd.state.pause(self.tenant, until, str(exc))
        self._retry_rest(message)

    def _retry_rest(self, reason: str) -> None:
        for m in self.pending():
            self.outcome(m, "retry", reason)

    def _route(self) -> None:
        assert self.config is not None
        upserts: list[_Msg] = []
        payments: list[_Msg] = []
        deletions: list[_Msg] = []
        for m in self.msgs:
            if m.entity in DELETIONS:
                deletions.append(m)
            elif m.entity == PAYMENT and self.config.payment is not None:
                payments.append(m)
            elif self.config.spec(m.entity) is not None:
                upserts.append(m)
            else:
                self.outcome(m, "ignored", f"the mapping leaves {m.entity} out")
        for entity in ENTITY_ORDER:
            batch = [m for m in upserts if m.entity == entity]
            if batch:
                self._upsert_entity(entity, self._current(entity, batch))
        if payments:
            self._payments(self._current(PAYMENT, payments))
        if deletions:
            self._deletions(deletions)

    def _current(self, entity: str, msgs: list[_Msg]) -> list[_Msg]:
        """The messages still worth applying: newest per record, newer than the store's."""
        assert self.config is not None
        newest: dict[str, _Msg] = {}
        for m in msgs:
            held = newest.get(m.source_id)
            if held is None or is_older(held.version, m.version):
                if held is not None:
                    self.outcome(held, "stale", "superseded by a newer version in the batch")
                newest[m.source_id] = m
            else:
                self.outcome(m, "stale", "superseded by a newer version in the batch")
        ids = list(newest)
        self.load(entity, ids)
        spec = self.config.spec(entity)
        contact = spec.contact if spec is not None else None
        if contact is not None:
            self.load(contact.store_entity, ids)
        out = []
        for sid, m in newest.items():
            stored = self.mapping(entity, sid)
            if stored is not None and stored.status == "deleted":
                self.outcome(m, "stale", "the record was deleted in QuickBooks")
            elif stored is not None and is_older(m.version, stored.version):
                self.outcome(m, "stale", f"version {m.version} is older than {stored.version}")
            elif self._unchanged(m, stored, contact):
                self.outcome(m, "unchanged")
            else:
                out.append(m)
        return out

    def _unchanged(self, m: _Msg, stored: Mapping | None, contact: EntitySpec | None) -> bool:
        if stored is None or stored.status != "synced" or stored.content_hash != m.content_hash:
            return False
        if contact is None:
            return True
        c = self.mapping(contact.store_entity, m.source_id)
        if c is None:
            # Unchanged only if the customer names no person, so no contact is due.
            return build_write(contact, m.record, self.today) is None
        return c.status == "synced" and c.content_hash == m.content_hash

    # --- upserts ----------------------------------------------------------------------------

    def _upsert_entity(self, entity: str, msgs: list[_Msg]) -> None:
        assert self.config is not None
        spec = self.config.spec(entity)
        assert spec is not None
        self_parent = any(lk.entity == entity for lk in spec.lookups)
        # A customer's parent must be in ZOHO before its jobs: one wave per sublevel.
        waves: dict[int, list[_Msg]] = defaultdict(list)
        for m in msgs:
            level = int(m.record.get("sublevel") or 0) if self_parent else 0
            waves[level].append(m)
        for level in sorted(waves):
            wave = waves[level]
            self._upsert_part(spec, wave)
            if spec.contact is not None:
                ready = [m for m in wave if not m.failure and m.parts.get(spec.module) == "ok"]
                self._upsert_part(spec.contact, ready)
            for m in wave:
                self._settle(spec, m)

    def _settle(self, spec: EntitySpec, m: _Msg) -> None:
        """The message's outcome and mappings once all its parts have been tried."""
        account = self.mapping(spec.store_entity, m.source_id)
        if m.failure:
            self._park(m, m.failure, spec, account)
        elif any(v == "retry" for v in m.parts.values()):
            if m.waiting and m.deliveries >= self.fwd.park_after_deliveries:
                self._park(m, f"{m.waiting}, still after {m.deliveries} deliveries", spec, account)
            else:
                self.outcome(m, "retry", m.waiting or "ZOHO asked to try again")
        else:
            self.outcome(m, "applied")

    def _park(self, m: _Msg, reason: str, spec: EntitySpec | None, prior: Mapping | None) -> None:
        self.outcome(m, "parked", reason)
        entity = spec.store_entity if spec else m.entity
        fresh = self.writes.get((entity, m.source_id))
        base = fresh or prior
        self.remember(
            Mapping(
                tenant=self.tenant,
                source=SOURCE,
                entity=entity,
                source_id=m.source_id,
                content_hash=m.content_hash,
                zoho_module=spec.module if spec else "",
                zoho_id=base.zoho_id if base else None,
                status="failed",
                last_error=reason,
                version=m.version,
            )
        )

    def _upsert_part(self, spec: EntitySpec, msgs: list[_Msg]) -> None:
        assert self.config is not None
        items: list[tuple[_Msg, ZohoWrite]] = []
        for m in msgs:
            write = build_write(spec, m.record, self.today)
            if write is not None:
                items.append((m, write))
            else:
                m.parts[spec.module] = "ok"  # nothing to write (a customer with no person)
        for start in range(0, len(items), MAX_RECORDS):
            self._upsert_chunk(spec, items[start : start + MAX_RECORDS])

    def _upsert_chunk(self, spec: EntitySpec, items: list[tuple[_Msg, ZohoWrite]]) -> None:
        assert self.config is not None
        by_entity: dict[str, list[str]] = defaultdict(list)
        for _, w in items:
            for p in w.parents:
                by_entity[p.entity].append(p.source_id)
        for entity, ids in by_entity.items():
            self.load(entity, ids)
        external: set[tuple[str, int | None]] = set()
        ready: list[tuple[_Msg, ZohoWrite]] = []
        for m, w in items:
            problem = None
            for p in w.parents:
                parent = self.mapping(p.entity, p.source_id)
                if parent is None or not parent.zoho_id:
                    if parent is not None and parent.status == "failed":
                        problem = (
                            f"its parent {p.entity} {p.source_id} was parked: {parent.last_error}"
                        )
                        break
                    external.add((p.field, p.line is not None))
            if problem:
                m.failure = f"{spec.module}: {problem}"
                m.parts[spec.module] = "failed"
            else:
                ready.append((m, w))
        if not ready:
            return
        headers = []
        for fld, in_lines in sorted(external, key=str):
            parent_spec = self._parent_spec(spec, fld, in_lines)
            path = (
                f"{spec.module}.{spec.lines.field}.{fld}"
                if in_lines and spec.lines
                else (f"{spec.module}.{fld}")
            )
            headers.append(f"{path}.{parent_spec.id_field}")
        bodies = [self._resolved(spec, w, external) for _, w in ready]
        try:
            results = self.client.upsert(
                spec.module, bodies, [spec.id_field], self.config.triggers, headers
            )
        except ZohoRequestError as exc:
            for m, _ in ready:
                m.failure = f"{spec.module}: ZOHO refused the request: {exc}"
                m.parts[spec.module] = "failed"
            return
        for (m, w), result in zip(ready, results, strict=True):
            self._record_result(spec, m, w, result)

    def _parent_spec(self, spec: EntitySpec, fld: str, in_lines: bool) -> EntitySpec:
        assert self.config is not None
        entity = "Item" if in_lines else next(lk.entity for lk in spec.lookups if lk.field == fld)
        parent = self.config.spec(entity)
        if parent is None:
            raise ZohoConfigError(
                f"the mapping of {spec.entity} refers to {entity}, which the mapping leaves out"
            )
        return parent

    def _resolved(
        self, spec: EntitySpec, w: ZohoWrite, external: set[tuple[str, bool]]
    ) -> dict[str, Any]:
        body = dict(w.body)
        if spec.lines is not None:
            body[spec.lines.field] = [dict(r) for r in body.get(spec.lines.field, [])]
        for p in w.parents:
            in_lines = p.line is not None
            parent = self.mapping(p.entity, p.source_id)
            if (p.field, in_lines) in external:
                # Every record of the request names this lookup the same way: by external id.
                value = {self._parent_spec(spec, p.field, in_lines).id_field: p.source_id}
            else:
                assert parent is not None and parent.zoho_id
                value = {"id": parent.zoho_id}
            if in_lines:
                assert spec.lines is not None and p.line is not None
                body[spec.lines.field][p.line][p.field] = value
            else:
                body[p.field] = value
        return body

    def _record_result(self, spec: EntitySpec, m: _Msg, w: ZohoWrite, result: RecordResult) -> None:
        if result.ok and result.zoho_id:
            self.report.succeeded += 1
            m.parts[spec.module] = "ok"
            self.remember(
                Mapping(
                    tenant=self.tenant,
                    source=SOURCE,
                    entity=spec.store_entity,
                    source_id=m.source_id,
                    content_hash=m.content_hash,
                    zoho_module=spec.module,
                    zoho_id=result.zoho_id,
                    status="synced",
                    version=m.version,
                )
            )
            return
        lookup_fields = {p.field for p in w.parents}
        missing_parent = (
            result.code == "INVALID_DATA"
            and result.details.get("api_name") in lookup_fields
            and _EXTERNAL_LOOKUP.search(result.message) is not None
        )
        if missing_parent or result.code in RETRY_CODES:
            # The parent may still be on its way (delivery is unordered): try again later.
            m.parts[spec.module] = "retry"
            if missing_parent:
                m.waiting = f"{spec.module}: a parent is not in ZOHO yet ({result.reason()})"
            return
        m.parts[spec.module] = "failed"
        m.failure = f"{spec.module}: {result.reason()}"
        if spec.store_entity != spec.entity:
            # The contact failed: keep its own failure row too.
            self.remember(
                Mapping(
                    tenant=self.tenant,
                    source=SOURCE,
                    entity=spec.store_entity,
                    source_id=m.source_id,
                    content_hash=m.content_hash,
                    zoho_module=spec.module,
                    status="failed",
                    last_error=m.failure,
                    version=m.version,
                )
            )

    # --- payments ---------------------------------------------------------------------------

    def _payments(self, msgs: list[_Msg]) -> None:
        assert self.config is not None and self.config.payment is not None
        pay = self.config.payment
        invoice_entity = next(
            (e for e, s in self.config.entities.items() if s.module == pay.module), "Invoice"
        )
        targets: dict[str, list[tuple[str, Decimal]]] = {}
        for m in msgs:
            applied = []
            for a in m.record.get("applied_to_txns") or []:
                if not isinstance(a, dict) or a.get("txn_type") not in (None, "Invoice"):
                    continue
                try:
                    balance = Decimal(str(a.get("balance_remaining")))
                except InvalidOperation:
                    continue
                if a.get("txn_id"):
                    applied.append((str(a["txn_id"]), balance))
            targets[m.key] = applied
        self.load(invoice_entity, [t for ts in targets.values() for t, _ in ts])

        def zoho_id(txn: str) -> str | None:
            inv = self.mapping(invoice_entity, txn)
            return inv.zoho_id if inv is not None else None

        # Only partly paid invoices need their due date, which only ZOHO holds here.
        owed = [zoho_id(t) for ts in targets.values() for t, b in ts if b > 0]
        due: dict[str, str] = {}
        unique_owed = list(dict.fromkeys(i for i in owed if i))
        for start in range(0, len(unique_owed), MAX_RECORDS):
            for r in self.client.get_records(
                pay.module, unique_owed[start : start + MAX_RECORDS], [pay.due_date_field]
            ):
                if r.get(pay.due_date_field):
                    due[str(r["id"])] = str(r[pay.due_date_field])
        updates: dict[str, str] = {}
        users: dict[str, list[_Msg]] = defaultdict(list)
        for m in msgs:
            for txn, balance in targets[m.key]:
                zid = zoho_id(txn)
                if zid is None:
                    continue  # not in ZOHO yet: the invoice's own sync carries its status
                updates[zid] = payment_status(
                    {"balance_remaining": str(balance), "due_date": due.get(zid)}, self.today
                )
                users[zid].append(m)
        ids = list(updates)
        failures: dict[str, str] = {}
        for start in range(0, len(ids), MAX_RECORDS):
            chunk = ids[start : start + MAX_RECORDS]
            rows = [{"id": i, pay.status_field: updates[i]} for i in chunk]
            try:
                results = self.client.update(pay.module, rows, self.config.triggers)
            except ZohoRequestError as exc:
                results = [RecordResult(False, exc.code, exc.zoho_message)] * len(chunk)
            for zid, result in zip(chunk, results, strict=True):
                if result.ok:
                    self.report.succeeded += 1
                else:
                    failures[zid] = f"{pay.module} {zid}: {result.reason()}"
        for m in msgs:
            problems = [failures[z] for z, us in users.items() if m in us and z in failures]
            if problems:
                self._park(m, "; ".join(problems), None, None)
                continue
            self.outcome(m, "applied")
            self.remember(
                Mapping(
                    tenant=self.tenant,
                    source=SOURCE,
                    entity=PAYMENT,
                    source_id=m.source_id,
                    content_hash=m.content_hash,
                    zoho_module=pay.module,
                    status="synced",
                    version=m.version,
                )
            )

    # --- deletions --------------------------------------------------------------------------

    def _deletions(self, msgs: list[_Msg]) -> None:
        assert self.config is not None
        policy = self.config.deletion_policy
        todo: dict[str, list[tuple[_Msg, Mapping]]] = defaultdict(list)  # module -> targets
        done: list[_Msg] = []
        for m in msgs:
            entity, sid = deletion_target(m.record)
            spec = self.config.spec(entity)
            if spec is None:
                self.outcome(m, "ignored", f"the mapping leaves {entity or 'it'} out")
                continue
            specs = [s for s in (spec, spec.contact) if s is not None]
            for s in specs:
                self.load(s.store_entity, [sid])
            rows = [self.mapping(s.store_entity, sid) for s in specs]
            if rows[0] is not None and rows[0].status == "deleted":
                self.outcome(m, "unchanged")
                continue
            for s, row in zip(specs, rows, strict=True):
                row = row or Mapping(self.tenant, SOURCE, s.store_entity, sid, zoho_module=s.module)
                if policy != "ignore" and row.zoho_id:
                    todo[s.module].append((m, row))
                else:
                    self._mark_deleted(row, m)
            done.append(m)
        for module, targets in todo.items():
            spec = self.config.spec_for_store_entity(targets[0][1].entity)
            assert spec is not None
            for start in range(0, len(targets), MAX_RECORDS):
                chunk = targets[start : start + MAX_RECORDS]
                results = self._delete_chunk(spec, module, policy, chunk)
                for (m, row), result in zip(chunk, results, strict=True):
                    gone = result.code == "INVALID_DATA" and "id" in str(result.details)
                    if result.ok or gone:
                        self.report.succeeded += int(result.ok)
                        self._mark_deleted(row, m)
                    else:
                        m.failure = f"{module}: {result.reason()}"
        for m in done:
            if m.failure:
                self._park(m, m.failure, None, None)
            else:
                self.outcome(m, "applied")

    def _delete_chunk(
        self, spec: EntitySpec, module: str, policy: str, chunk: list[tuple[_Msg, Mapping]]
    ) -> list[RecordResult]:
        assert self.config is not None
        ids = [row.zoho_id or "" for _, row in chunk]
        try:
            if policy == "delete":
                log.warning(
                    "tenant %s: deleting %d %s record(s) in ZOHO because they were deleted in "
                    "QuickBooks (deletion_policy: delete)",
                    self.tenant,
                    len(ids),
                    module,
                )
                return self.client.delete(module, ids)
            rows = [{"id": i, **spec.on_delete} for i in ids]
            return self.client.update(module, rows, self.config.triggers)
        except ZohoRequestError as exc:
            return [RecordResult(False, exc.code, exc.zoho_message)] * len(chunk)

    def _mark_deleted(self, row: Mapping, m: _Msg) -> None:
        self.remember(
            Mapping(
                tenant=self.tenant,
                source=SOURCE,
                entity=row.entity,
                source_id=row.source_id,
                content_hash=row.content_hash,
                zoho_module=row.zoho_module,
                zoho_id=row.zoho_id,
                status="deleted",
                last_error=None,
                version=row.version or m.version,
            )
        )

    # --- finishing --------------------------------------------------------------------------

    def _finish(self) -> None:
        """Park what failed, then store mappings that are not older than what is stored now."""
        parked = [
            m for m in self.msgs if self.report.outcomes.get(m.key, Outcome("")).status == "parked"
        ]
        if parked:
            letters = [
                DeadLetter(self.tenant, m.body, self.report.outcomes[m.key].reason) for m in parked
            ]
            if not self.fwd._park_letters(letters, self.report, [m.key for m in parked]):
                # Not parked after all, so no failure rows either: they go round again.
                ids = {m.source_id for m in parked}
                self.writes = {
                    k: v
                    for k, v in self.writes.items()
                    if v.status != "failed" or v.source_id not in ids
                }
        if not self.writes:
            return
        by_entity: dict[str, list[Mapping]] = defaultdict(list)
        for m in self.writes.values():
            by_entity[m.entity].append(m)
        final: list[Mapping] = []
        for entity, rows in by_entity.items():
            # Another forwarder may have applied a newer version meanwhile: never go back.
            current = self.fwd.mappings.get_many(
                self.tenant, SOURCE, entity, [r.source_id for r in rows]
            )
            for r in rows:
                now = current.get(r.source_id)
                if now is not None and is_older(r.version, now.version) and r.status != "deleted":
                    continue
                final.append(r)
        try:
            self.fwd.mappings.put_many(final)
        except StoreError as exc:
            log.error("tenant %s: could not store %d mapping(s): %s", self.tenant, len(final), exc)
            for m in self.msgs:
                if self.report.outcomes.get(m.key, Outcome("")).status == "applied":
                    self.report.outcomes[m.key] = Outcome("retry", f"mapping store: {exc}")
