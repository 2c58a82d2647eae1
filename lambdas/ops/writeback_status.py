"""What an operator sees of write-back: a tenant's settings, operation counts, recent conflicts,
and single operations (``qbrelay writeback``, the status API, the console).

Shapes (keys only ever added):

- ``writeback_status``: ``{"enabled", "since", "policy", "won_stage", "invoice_item",
  "available", "counts": {status: n}, "recent_conflicts": [{"op_id", "zoho_module",
  "zoho_id", "at", "fields": [{"field", "kept"}]}]}``; ``available`` is False where the
  deployment has no write-back store (counts empty then, as for a tenant that never had
  write-back on). Conflicts name fields and the side
  kept, not the values (the values are customer data; ``op_json`` of one operation has them).
- ``op_json``: every WriteOp attribute (``status`` as its string, ``conflicts`` as
  ``{"field", "qb", "zoho", "kept"}`` objects).
"""

from __future__ import annotations

from typing import Any

from ..store.ports import Tenant
from ..store.writeback_ports import WriteBackStore
from ..writeback.model import FINAL, WriteOp

# Conflicts shown per tenant, from this many of its latest final operations of each status.
RECENT_CONFLICTS = 10
CONFLICT_SCAN = 200


def op_json(op: WriteOp) -> dict[str, Any]:
    """One operation as JSON (the stored shape)."""
    return op.to_item()


def _conflict_json(op: WriteOp) -> dict[str, Any]:
    return {
        "op_id": op.op_id,
        "zoho_module": op.zoho_module,
        "zoho_id": op.zoho_id,
        "at": op.outcome_at,
        "fields": [{"field": c.field, "kept": c.kept} for c in op.conflicts],
    }


def recent_conflicts(
    store: WriteBackStore, tenant: str, limit: int = RECENT_CONFLICTS
) -> list[dict[str, Any]]:
    """The latest operations that met a conflict (newest first), up to ``limit``."""
    found = [
        op for status in FINAL for op in store.list(tenant, status, CONFLICT_SCAN) if op.conflicts
    ]
    found.sort(key=lambda op: op.seq, reverse=True)
    return [_conflict_json(op) for op in found[:limit]]


def writeback_status(store: WriteBackStore | None, tenant: Tenant) -> dict[str, Any]:
    """The tenant's write-back settings and, where there is a store, its operations (read
    only for a tenant that ever had write-back on: the others have none)."""
    used = tenant.writeback or tenant.writeback_since is not None
    store = store if used else None
    return {
        "enabled": tenant.writeback,
        "since": tenant.writeback_since,
        "policy": tenant.conflict_policy,
        "won_stage": tenant.won_stage,
        "invoice_item": tenant.invoice_item,
        "available": store is not None or not used,
        "counts": store.counts(tenant.name) if store is not None else {},
        "recent_conflicts": recent_conflicts(store, tenant.name) if store is not None else [],
    }
