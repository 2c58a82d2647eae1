"""Port of write-back: the durable, ordered write operations of every tenant.

Adapters: SQLite (``sqlite/writeback.py``) and DynamoDB (``dynamo/writeback.py``); one
contract suite (tests/integration/test_writeback_store_contract.py) runs against both.

Two components write an operation, each only its own attributes and each conditionally: the
change capture (``enqueue``, ``supersede``, its cursors) and the edition's writer (``mark``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ..writeback.model import FINAL, OUTCOME_SECONDS, OpStatus, WriteOp

# The attributes ``mark`` may write (the writer's); anything else is a programming error.
OUTCOME_ATTRS = frozenset(
    {
        "attempts",
        "sent_at",
        "outcome_at",
        "expires_at",
        "message_set_id",
        "qb_id",
        "ref_number",
        "result_version",
        "linked",
        "error_code",
        "error",
        "conflicts",
    }
)


class WriteBackStore(Protocol):
    """A tenant's write operations in ``seq`` order, their outcomes, and the capture's cursors."""

    def enqueue(self, op: WriteOp) -> bool:
        """Store ``op`` unless an operation with its ``op_id`` exists; True if it was stored."""
        ...

    def supersede(
        self,
        tenant: str,
        op_id: str,
        rev: int,
        *,
        fields: dict[str, Any],
        zoho_version: str,
        base: dict[str, str],
    ) -> WriteOp:
        """Replace the content of a ``PENDING`` operation whose ``rev`` is ``rev`` (a newer
        version of the same ZOHO record) and increment ``rev``; the stored operation.
        ConcurrentUpdate when it is no longer pending or ``rev`` moved."""
        ...

    def get(self, tenant: str, op_id: str) -> WriteOp | None:
        """The operation, or None."""
        ...

    def open_ops(self, tenant: str, limit: int = 100) -> list[WriteOp]:
        """Up to ``limit`` operations that are PENDING, SENT or UNKNOWN, lowest ``seq`` first."""
        ...

    def latest_for(self, tenant: str, zoho_module: str, zoho_id: str) -> WriteOp | None:
        """The operation with the highest ``seq`` for that ZOHO record (any status), or None."""
        ...

    def mark(
        self,
        tenant: str,
        op_id: str,
        expect: Sequence[OpStatus],
        status: OpStatus,
        *,
        rev: int | None = None,
        expect_sent_at: float | None = None,
        **attrs: Any,
    ) -> WriteOp:
        """Move the operation to ``status`` and write ``attrs`` (names in OUTCOME_ATTRS) if its
        status is one of ``expect`` (and its ``rev`` is ``rev``, its ``sent_at`` is
        ``expect_sent_at``, when given: a writer taking over a SENT operation whose writer died
        takes that send, not one a live writer made since); the stored operation.
        ConcurrentUpdate when the condition fails, KeyError-free: a missing operation fails the
        condition too."""
        ...

    def list(self, tenant: str, status: OpStatus | None = None, limit: int = 100) -> list[WriteOp]:
        """Up to ``limit`` operations (with ``status`` if given), highest ``seq`` first (for
        status views). Outcomes past ``expires_at`` may be gone."""
        ...

    def counts(self, tenant: str) -> dict[str, int]:
        """How many operations the tenant has per status (str of OpStatus), for status views."""
        ...

    def cursor(self, tenant: str, name: str) -> str | None:
        """The capture's cursor ``name`` (e.g. "Accounts": the Modified_Time read up to)."""
        ...

    def set_cursor(self, tenant: str, name: str, value: str) -> None:
        """Store the capture's cursor ``name``."""
        ...

    def delete_tenant(self, tenant: str) -> int:
        """Remove every operation and cursor of the tenant; how many operations were removed."""
        ...


def mark_attrs(
    expect: Sequence[OpStatus], status: OpStatus, attrs: dict[str, Any], now: float
) -> dict[str, Any]:
    """The attributes ``mark`` writes besides ``status``, checked, for both adapters.

    Only OUTCOME_ATTRS; ``expires_at`` (the TTL) is kept only on a final operation: it
    defaults to ``outcome_at`` (else ``now``) + OUTCOME_SECONDS, and is cleared (None) when the
    operation is open, so an open operation never expires.
    """
    unknown = set(attrs) - OUTCOME_ATTRS
    if unknown:
        raise ValueError(f"mark may not write {', '.join(sorted(unknown))}")
    if not expect:
        raise ValueError("mark needs the statuses it expects")
    out = dict(attrs)
    if OpStatus(status) in FINAL:
        if out.get("expires_at") is None:
            out["expires_at"] = float(out.get("outcome_at") or now) + OUTCOME_SECONDS
    elif out.get("expires_at") is not None:
        raise ValueError("an open operation has no expires_at")
    else:
        out["expires_at"] = None
    return out


def stored(op: WriteOp, now: float) -> WriteOp:
    """``op`` as ``enqueue`` stores it: a final one (e.g. refused by validation) expires like
    any outcome, an open one never."""
    if op.status in FINAL:
        if op.expires_at is None:
            return op.with_(expires_at=float(op.outcome_at or now) + OUTCOME_SECONDS)
        return op
    return op.with_(expires_at=None) if op.expires_at is not None else op
