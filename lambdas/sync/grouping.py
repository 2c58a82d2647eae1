"""Which steps one message set asks QuickBooks for, and the page (``MaxReturned``) of each.

Every message set is bounded by the page policy's byte target, whatever it holds: one entity's
full page, or several entities sharing it. An exchange costs a round trip through the Web
Connector and QuickBooks, so the room a page leaves is not wasted on a first sync: the entities
not started yet ask their first page in it (a first page is small, because its records' size is
not known yet, and an entity may have no record at all; asked alone, either would cost an
exchange of its own).
"""

from __future__ import annotations

from ..model.entities import REFERS_TO
from .paging import DEFAULT_BYTES_PER_RECORD, PagePolicy
from .plan import Plan, Step


def message_set(plan: Plan, paging: PagePolicy) -> list[tuple[Step, int]]:
    """The steps of the next message set with their page sizes ([] when the plan is done).

    The current step alone asks for a full page. Steps synced before that have not started
    (changes since the watermark are usually few) go together in one message set, each with
    an equal share of the byte target as its page; one with more changes than its share
    continues alone with full pages. Otherwise the steps not started yet join the current one
    in the room its last page leaves (``first_pages``). Deletion queries, which QuickBooks answers
    whole, join whichever message set goes next.
    """
    first = plan.current()
    if first is None:
        return []

    def joins(step: Step) -> bool:
        return step.status == "pending" and step.synced_before

    group = [s for s in plan.steps if joins(s)] if joins(first) else [first]
    if first not in group:
        group.insert(0, first)
    whole = [s for s in plan.steps if s.status == "pending" and not s.uses_iterator]
    pages: dict[str, int] = {}
    if len(group) > 1:
        share = paging.target_bytes / len(group)
        # Each page at least the minimum: past that many entities, the rest wait their turn.
        fitting = int(paging.target_bytes // paging.estimate_bytes(paging.minimum, None))
        group = group[: max(1, fitting)]
        for step in group:
            size = int(share / (step.bytes_per_record or DEFAULT_BYTES_PER_RECORD))
            pages[step.entity] = paging.clamp(min(size, step.page_size))
    elif first.page_cap is None:
        pages = first_pages(plan, first, paging)
        group += [s for s in plan.steps if s.entity in pages and not s.ids]
    batch = group + [s for s in whole if s not in group]
    return [(s, pages.get(s.entity, s.page_size)) for s in batch]


def first_pages(plan: Plan, current: Step, paging: PagePolicy) -> dict[str, int]:
    """The steps not started yet that ask their first page beside ``current``'s last: their
    pages (none while ``current`` has more than one page to go, or its size is not known).

    They share the room that last page leaves below the byte target (each page at least the
    policy's minimum, at most the step's own page; a record of unknown size counted as large as
    a first page allows), so the response is expected no larger than one full page alone. Not
    within business hours (``page_cap``: then an exchange is to hold QuickBooks briefly). A
    step joins only when the entities its records refer to (``REFERS_TO``: a transaction's
    customer and items, the invoices a payment pays) are read whole or are ``current``, so no
    record reaches the queue before the records it refers to.
    """
    # Only beside a step's last page: its records and theirs then reach the queue one entity
    # after the other, as they would have otherwise (the forwarder's calls stay full).
    if current.uses_iterator:
        if current.iterator_id is None or current.remaining is None:
            return {}
        if current.remaining > current.page_size:
            return {}
    unknown = paging.unknown_bytes_per_record
    asked = current.remaining if current.uses_iterator and current.remaining else 0
    room = paging.target_bytes - asked * (current.bytes_per_record or unknown)
    fitting = int(room // (paging.minimum * unknown))
    joining: list[Step] = []
    for i, step in enumerate(plan.steps):
        if len(joining) >= fitting or step.ids:
            break
        if step is current or not _unstarted(step):
            continue
        parents = REFERS_TO.get(step.entity, frozenset()) - {step.entity}
        held = any(
            t.entity in parents and not t.finished and t is not current for t in plan.steps[:i]
        )
        if not held:
            joining.append(step)
    pages = {}
    for step in joining:
        size = int(room / len(joining) / (step.bytes_per_record or unknown))
        if size >= paging.minimum:  # else even the smallest page would not fit its share
            pages[step.entity] = min(size, paging.clamp(step.page_size))
    return pages


def _unstarted(step: Step) -> bool:
    """A change query that has not asked QuickBooks anything yet (nor is a change probe)."""
    return (
        step.status == "pending"
        and step.uses_iterator
        and step.iterator_id is None
        and not step.probe
    )
