"""What a tenant leaves behind in the stores, and purging it, over the store ports only.

A tenant's name keys its sync state, mappings, run history, the forwarder's state and its
write-back operations. Left
behind after ``tenant remove``, they would be inherited by a new tenant of the same name: its
first session would be incremental (old watermarks) and its records would map to the old ZOHO
org's ids. ``qbrelay tenant remove --purge`` removes them; every step is idempotent, so a purge
that stopped halfway is simply run again, even once the tenant row is gone.

ZOHO credentials in the secret store are not relay state (they are the customer's OAuth grant,
which the relay cannot recreate), so they are only deleted on request (``--purge-secrets``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..model.identity import SOURCES
from ..store.ports import (
    AuditResults,
    ForwarderState,
    MappingStore,
    RunHistory,
    SecretStore,
    SessionStore,
    SyncStateStore,
    TenantStore,
    TokenCache,
)
from ..store.writeback_ports import WriteBackStore


@dataclass(slots=True)
class TenantData:
    """Every store holding per-tenant data; ``secrets`` opens the secret store when needed."""

    tenants: TenantStore
    sessions: SessionStore
    state: SyncStateStore
    mappings: MappingStore
    runs: RunHistory
    forwarder: ForwarderState
    tokens: TokenCache
    secrets: Callable[[], SecretStore]
    # The last audit summaries (status and purge); None where a caller needs none.
    audits: AuditResults | None = None
    # Write-back operations and cursors (status and purge); None without write-back.
    writeback: WriteBackStore | None = None


@dataclass(frozen=True, slots=True)
class Leftovers:
    """What the stores hold for one tenant name (besides the tenant row and its secrets)."""

    mappings: int = 0
    synced_entities: int = 0
    refetch_requests: int = 0
    runs: int = 0
    paused: bool = False
    mapping_override: bool = False
    token: bool = False
    writeback_ops: int = 0

    @property
    def empty(self) -> bool:
        """True when nothing is left."""
        return not self.parts()

    def parts(self) -> list[str]:
        """What is left, one phrase per kind, e.g. ``["12 mappings", "3 runs"]``."""
        found = []
        if self.mappings:
            found.append(_count(self.mappings, "mapping"))
        if self.synced_entities:
            found.append(f"sync state of {_count(self.synced_entities, 'entity', 'entities')}")
        if self.refetch_requests:
            found.append(_count(self.refetch_requests, "pending re-read"))
        if self.runs:
            found.append(_count(self.runs, "run"))
        if self.paused:
            found.append("a forwarder pause")
        if self.mapping_override:
            found.append("a ZOHO mapping override")
        if self.token:
            found.append("a cached ZOHO token")
        if self.writeback_ops:
            found.append(_count(self.writeback_ops, "write-back operation"))
        return found

    def describe(self) -> str:
        """The parts as one phrase ("nothing" when empty)."""
        return ", ".join(self.parts()) or "nothing"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def leftovers(data: TenantData, tenant: str, now: float) -> Leftovers:
    """What the stores hold for ``tenant`` (an existing tenant or one removed earlier)."""
    refetch = sum(
        len(ids)
        for source in SOURCES
        for ids in data.state.pending_refetch(tenant, source).values()
    )
    return Leftovers(
        mappings=data.mappings.count(tenant),
        synced_entities=len(data.state.get_all(tenant)),
        refetch_requests=refetch,
        runs=data.runs.count(tenant),
        paused=data.forwarder.paused(tenant, now) is not None,
        mapping_override=data.forwarder.get_mapping(tenant) is not None,
        token=data.tokens.load(tenant) is not None,
        writeback_ops=sum(data.writeback.counts(tenant).values()) if data.writeback else 0,
    )


def purge(data: TenantData, tenant: str) -> Leftovers:
    """Remove everything the stores hold for ``tenant`` except its row; what was removed.

    Idempotent. Mappings go first: they are the most items (and the likeliest step to be
    throttled), and a re-run starts over where it stopped. Remove the tenant row before calling
    this, so no new session writes state behind the purge.
    """
    # Counted before deleting: the pause and token deletes do not say what they removed.
    found = leftovers(data, tenant, 0.0)
    mappings = data.mappings.delete_tenant(tenant)
    data.state.delete_tenant(tenant)
    runs = data.runs.delete_tenant(tenant)
    data.forwarder.delete_tenant(tenant)
    data.tokens.delete_tenant(tenant)
    if data.audits is not None:
        data.audits.delete_tenant(tenant)
    writeback_ops = data.writeback.delete_tenant(tenant) if data.writeback is not None else 0
    return Leftovers(
        mappings=mappings,
        synced_entities=found.synced_entities,
        refetch_requests=found.refetch_requests,
        runs=runs,
        paused=found.paused,
        mapping_override=found.mapping_override,
        token=found.token,
        writeback_ops=writeback_ops,
    )
