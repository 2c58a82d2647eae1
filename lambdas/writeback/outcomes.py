"""What write-back tells ZOHO: messages for the forwarder, the only component that writes ZOHO.

Two kinds, both ordinary record-queue envelopes (lambdas/model/envelope.py):
- the QuickBooks record a write produced (the CustomerRet / InvoiceRet of the answer, as a
  canonical record), with ``link`` (``link_of``) naming the ZOHO record it came from: the
  forwarder writes it there by id, so the mapping learns the pair both ways and no second
  account appears;
- a ``ZohoUpdate``: fields to set on one ZOHO record by id (the write's status and message;
  a deal's invoice TxnID and RefNumber). Idempotent, ordered by ``at`` like any record version.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ..model.envelope import Envelope
from .model import DEALS, INVOICE, OpStatus, WriteOp

ZOHO_UPDATE = "ZohoUpdate"
# The ZOHO fields write-back sets (created by ``qbrelay zoho setup``, checked by ``zoho check``).
STATUS_FIELD = "QB_Sync_Status"  # picklist: Synced | Failed | Pending | Conflict
MESSAGE_FIELD = "QB_Sync_Message"  # text: why it failed, or the conflict kept
DEAL_TXN_FIELD = "QB_TxnID"
DEAL_REF_FIELD = "QB_RefNumber"
STATUS_SYNCED = "Synced"
STATUS_FAILED = "Failed"
STATUS_CONFLICT = "Conflict"
MAX_MESSAGE = 255


def link_of(op: WriteOp) -> str:
    """The ``Envelope.link`` of a record written back from ``op``'s ZOHO record."""
    return f"{op.zoho_module}/{op.zoho_id}"


def link_target(envelope: Envelope) -> tuple[str, str] | None:
    """(module, zoho id) of a linked envelope, else None."""
    if not envelope.link or "/" not in envelope.link:
        return None
    module, _, zoho_id = envelope.link.partition("/")
    return (module, zoho_id) if module and zoho_id else None


def zoho_update(
    tenant: str, source: str, zoho_module: str, zoho_id: str, fields: dict[str, Any], at: float
) -> Envelope:
    """A message that sets ``fields`` on ZOHO record ``zoho_module``/``zoho_id``.

    Its identity is the ZOHO record (so two updates of one record order by ``at``, the newer
    wins) and ``source`` is the edition written to (the mapping rows stay per source).
    """
    record = {
        "entity": ZOHO_UPDATE,
        "list_id": f"{zoho_module}:{zoho_id}",
        "time_modified": datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds"),
        "module": zoho_module,
        "zoho_id": zoho_id,
        "fields": dict(sorted(fields.items())),
    }
    return Envelope.of(tenant, source, record, read_at=at)


def outcome_fields(op: WriteOp) -> dict[str, Any]:
    """The status fields a final operation writes on its ZOHO record."""
    if op.status == OpStatus.APPLIED:
        if op.conflicts:
            kept = ", ".join(f"{c.field} ({c.kept})" for c in op.conflicts)
            status, message = STATUS_CONFLICT, f"changed on both sides; kept: {kept}"
        else:
            status, message = STATUS_SYNCED, ""
        out: dict[str, Any] = {STATUS_FIELD: status, MESSAGE_FIELD: message[:MAX_MESSAGE]}
        if op.kind == INVOICE and op.zoho_module == DEALS:
            out[DEAL_TXN_FIELD] = op.qb_id
            out[DEAL_REF_FIELD] = op.ref_number
        return out
    if op.status == OpStatus.NOT_APPLIED:
        return {STATUS_FIELD: STATUS_FAILED, MESSAGE_FIELD: (op.error or "not applied")[:255]}
    raise ValueError(f"operation {op.op_id} is {op.status}, not final")


def outcome_update(op: WriteOp, at: float) -> Envelope:
    """The ``ZohoUpdate`` message of a final operation."""
    return zoho_update(op.tenant, op.edition, op.zoho_module, op.zoho_id, outcome_fields(op), at)
