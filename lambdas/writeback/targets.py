"""The QuickBooks record a modification is for, when the capture could not name it yet.

An account edited while its Add was still unanswered becomes a MOD that depends on the Add and
names no QuickBooks customer (lambdas/writeback/capture.py). Once the Add is APPLIED, its result
is the target: its id and the version QuickBooks gave it. ``TargetedStore`` reads operations
with that filled in, so both writers see a complete MOD; an APPLIED outcome never changes, so
every read resolves alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..store.ports import MappingStore
from ..store.writeback_ports import WriteBackStore
from .model import ACCOUNTS, CUSTOMER, MOD, OpStatus, WriteOp

# The error code of a name collision with a customer another ZOHO account already holds.
DUPLICATE_ACCOUNT = "WRITEBACK_DUPLICATE"
# Applied operations looked through for a customer the forwarder has not linked yet.
RECENT_APPLIED = 500
# The error code of an operation refused because the one it depends on (a deal's account) was:
# the capture makes such an invoice again once the account changes.
DEPENDENCY_FAILED = "WRITEBACK_DEPENDENCY"


def with_target(store: WriteBackStore, op: WriteOp | None) -> WriteOp | None:
    """``op`` with the QuickBooks id and version of the APPLIED operation it depends on, when
    it is a MOD that names none; otherwise ``op`` as it is."""
    if op is None or op.action != MOD or op.qb_id or not op.depends_on:
        return op
    dep = store.get(op.tenant, op.depends_on)
    if dep is None or dep.status != OpStatus.APPLIED or not dep.qb_id:
        return op
    return op.with_(qb_id=dep.qb_id, qb_version=dep.result_version)


def held_elsewhere(
    mappings: MappingStore,
    op: WriteOp,
    source: str,
    source_id: str,
    store: WriteBackStore | None = None,
) -> str | None:
    """Why ``op`` must not link the existing QuickBooks customer ``source_id`` (its name is in
    use): another ZOHO account already is that customer. None when linking is right.

    Linking would make two ZOHO accounts one QuickBooks customer; the forwarder could then only
    keep one of them. The person merges the two in ZOHO instead, and QuickBooks keeps one.
    The mapping learns the pair only once the forwarder applied the linked record, so the
    recent operations of ``store`` are asked too: one that made or linked that customer for
    another account (its record still on the queue) holds it as surely.
    """
    # get_many, not get: the writers' functions are granted BatchGetItem on the mappings.
    row = mappings.get_many(op.tenant, source, "Customer", [source_id]).get(source_id)
    holder = ""
    if row is not None and row.zoho_id and row.zoho_module == ACCOUNTS:
        holder = row.zoho_id
    elif store is not None:
        holder = next(
            (
                o.zoho_id
                for o in store.list(op.tenant, OpStatus.APPLIED, limit=RECENT_APPLIED)
                if o.kind == CUSTOMER and o.qb_id == source_id and o.edition == op.edition
            ),
            "",
        )
    if not holder or holder == op.zoho_id:
        return None
    name = op.fields.get("name") or source_id
    return (
        f"QuickBooks already has the customer {name!r} as ZOHO account {holder}: merge "
        "the two accounts in ZOHO (this one was not linked, so the books keep one customer)"
    )


class TargetedStore:
    """A WriteBackStore whose reads resolve MOD targets (``with_target``) and whose open
    operations are one edition's (a tenant that moved from Desktop to Online keeps its old
    operations for the Web Connector); writes pass on."""

    def __init__(self, store: WriteBackStore, edition: str) -> None:
        self.inner = store
        self.edition = edition

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def get(self, tenant: str, op_id: str) -> WriteOp | None:
        return with_target(self.inner, self.inner.get(tenant, op_id))

    def open_ops(self, tenant: str, limit: int = 100) -> list[WriteOp]:
        # The other edition's open operations come first when older: ask for more until
        # ``limit`` of this edition's are found or there are no more.
        asked = limit
        while True:
            ops = self.inner.open_ops(tenant, asked)
            own = [o for o in ops if o.edition == self.edition]
            if len(own) >= limit or len(ops) < asked:
                break
            asked *= 2
        mine = (with_target(self.inner, o) for o in own[:limit])
        return [op for op in mine if op is not None]

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
        stored = self.inner.mark(
            tenant, op_id, expect, status, rev=rev, expect_sent_at=expect_sent_at, **attrs
        )
        resolved = with_target(self.inner, stored)
        return resolved if resolved is not None else stored
