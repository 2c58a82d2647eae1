"""Write-back's ``ZohoUpdate`` messages: fields set on one ZOHO record by id.

Each names its ZOHO record (module and id) and carries the fields to set there: a write's status
and message, a deal's invoice TxnID and RefNumber (lambdas/writeback/outcomes.py). Its version
is the time write-back made it, so updates of one record order as record versions do, with the
same claims and conditional outcomes, on mapping rows of entity ``ZohoUpdate`` (source id
"Module:id"): an older update delivered after a newer one is stale and never overwrites it.
A record deleted in ZOHO meanwhile is ignored, with the reason; other per-record errors are as
for records (ZOHO's retry codes come again, the rest are parked, as is anything still not
applied after the forwarder's maximum deliveries).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ..writeback.outcomes import ZOHO_UPDATE
from .client import MAX_RECORDS
from .context import Msg, TenantContext
from .errors import ZohoRequestError
from .links import is_gone
from .outcomes import Status
from .upserts import IN_DOUBT, RETRY_CODES, current


def _target(record: dict[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    module, zoho_id, fields = record.get("module"), record.get("zoho_id"), record.get("fields")
    if not (isinstance(module, str) and module and isinstance(zoho_id, str) and zoho_id):
        return None
    if not isinstance(fields, dict) or not fields or "id" in fields:
        return None
    return module, zoho_id, fields


def apply_zoho_updates(ctx: TenantContext, msgs: list[Msg]) -> None:
    """Set each message's fields on its ZOHO record: newest per record, up to 100 a call."""
    by_module: dict[str, list[tuple[Msg, dict[str, Any]]]] = defaultdict(list)
    for m in current(ctx, ZOHO_UPDATE, msgs):
        target = _target(m.record)
        if target is None:
            ctx.park(m, "a ZohoUpdate needs a module, a zoho_id and the fields to set")
            continue
        module, zoho_id, fields = target
        by_module[module].append((m, {**fields, "id": zoho_id}))
    for module, items in by_module.items():
        for start in range(0, len(items), MAX_RECORDS):
            _update_chunk(ctx, module, items[start : start + MAX_RECORDS])


def _update_chunk(ctx: TenantContext, module: str, items: list[tuple[Msg, dict[str, Any]]]) -> None:
    timeouts = ctx.client.timeouts
    try:
        results = ctx.client.update(module, [body for _, body in items], ctx.config.triggers)
    except ZohoRequestError as exc:
        for m, _ in items:
            ctx.park(m, f"{module}: ZOHO refused the request: {exc}")
        return
    in_doubt = ctx.client.timeouts > timeouts
    for (m, body), result in zip(items, results, strict=True):
        if result.ok:
            ctx.report.succeeded += 1
            ctx.synced(m, ZOHO_UPDATE, module, None)
            # A timed-out attempt may still land after a newer update: the message comes again.
            ctx.outcome(
                m, Status.RETRY if in_doubt else Status.APPLIED, IN_DOUBT if in_doubt else ""
            )
        elif is_gone(result):
            ctx.ignore(m, f"the ZOHO record {module}/{body['id']} is gone (deleted in ZOHO)")
        elif result.code in RETRY_CODES:
            ctx.outcome(m, Status.RETRY, f"{module}: {result.reason()}")
        else:
            ctx.park(m, f"{module}: {result.reason()}")
