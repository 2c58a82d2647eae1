"""What the relay accepts from a Web Connector session, beyond being valid qbXML.

A stolen Web Connector password lets its holder answer the relay's requests with anything. Two
rules bound what such answers can do:

- ``unasked``: a response must answer exactly the requests the relay sent in that exchange:
  known request ids, each once, of the right response type, with records of the entity asked
  for, no more records than the request allowed, and the iterator the request continued.
  Anything else refuses the whole response, so nothing invented reaches the queue.
- ``review_marks``: past a number of records per session or per 24 hours, or when one session
  or the last 24 hours delete a large share of the tenant's mapped records, what follows is
  still queued but marked for review; the forwarder parks it until a person confirms
  (``qbrelay failures redrive --confirm``). The 24 hours count what every session handed off
  (``SyncStateStore.handoff_window``), so sessions started one after another add up.
- ``vouched_version``: a version later than the relay's clock allows (an EditSequence is the
  save time in Unix seconds) would make every later real change look older to the forwarder
  and freeze the record in the CRM; the relay orders such a record by when it read it instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from qbxml import QbxmlError
from qbxml.sync import response_type

from ..model.entities import DELETION_ENTITIES, ENTITIES
from ..model.identity import version_order
from ..store.ports import HandoffWindow
from .plan import Plan, Step
from .watermarks import CLOCK_TOLERANCE, LATEST_UTC_OFFSET

MASS_DELETION = "mass deletion"
RECORD_CAP = "session record cap"
DAILY_CAP = "daily record cap"
IMPLAUSIBLE_VERSION = "implausible version"
# How far past the relay's clock a version may be: the watermark ceiling's allowance.
VERSION_LEAD_SECONDS = (LATEST_UTC_OFFSET + CLOCK_TOLERANCE).total_seconds()


def unasked(
    plan: Plan,
    pending: Mapping[str, str],
    responses: Sequence[Any],
    also_sent: Collection[str] = (),
    asked: Mapping[str, int] | None = None,
) -> str | None:
    """Why ``responses`` are not the answers to the requests sent, or None if they are.

    ``pending``: request id -> step key of the queries sent; ``also_sent``: the ids of other
    requests in the same message set (the relay's own writes); ``asked``: request id ->
    MaxReturned of each query (None: not known, as for a session stored by an older release).
    """
    seen: set[str] = set()
    for rs in responses:
        rid = rs.request_id
        if rid is None or (rid not in pending and rid not in also_sent):
            return f"an answer to a request the relay did not send ({_shown(rid)})"
        if rid in seen:
            return f"two answers to request {_shown(rid)}"
        seen.add(rid)
        if rid in pending:
            why = _mismatch(plan.step(pending[rid]), rs, (asked or {}).get(rid))
            if why is not None:
                return f"request {_shown(rid)}: {why}"
    return None


def _mismatch(step: Step, rs: Any, max_returned: int | None) -> str | None:
    try:
        expected = response_type(step.entity)
    except QbxmlError:
        return None
    if rs.request_type != expected:
        return f"answered with {_shown(rs.request_type)}, expected {expected}"
    record_type = ENTITIES[step.entity].record_type if step.entity in ENTITIES else None
    if record_type is not None and any(not isinstance(r, record_type) for r in rs.records):
        return f"records other than {step.entity} records"
    limit = len(step.ids) if step.ids else max_returned
    if limit is not None and len(rs.records) > limit:
        return f"{len(rs.records):,} records where at most {limit:,} were asked for"
    if step.ids and any(r.source_id not in step.ids for r in rs.records):
        return "records other than the ones asked for"
    if rs.iterator_id is not None:
        if step.ids or not step.uses_iterator:
            return "an iterator where none was asked for"
        if step.iterator_id is not None and rs.iterator_id != step.iterator_id:
            return "another iterator than the one continued"
    return None


def _shown(value: str | None) -> str:
    text = "none" if value is None else "".join(c for c in value[:50] if c.isprintable())
    return repr(text)


def review_marks(
    plan: Plan,
    batches: Sequence[tuple[Step, list[dict[str, Any]]]],
    max_session_records: int,
    mass_deletion_min: int,
    mass_deletion_share: float,
    mapped_count: Callable[[], int],
    *,
    window: HandoffWindow | None,
    max_daily_records: int,
) -> list[str | None]:
    """Per batch of this response, the review reason its records go with (None: none).

    ``batches``: the records this response hands off (those left out as unchanged are not
    weighed, so a record read again counts once). Records: once the session has handed off
    ``max_session_records``, or the tenant's last 24 hours (``window``: what was handed off
    before this response) plus this response pass ``max_daily_records``, every further one
    is marked. Deletions: when the session's deletions or the window's (this response's
    included) pass ``mass_deletion_min`` and ``mass_deletion_share`` of the tenant's mapped
    records (``mapped_count``: those mapped before the session, so records it invents first do
    not widen the share; asked only then), this response's deletions are marked. ``window``
    None (the store could not say): the session's deletions are weighed against the minimum
    alone, and records against the session cap only.
    """
    records = sum(s.queued for s in plan.steps if s.entity not in DELETION_ENTITIES)
    deletions = sum(s.queued for s in plan.steps if s.entity in DELETION_ENTITIES)
    new_deletions = sum(len(r) for s, r in batches if s.entity in DELETION_ENTITIES)
    total = deletions + new_deletions
    in_window = window.deletions + new_deletions if window is not None else 0
    mass = ""
    if new_deletions and window is None and total > mass_deletion_min:
        mass = f"{total:,} deletions in one Web Connector session"
    elif new_deletions and max(total, in_window) > mass_deletion_min:
        limit = max(mass_deletion_min, math.floor(mass_deletion_share * mapped_count()))
        if total > limit:
            mass = f"{total:,} deletions in one Web Connector session"
        elif in_window > limit:
            mass = f"{in_window:,} deletions in 24 hours"
    daily = window.records if window is not None else 0
    marks: list[str | None] = []
    for step, recs in batches:
        if step.entity in DELETION_ENTITIES:
            marks.append(f"{MASS_DELETION}: {mass}" if mass else None)
            continue
        records += len(recs)
        daily += len(recs)
        if records > max_session_records:
            marks.append(
                f"{RECORD_CAP}: more than {max_session_records:,} records in one Web Connector "
                "session"
            )
        elif window is not None and daily > max_daily_records:
            marks.append(f"{DAILY_CAP}: more than {max_daily_records:,} records in 24 hours")
        else:
            marks.append(None)
    return marks


def vouched_version(version: str, now: float) -> str | None:
    """The version the relay orders a record by when ``version`` is implausible, else None.

    Implausible: later than the relay's clock ``now`` plus the allowance for every time zone
    and a fast clock (a correct workstation clock cannot save a record later). Such a version
    (a workstation clock set ahead, or a forged answer) is replaced by the time the relay read
    the record, in the same kind (Unix seconds for an EditSequence, else an ISO time), so it
    claims no more than the read itself proves and every later real change still wins.
    """
    if not version or version_order(version) <= now + VERSION_LEAD_SECONDS:
        return None
    if version.isdigit():
        return str(int(now))
    return datetime.fromtimestamp(int(now), UTC).isoformat()
