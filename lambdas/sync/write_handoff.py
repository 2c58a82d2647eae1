"""What a QuickBooks Desktop write hands to the forwarder: its record, and its outcome.

The record QuickBooks answered a write with (CustomerRet / InvoiceRet) becomes the canonical
record the sync engine makes of a query's answer (``qbxml.to_dict``) and goes through the same
hand-off (``HandOff``), so the mapping notes it as handed off and the next incremental read of
the same EditSequence is recognised as unchanged: no echo to ZOHO. A customer written from a
ZOHO account that had no QuickBooks id carries ``link`` (lambdas/writeback/outcomes.py). The
operation's outcome follows as a ``ZohoUpdate`` message on the same queue.
"""

from __future__ import annotations

from qbxml import Record, to_dict

from ..model.identity import target
from ..store.ports import QueueMessage, RecordQueue
from ..writeback.model import WriteOp
from ..writeback.outcomes import link_of, outcome_update
from .handoff import HandOff


class WriteHandOff:
    """Hands a write's record and outcome to the record queue (StoreError when it refuses)."""

    def __init__(self, hand_off: HandOff, queue: RecordQueue) -> None:
        self.hand_off = hand_off
        self.queue = queue

    def applied(self, op: WriteOp, record: Record | None, link: bool, at: float) -> None:
        """An APPLIED operation: its QuickBooks record (linked to the operation's ZOHO record
        when ``link``), then its outcome."""
        if record is not None:
            canonical = to_dict(record)
            links = {target(canonical): link_of(op)} if link else None
            self.hand_off(op.tenant, [[canonical]], links=links)
        self.outcome(op, at)

    def outcome(self, op: WriteOp, at: float) -> None:
        """The ZohoUpdate of a final operation (its status fields on the ZOHO record)."""
        envelope = outcome_update(op, at)
        self.queue.send([QueueMessage(op.tenant, envelope.to_json(), envelope.dedup_id)])
