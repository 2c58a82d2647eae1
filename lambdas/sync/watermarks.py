"""Watermarks: where the next incremental query of an entity starts.

QuickBooks stamps ``TimeModified`` from the workstation's clock and reports a wrong UTC offset
around daylight-saving changes, while it reads a zone-less ``FromModifiedDate`` as the
workstation's local time. So a watermark is the workstation's wall-clock time *without* offset:
the literal date and time QuickBooks wrote, which is what it compares against. Queries start a
safety margin before the watermark (which also covers the repeated hour when clocks go back);
records fetched twice cost nothing downstream because unchanged content is never queued again.
The margin is a tenant setting: a multi-user file edited on workstations in different time zones
holds wall-clock times of several zones and needs more than the default two hours.

A watermark never moves past the ceiling (below): one record stamped in the future, by a
workstation clock set years ahead or a forged response, would otherwise start every later query
after it and skip every real change. Such records are still synced; the session reports them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..store.ports import DEFAULT_WATERMARK_MARGIN_SECONDS

DEFAULT_MARGIN = timedelta(seconds=DEFAULT_WATERMARK_MARGIN_SECONDS)
# The relay cannot know the workstation's zone (QuickBooks' offsets are unreliable, and the
# watermark is wall-clock time without one), so the ceiling allows for every zone: no clock that
# is right shows a time later than UTC+14:00 (Line Islands, the earliest zone; no daylight saving
# there). The tolerance covers a workstation clock running a little fast. The price: in a
# western zone only clocks more than about a day ahead are caught, which still stops a clock set
# to the wrong year or month from freezing the watermark.
LATEST_UTC_OFFSET = timedelta(hours=14)
CLOCK_TOLERANCE = timedelta(hours=1)


def wall_clock(value: datetime | str) -> str:
    """A QuickBooks timestamp as its wall-clock time without offset, to the second."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=None, microsecond=0).isoformat()


def later(a: str | None, b: str | None) -> str | None:
    """The later of two wall-clock watermarks (None means "none yet")."""
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b, key=datetime.fromisoformat)


def query_start(watermark: str | None, margin: timedelta = DEFAULT_MARGIN) -> datetime | None:
    """The zone-less ``FromModifiedDate`` for a watermark: the margin before it; None = full."""
    if watermark is None:
        return None
    return datetime.fromisoformat(watermark) - margin


def ceiling(now: float) -> str:
    """The latest wall-clock watermark a correct clock anywhere allows at relay time ``now``."""
    utc = datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
    return wall_clock(utc + LATEST_UTC_OFFSET + CLOCK_TOLERANCE)


def after(stamp: str, limit: str) -> bool:
    """True when wall-clock ``stamp`` is later than ``limit``."""
    return datetime.fromisoformat(stamp) > datetime.fromisoformat(limit)
