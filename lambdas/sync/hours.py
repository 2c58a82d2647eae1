"""Business hours: when people work in the company file, the relay asks QuickBooks for less.

A tenant's ``business_hours`` ("Mon-Fri 08:00-18:00", or "08:00-18:00" for every day) are read
in its ``time_zone``. Within them a session asks for smaller pages (``HOURS_PAGE`` records per
query at most, so each exchange holds QuickBooks for less time) and reads no entity whole: a
first sync or a re-sync waits for the first session after the hours (the entity is
"deferred"), except an entity read before that never had a record (its full read is empty).
Incremental reads and write-back go on as usual; ``qbrelay pause`` stops everything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..store.ports import Tenant
from .plan import Plan, Step, plural

# Records per query within business hours (outside, the adaptive page size: sync/paging.py).
HOURS_PAGE = 50
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_SPEC = re.compile(
    r"^\s*(?:(?P<d1>[A-Z][a-z]{2})(?:-(?P<d2>[A-Z][a-z]{2}))?\s+)?"
    r"(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})\s*$"
)


class HoursError(ValueError):
    """A business-hours setting that cannot be read."""


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Working days (0 = Monday) and a daily window [start, end) in local time."""

    days: frozenset[int]
    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> BusinessHours:
        """ "Mon-Fri 08:00-18:00", "Sat 09:00-12:00" or "08:00-18:00"; HoursError otherwise."""
        m = _SPEC.match(text)
        if m is None:
            raise HoursError(
                f"business hours {text!r}: expected e.g. 'Mon-Fri 08:00-18:00' or '08:00-18:00'"
            )
        first, last = m["d1"] or "Mon", m["d2"] or m["d1"] or "Sun"
        if first not in DAYS or last not in DAYS:
            raise HoursError(f"business hours {text!r}: days are {', '.join(DAYS)}")
        a, b = DAYS.index(first), DAYS.index(last)
        days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(b + 1)])
        try:
            start = time(int(m["h1"]), int(m["m1"]))
            end = time(int(m["h2"]), int(m["m2"]))
        except ValueError:
            raise HoursError(f"business hours {text!r}: not a time of day") from None
        if start >= end:
            raise HoursError(f"business hours {text!r}: the end must be after the start")
        return cls(days, start, end)

    def within(self, moment: datetime) -> bool:
        """True when local ``moment`` falls in the hours."""
        return moment.weekday() in self.days and self.start <= moment.time() < self.end


def zone(name: str) -> ZoneInfo:
    """The tenant's zone ("" is UTC); UTC for a name this system does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def in_business_hours(hours: str, time_zone: str, now: float) -> bool:
    """True when ``now`` (epoch seconds) is within the tenant's business hours.

    A setting that cannot be read counts as none (the CLI refuses such values; an old or
    hand-edited row must not stop the sync).
    """
    if not hours:
        return False
    try:
        parsed = BusinessHours.parse(hours)
    except HoursError:
        return False
    return parsed.within(datetime.fromtimestamp(now, UTC).astimezone(zone(time_zone)))


def apply_hours(tenant: Tenant, steps: list[Step], now: float) -> None:
    """Within the tenant's business hours: cap every query's page and defer full reads."""
    if not in_business_hours(tenant.business_hours, tenant.time_zone, now):
        return
    for step in steps:
        step.page_cap = HOURS_PAGE
        full = step.modified_from is None and not step.ids and step.status == "pending"
        if full and not _known_empty(step):
            step.status = "deferred"


def _known_empty(step: Step) -> bool:
    """True when the entity was read to the end before and never had a record (no size was
    ever observed): it has no watermark, so its reads are full ones, yet as small as a probe;
    deferring them would hold its first new record back until after the hours."""
    return step.synced_before and step.bytes_per_record is None


def only_deferred(plan: Plan) -> bool:
    """True when business hours left a session nothing to read (the answer is then "none")."""
    return bool(plan.steps) and all(s.status == "deferred" for s in plan.steps)


def deferred_notes(steps: list[Step]) -> list[str]:
    """The summary's note of the full reads business hours deferred."""
    names = [plural(s.entity) for s in steps if s.status == "deferred"]
    if not names:
        return []
    return [f"full read of {', '.join(names)} waits until after business hours"]
