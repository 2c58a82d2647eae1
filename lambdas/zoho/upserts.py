"""Upserts: new and changed records into their ZOHO modules, parents before children.

Writes are upserts of up to 100 records on the external-id field, always with explicit
``duplicate_check_fields`` and the tenant's ``trigger`` list. A record's parents (its Account,
the Products of its lines) are referred to by ZOHO id when the mapping store knows it, else by
external id; a parent that is not in ZOHO yet makes the record wait for a later delivery.
A record written back from a ZOHO record (``link``) is written into that record by id until the
mapping knows the pair (see ``links``).
"""

from __future__ import annotations

import re
from collections import defaultdict

from ..model.identity import is_older
from ..store.ports import DeliveryStatus, Mapping
from ..writeback.zoho_fields import kept_values
from .client import MAX_RECORDS, RecordResult
from .context import Msg, TenantContext
from .errors import ZohoConfigError, ZohoRequestError
from .links import is_gone, linked_id, primary_contacts, relink, update_by_id
from .mapping import EntitySpec
from .outcomes import Status
from .packing import ParentsFirst
from .transform import ZohoWrite, build_write

# Per-record codes worth another try later; everything else needs a person.
RETRY_CODES = {"INTERNAL_ERROR", "TOO_MANY_REQUESTS"}
_EXTERNAL_LOOKUP = re.compile(r"external", re.IGNORECASE)
IN_DOUBT = "applied after a timed-out attempt, which ZOHO may still do later; checked again"


def current(ctx: TenantContext, entity: str, msgs: list[Msg]) -> list[Msg]:
    """The messages worth writing: newest per record, not older than stored, changed, claimed."""
    spec = ctx.config.spec(entity)
    contact = spec.contact if spec is not None else None
    rows = [entity] + ([contact.store_entity] if contact is not None else [])
    newest: dict[tuple[str, str], Msg] = {}
    for m in msgs:
        key = (m.source, m.source_id)
        held = newest.get(key)
        loser = None
        if held is None or _older(held, m):
            newest[key], loser = m, held
        else:
            loser = m
        if loser is not None:
            winner = newest[key]
            if winner.link is None:
                # The newer version goes where the older one was written back from.
                winner.link = loser.link
            ctx.outcome(loser, Status.STALE, "superseded by a newer version in the batch")
            ctx.suspect(loser, rows)
    for source in {m.source for m in newest.values()}:
        ids = [m.source_id for m in newest.values() if m.source == source]
        for store_entity in rows:
            ctx.load(source, store_entity, ids)
    out, same = [], []
    for m in newest.values():
        stored = ctx.mapping(m.source, entity, m.source_id)
        why = ctx.is_stale(m, stored)
        if why:
            ctx.outcome(m, Status.STALE, why)
            if stored is not None:
                # Deleted too: an earlier delivery's write may have landed after the deletion.
                ctx.suspect(m, rows)
                if stored.status != DeliveryStatus.DELETED:
                    ctx.relinks.append(m)
        elif spec is not None and linked_id(ctx, spec, m):
            out.append(m)  # not in its linked record yet, whatever the content
        elif _unchanged(ctx, m, stored, contact):
            same.append(m)
        else:
            out.append(m)
    # Unchanged content still claims its version: an older version still on its way (a change
    # undone in QuickBooks meanwhile) must not land after it.
    ctx.unchanged(ctx.claim(same, rows), rows)
    claimed = ctx.claim(out, rows)
    won = {m.key for m in claimed}
    ctx.relinks.extend(m for m in out if m.key not in won)
    return claimed


def _older(held: Msg, incoming: Msg) -> bool:
    """True when ``held`` is an older version than ``incoming``, or an earlier read of it."""
    if is_older(held.version, incoming.version):
        return True
    same = not is_older(incoming.version, held.version)
    return same and held.envelope.read_at < incoming.envelope.read_at


def _unchanged(
    ctx: TenantContext, m: Msg, stored: Mapping | None, contact: EntitySpec | None
) -> bool:
    if stored is None or stored.status != DeliveryStatus.SYNCED:
        return False
    if stored.applied_hash != m.content_hash:
        return False
    if contact is None:
        return True
    c = ctx.mapping(m.source, contact.store_entity, m.source_id)
    if c is None:
        # Unchanged only if the customer names no person, so no contact is due.
        return build_write(contact, m.record, ctx.today) is None
    return c.status == DeliveryStatus.SYNCED and c.applied_hash == m.content_hash


def upsert_entity(ctx: TenantContext, entity: str, msgs: list[Msg]) -> None:
    """Write one entity's messages (jobs after their parent customers), then settle each."""
    spec = ctx.config.spec(entity)
    assert spec is not None
    relink(ctx, spec, [m for m in ctx.relinks if m.entity == entity and m.link is not None])
    _upsert_part(ctx, spec, msgs)
    if spec.contact is not None:
        # A contact refers to its own account only: all of them go once the accounts did.
        ready = [m for m in msgs if not m.failure and m.parts.get(spec.module) == "ok"]
        _upsert_part(ctx, spec.contact, ready)
    for m in msgs:
        settle(ctx, spec, m)


def settle(ctx: TenantContext, spec: EntitySpec, m: Msg) -> None:
    """The message's outcome once all its parts have been tried."""
    if m.failure:
        ctx.park(m, m.failure, m.failure_entity or spec.store_entity)
    elif any(v == "retry" for v in m.parts.values()):
        ctx.outcome(m, Status.RETRY, m.waiting or "ZOHO asked to try again")
    elif m.in_doubt:
        # Applied and recorded, but the timed-out attempt may land later, over a newer version
        # or a deletion: the message comes again, and is a suspect then if one was written.
        ctx.outcome(m, Status.RETRY, IN_DOUBT)
    else:
        ctx.outcome(m, Status.APPLIED, m.note)


def _upsert_part(ctx: TenantContext, spec: EntitySpec, msgs: list[Msg]) -> None:
    """Write the messages into ``spec.module`` in calls of up to 100, each record after the
    call that wrote its parent when that is in the batch too (see ``packing``)."""
    items: list[tuple[Msg, ZohoWrite]] = []
    for m in msgs:
        write = build_write(spec, m.record, ctx.today)
        if write is not None:
            items.append((m, write))
        else:
            m.parts[spec.module] = "ok"  # nothing to write (a customer with no person)
    targets = _link_targets(ctx, spec, items)
    plan = ParentsFirst(
        items,
        key=lambda item: (item[0].source, item[0].source_id),
        parents=lambda item: _own_parents(spec, *item),
    )
    while plan:
        ready = plan.ready()
        linked = [(m, w, targets[m.key]) for m, w in ready if targets.get(m.key)]
        if linked:
            linked = linked[:MAX_RECORDS]
            back = {m.key for m, _ in _linked_chunk(ctx, spec, linked)}
            for key in back:
                targets[key] = None  # its linked record is gone: upserted as any other
            plan.done((m, w) for m, w, _ in linked if m.key not in back)
            continue
        chunk = ready[:MAX_RECORDS]
        _upsert_chunk(ctx, spec, chunk)
        plan.done(chunk)


def _own_parents(spec: EntitySpec, m: Msg, w: ZohoWrite) -> list[tuple[str, str]]:
    """The records of the same module the write refers to (a job's parent customer)."""
    return [(m.source, p.source_id) for p in w.parents if p.entity == spec.store_entity]


def _link_targets(
    ctx: TenantContext, spec: EntitySpec, items: list[tuple[Msg, ZohoWrite]]
) -> dict[str, str | None]:
    """By message key: the id of the ZOHO record a linked message is written into."""
    owner = ctx.config.spec(spec.entity)
    if owner is None or owner.contact is not spec:
        return {m.key: linked_id(ctx, spec, m) for m, _ in items}
    # A contact: its account's primary contact (unless the account has one with this id:
    # then the upsert finds it), whatever the mapping holds (a contact the relay made before
    # the link is a duplicate, deleted when the link is written).
    accounts: dict[str, str] = {}
    for m, _ in items:
        account = ctx.mapping(m.source, owner.store_entity, m.source_id)
        linked = m.link is not None and m.link[0] == owner.module
        if linked and account is not None and account.zoho_id:
            accounts[m.key] = account.zoho_id
    if not accounts:
        return {}
    by_key = {m.key: m for m, _ in items}
    chosen = primary_contacts(
        ctx, spec, {zid: by_key[key].source_id for key, zid in accounts.items()}
    )
    return {key: chosen.get(zid) for key, zid in accounts.items()}


def _linked_chunk(
    ctx: TenantContext, spec: EntitySpec, items: list[tuple[Msg, ZohoWrite, str]]
) -> list[tuple[Msg, ZohoWrite]]:
    """Write linked messages into their records by id; those whose record is gone are returned
    (upserted as any other, with a note in their outcome)."""
    ready: list[tuple[Msg, ZohoWrite, str]] = []
    for m, w, zoho_id in items:
        missing = _unresolved_parent(ctx, m, w)
        if missing:
            m.parts[spec.module] = "retry"
            m.waiting = f"{spec.module}: {missing}"
        else:
            ready.append((m, w, zoho_id))
    if not ready:
        return []
    bodies = [{**_resolved(ctx, spec, m, w, set()), "id": zid} for m, w, zid in ready]
    timeouts = ctx.client.timeouts
    try:
        results = update_by_id(ctx, spec.module, spec.id_field, bodies)
    except ZohoRequestError as exc:
        for m, _, _ in ready:
            _fail(m, spec, f"ZOHO refused the request: {exc}")
        return []
    if ctx.client.timeouts > timeouts:
        for m, _, _ in ready:
            m.in_doubt = True
    fallback = []
    for (m, w, zoho_id), body, result in zip(ready, bodies, results, strict=True):
        if is_gone(result):
            m.note = (
                f"the linked ZOHO record {spec.module}/{zoho_id} is gone (deleted in ZOHO); "
                f"written by {spec.id_field} instead"
            )
            fallback.append((m, w))
        else:
            _record_result(ctx, spec, m, w, result, body)
    return fallback


def _unresolved_parent(ctx: TenantContext, m: Msg, w: ZohoWrite) -> str:
    """Why a write by id cannot name its parents yet ("" when it can: all have a ZOHO id)."""
    for p in w.parents:
        parent = ctx.mapping(m.source, p.entity, p.source_id)
        if parent is None or not parent.zoho_id:
            return f"its parent {p.entity} {p.source_id} is not in ZOHO yet"
    return ""


def _upsert_chunk(ctx: TenantContext, spec: EntitySpec, items: list[tuple[Msg, ZohoWrite]]) -> None:
    by_entity: dict[tuple[str, str], list[str]] = defaultdict(list)
    for m, w in items:
        for p in w.parents:
            by_entity[(m.source, p.entity)].append(p.source_id)
    for (source, entity), ids in by_entity.items():
        ctx.load(source, entity, ids)
    external: set[tuple[str, bool]] = set()
    ready: list[tuple[Msg, ZohoWrite]] = []
    for m, w in items:
        problem = None
        for p in w.parents:
            parent = ctx.mapping(m.source, p.entity, p.source_id)
            if parent is None or not parent.zoho_id:
                if parent is not None and parent.status == DeliveryStatus.PARKED:
                    problem = f"its parent {p.entity} {p.source_id} was parked: {parent.last_error}"
                    break
                external.add((p.field, p.line is not None))
        if problem:
            _fail(m, spec, problem)
        else:
            ready.append((m, w))
    if not ready:
        return
    headers = []
    for fld, in_lines in sorted(external, key=str):
        parent_spec = _parent_spec(ctx, spec, fld, in_lines)
        path = (
            f"{spec.module}.{spec.lines.field}.{fld}"
            if in_lines and spec.lines
            else f"{spec.module}.{fld}"
        )
        headers.append(f"{path}.{parent_spec.id_field}")
    bodies = [_resolved(ctx, spec, m, w, external) for m, w in ready]
    timeouts = ctx.client.timeouts
    try:
        results = ctx.client.upsert(
            spec.module, bodies, [spec.id_field], ctx.config.triggers, headers
        )
    except ZohoRequestError as exc:
        for m, _ in ready:
            _fail(m, spec, f"ZOHO refused the request: {exc}")
        return
    if ctx.client.timeouts > timeouts:
        for m, _ in ready:
            m.in_doubt = True
    for (m, w), body, result in zip(ready, bodies, results, strict=True):
        _record_result(ctx, spec, m, w, result, body)


def _parent_spec(ctx: TenantContext, spec: EntitySpec, fld: str, in_lines: bool) -> EntitySpec:
    entity = "Item" if in_lines else next(lk.entity for lk in spec.lookups if lk.field == fld)
    parent = ctx.config.spec(entity)
    if parent is None:
        raise ZohoConfigError(
            f"the mapping of {spec.entity} refers to {entity}, which the mapping leaves out"
        )
    return parent


def _resolved(
    ctx: TenantContext, spec: EntitySpec, m: Msg, w: ZohoWrite, external: set[tuple[str, bool]]
) -> dict:
    body = dict(w.body)
    if spec.lines is not None:
        body[spec.lines.field] = [dict(r) for r in body.get(spec.lines.field, [])]
    for p in w.parents:
        in_lines = p.line is not None
        if (p.field, in_lines) in external:
            # Every record of the request names this lookup the same way: by external id.
            value = {_parent_spec(ctx, spec, p.field, in_lines).id_field: p.source_id}
        else:
            parent = ctx.mapping(m.source, p.entity, p.source_id)
            assert parent is not None and parent.zoho_id
            value = {"id": parent.zoho_id}
        if in_lines:
            assert spec.lines is not None and p.line is not None
            body[spec.lines.field][p.line][p.field] = value
        else:
            body[p.field] = value
    return body


def _record_result(
    ctx: TenantContext,
    spec: EntitySpec,
    m: Msg,
    w: ZohoWrite,
    result: RecordResult,
    body: dict,
) -> None:
    if result.ok and result.zoho_id:
        ctx.report.succeeded += 1
        m.parts[spec.module] = "ok"
        applied = kept_values(spec.module, body)
        ctx.synced(m, spec.store_entity, spec.module, result.zoho_id, applied)
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
    _fail(m, spec, result.reason())


def _fail(m: Msg, spec: EntitySpec, reason: str) -> None:
    m.parts[spec.module] = "failed"
    m.failure = f"{spec.module}: {reason}"
    m.failure_entity = spec.store_entity
