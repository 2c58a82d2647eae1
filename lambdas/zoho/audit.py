"""The audit: what ZOHO really holds, compared with what the mapping store says was delivered.

For every module the tenant's mapping writes, the audit reads the external id and the active
flag of every ZOHO record (COQL, 2,000 rows a call) and compares them with the mapping rows:

- ``missing``: handed off from QuickBooks (and not ignored, deleted or still in flight), but no
  ZOHO record carries its id;
- ``stale``: ZOHO was last given older content than the relay last handed off;
- ``deleted_active``: deleted in QuickBooks, yet the ZOHO record is still active (or, with the
  ``delete`` policy, still there);
- ``unknown``: ZOHO records carrying a QuickBooks id the mapping store does not know.

``repair`` asks the relay to read missing and stale records again from QuickBooks (their current
version then goes through the normal pipeline) and applies deletions again; unknown records are
only reported, since nothing says what they should be.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..events.publisher import EventPublisher, NoEvents
from ..model.events import Event, drift_found
from ..model.identity import SOURCES
from ..store.ports import DeliveryOutcome, DeliveryStatus, Mapping, MappingStore, SyncStateStore
from .client import ZohoClient
from .deletions import delete_in_zoho
from .mapping import EntitySpec, MappingConfig

KINDS = ("missing", "stale", "deleted_active", "unknown")
# Examples kept per kind in a report (the counts are always complete).
EXAMPLES = 20


@dataclass(slots=True)
class AuditReport:
    """What the audit found, per kind, and what it cost."""

    tenant: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    examples: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))
    in_flight: int = 0
    zoho_records: int = 0
    mappings: int = 0
    coql_calls: int = 0
    credits: int = 0
    repaired: dict[str, int] = field(default_factory=dict)

    @property
    def drift(self) -> int:
        """Records in any kind of drift."""
        return sum(self.counts.values())

    def add(self, kind: str, entity: str, source_id: str, **extra: str) -> None:
        self.counts[kind] += 1
        if len(self.examples[kind]) < EXAMPLES:
            self.examples[kind].append({"entity": entity, "source_id": source_id, **extra})

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            **{f"audit_{k}": v for k, v in self.counts.items()},
            "drift": self.drift,
            "in_flight": self.in_flight,
            "zoho_records": self.zoho_records,
            "mappings": self.mappings,
            "coql_calls": self.coql_calls,
            "credits": self.credits,
            "examples": {k: v for k, v in self.examples.items() if v},
            "repaired": self.repaired,
        }


@dataclass(frozen=True, slots=True)
class _Held:
    zoho_id: str
    active: bool


def _active_field(spec: EntitySpec) -> tuple[str, Any] | None:
    """The field that marks a deletion (and the value it then has), if the mapping has one."""
    for name, value in spec.on_delete.items():
        if isinstance(value, bool):
            return name, value
    return None


# The audit reports progress once per COQL page of rows read (select_all's default page).
PROGRESS_ROWS = 2000
# An audit's progress: (modules read, modules to read, the module being read or "" at the end,
# rows read of it so far).
AuditProgress = Callable[[int, int, str, int], None]


def _zoho_records(
    client: ZohoClient, spec: EntitySpec, tick: Callable[[int], None] | None = None
) -> dict[str, _Held]:
    flag = _active_field(spec)
    fields = ["id", spec.id_field] + ([flag[0]] if flag else [])
    held: dict[str, _Held] = {}
    rows = 0
    for row in client.select_all(spec.module, fields, where=f"{spec.id_field} is not null"):
        rows += 1
        if tick is not None and rows % PROGRESS_ROWS == 0:
            tick(rows)
        ext = row.get(spec.id_field)
        if not ext:
            continue
        active = True if flag is None else row.get(flag[0]) != flag[1]
        held[str(ext)] = _Held(str(row.get("id")), active)
    return held


def _ticker(progress: AuditProgress, done: int, total: int, module: str) -> Callable[[int], None]:
    return lambda rows: progress(done, total, module, rows)


class Auditor:
    """Runs audits of one tenant over its ZOHO client and the mapping store."""

    def __init__(
        self,
        mappings: MappingStore,
        refetch: SyncStateStore,
        clock: Callable[[], float],
        in_flight_seconds: float = 900.0,
        sources: tuple[str, ...] = SOURCES,
        events: EventPublisher | None = None,
    ) -> None:
        self.mappings = mappings
        self.refetch = refetch
        self.clock = clock
        self.in_flight_seconds = in_flight_seconds
        # Desktop and Online ids live in one ZOHO field apart by their prefixes (identity.py),
        # so one audit covers every source of the tenant.
        self.sources = sources
        # drift.found for every audit that finds drift (never raises: see EventPublisher).
        self.events: EventPublisher = events or NoEvents()

    def audit(
        self,
        tenant: str,
        config: MappingConfig,
        client: ZohoClient,
        repair: bool = False,
        progress: AuditProgress | None = None,
    ) -> AuditReport:
        """Compare ZOHO with the mapping store; with ``repair``, re-queue what drifted.

        ``progress`` is told after each module read, and every few thousand rows within one.
        """
        report = AuditReport(tenant)
        rows: dict[str, dict[str, Mapping]] = defaultdict(dict)
        for m in self.mappings.scan(tenant):
            if m.source in self.sources:
                rows[m.entity][m.source_id] = m
                report.mappings += 1
        calls_before, credits_before = client.coql_calls, client.coql_credits
        now = self.clock()
        to_refetch: dict[tuple[str, str], set[str]] = defaultdict(set)  # (source, entity)
        # (source, store entity, id) ZOHO does not hold as recorded
        to_mark: list[tuple[str, str, str]] = []
        to_delete: dict[str, list[tuple[EntitySpec, str]]] = defaultdict(list)
        specs = [
            (entity, s)
            for entity, spec in config.entities.items()
            for s in (spec, spec.contact)
            if s is not None
        ]
        for done, (entity, s) in enumerate(specs):
            tick = None
            if progress is not None:
                progress(done, len(specs), s.module, 0)
                tick = _ticker(progress, done, len(specs), s.module)
            held = _zoho_records(client, s, tick)
            report.zoho_records += len(held)
            known = rows.get(s.store_entity, {})
            for sid, m in known.items():
                kind = self._judge(m, held.get(sid), s, config, now, report)
                if kind in ("missing", "stale"):
                    to_refetch[(m.source, entity)].add(sid)
                    to_mark.append((m.source, s.store_entity, sid))
                elif kind == "deleted_active":
                    to_delete[s.module].append((s, held[sid].zoho_id))
            for ext in held.keys() - known.keys():
                report.add("unknown", s.store_entity, ext, zoho_id=held[ext].zoho_id)
        if progress is not None:
            progress(len(specs), len(specs), "", report.zoho_records)
        report.coql_calls = client.coql_calls - calls_before
        report.credits = client.coql_credits - credits_before
        if repair:
            # What ZOHO really holds is not what the store says was applied: the rows lose their
            # applied hash (as after a concurrent write), so the re-read is sent, not skipped.
            now = self.clock()
            self.mappings.record_outcomes(
                [
                    DeliveryOutcome(
                        tenant,
                        source,
                        store_entity,
                        sid,
                        DeliveryStatus.CONFLICT,
                        "",
                        now,
                        last_error="the audit found ZOHO without this content; re-read requested",
                        token=secrets.token_hex(8),
                    )
                    for source, store_entity, sid in to_mark
                ]
            )
            for (source, entity), ids in to_refetch.items():
                self.refetch.request_refetch(tenant, source, entity, sorted(ids))
                key = f"reread_{entity}"
                report.repaired[key] = report.repaired.get(key, 0) + len(ids)
            for module, targets in to_delete.items():
                spec = targets[0][0]
                ids = [z for _, z in targets]
                ok = sum(1 for r in _deleter(client, config)(spec, ids) if r.ok)
                report.repaired[f"deleted_{module}"] = ok
        if report.drift:
            self.events.publish([drift_event(report, self.clock())])
        return report

    def _judge(
        self,
        m: Mapping,
        held: _Held | None,
        spec: EntitySpec,
        config: MappingConfig,
        now: float,
        report: AuditReport,
    ) -> str | None:
        if m.status == DeliveryStatus.DELETED:
            gone = held is None or (not held.active and config.deletion_policy != "delete")
            if gone or config.deletion_policy == "ignore":
                return None
            report.add("deleted_active", m.entity, m.source_id, zoho_id=held.zoho_id)
            return "deleted_active"
        if m.status == DeliveryStatus.IGNORED:
            return None
        if m.handed_hash and m.in_flight(m.handed_hash, now, self.in_flight_seconds):
            report.in_flight += 1
            return None
        # Contacts rows have no hand-off of their own: a parked or conflicted one is expected too.
        expected = bool(m.handed_hash) or m.status in (
            DeliveryStatus.SYNCED,
            DeliveryStatus.PARKED,
            DeliveryStatus.CONFLICT,
        )
        if held is None:
            if not expected:
                return None
            report.add("missing", m.entity, m.source_id, status=m.status or "handed off")
            return "missing"
        if (m.handed_hash and m.applied_hash != m.handed_hash) or m.status in (
            DeliveryStatus.PARKED,
            DeliveryStatus.CONFLICT,
        ):
            report.add("stale", m.entity, m.source_id, zoho_id=held.zoho_id)
            return "stale"
        return None


def drift_event(report: AuditReport, at: float) -> Event:
    """The ``drift.found`` event of an audit report."""
    return drift_found(
        report.tenant,
        at=at,
        counts=report.counts,
        examples=report.examples,
        repaired=report.repaired,
        in_flight=report.in_flight,
    )


def _deleter(client: ZohoClient, config: MappingConfig):
    """Apply the deletion policy to ZOHO ids of a spec's module (outside a forwarder run)."""

    class _Ctx:
        def __init__(self) -> None:
            self.client = client
            self.config = config
            self.tenant = "audit"

    ctx: Any = _Ctx()
    return lambda spec, ids: [
        r for i in range(0, len(ids), 100) for r in delete_in_zoho(ctx, spec, ids[i : i + 100])
    ]
