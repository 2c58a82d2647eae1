"""Deletions: records deleted in QuickBooks are marked inactive, deleted, or only noted in ZOHO.

The tenant's ``deletion_policy`` decides: ``mark_inactive`` writes the entity's ``on_delete``
values, ``delete`` deletes the ZOHO records (logged), ``ignore`` only marks the mapping.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace

from ..model.identity import deletion_target
from ..store.ports import DeliveryStatus, Mapping
from .client import MAX_RECORDS, RecordResult, coql_string
from .context import Msg, TenantContext
from .errors import ZohoRequestError
from .mapping import EntitySpec
from .outcomes import Status

log = logging.getLogger(__name__)


def apply_deletions(ctx: TenantContext, msgs: list[Msg]) -> None:
    """Apply ListDeleted / TxnDeleted messages."""
    policy = ctx.config.deletion_policy
    todo: dict[str, list[tuple[Msg, Mapping]]] = defaultdict(list)  # module -> targets
    done: list[Msg] = []
    for m in msgs:
        entity, sid = deletion_target(m.record)
        spec = ctx.config.spec(entity)
        if spec is None:
            ctx.ignore(m, f"the mapping leaves {entity or 'it'} out", entity or None)
            continue
        specs = [s for s in (spec, spec.contact) if s is not None]
        for s in specs:
            ctx.load(m.source, s.store_entity, [sid])
        # Each row on its own: an account deleted while its contact's update failed leaves the
        # contact to do when the message comes again.
        due = [
            (s, row)
            for s in specs
            if (row := ctx.mapping(m.source, s.store_entity, sid)) is None
            or row.status != DeliveryStatus.DELETED
        ]
        if not due:
            ctx.outcome(m, Status.UNCHANGED)
            continue
        for s, row in due:
            row = row or Mapping(ctx.tenant, m.source, s.store_entity, sid, zoho_module=s.module)
            found = [row.zoho_id] if row.zoho_id else []
            if policy != "ignore" and not found:
                found = find_in_zoho(ctx, s, sid)
            if policy != "ignore" and found:
                todo[s.module].extend((m, replace(row, zoho_id=i)) for i in found)
            else:
                ctx.deleted(m, row.entity, sid)
        done.append(m)
    for module, targets in todo.items():
        spec = ctx.config.spec_for_store_entity(targets[0][1].entity)
        assert spec is not None
        for start in range(0, len(targets), MAX_RECORDS):
            chunk = targets[start : start + MAX_RECORDS]
            results = delete_in_zoho(ctx, spec, [row.zoho_id or "" for _, row in chunk])
            for (m, row), result in zip(chunk, results, strict=True):
                if result.ok or already_gone(result):
                    ctx.report.succeeded += int(result.ok)
                    ctx.deleted(m, row.entity, row.source_id)
                else:
                    m.failure = f"{module}: {result.reason()}"
                    m.failure_entity = row.entity
    for m in done:
        if m.failure:
            ctx.park(m, m.failure, m.failure_entity or deletion_target(m.record)[0])
        else:
            ctx.outcome(m, Status.APPLIED)


def already_gone(result: RecordResult) -> bool:
    """ZOHO's answer for an id it no longer has (deleted there meanwhile): nothing to undo."""
    return result.code == "INVALID_DATA" and "id" in str(result.details)


def find_in_zoho(ctx: TenantContext, spec: EntitySpec, sid: str) -> list[str]:
    """ZOHO ids of ``sid``'s records when its mapping row knows none: a forwarder that created
    the record and died before recording the outcome leaves it in ZOHO under no row, and the
    deletion must reach it all the same (COQL is read-after-write consistent)."""
    where = f"{spec.id_field} = {coql_string(sid)}"
    try:
        rows = ctx.client.select_all(spec.module, ["id"], where=where, max_rows=MAX_RECORDS)
        return [str(r["id"]) for r in rows]
    except ZohoRequestError as exc:  # COQL refused (a scope, a field): note the deletion only
        log.warning(
            "tenant %s: cannot look up %s %s in ZOHO: %s", ctx.tenant, spec.module, sid, exc
        )
        return []


def delete_in_zoho(ctx: TenantContext, spec: EntitySpec, ids: list[str]) -> list[RecordResult]:
    """Apply the deletion policy to ZOHO records ``ids`` of ``spec``'s module."""
    try:
        if ctx.config.deletion_policy == "delete":
            log.warning(
                "tenant %s: deleting %d %s record(s) in ZOHO because they were deleted in "
                "QuickBooks (deletion_policy: delete)",
                ctx.tenant,
                len(ids),
                spec.module,
            )
            return ctx.client.delete(spec.module, ids)
        rows = [{"id": i, **spec.on_delete} for i in ids]
        return ctx.client.update(spec.module, rows, ctx.config.triggers)
    except ZohoRequestError as exc:
        return [RecordResult(False, exc.code, exc.zoho_message)] * len(ids)
