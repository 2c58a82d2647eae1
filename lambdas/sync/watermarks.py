"""Watermarks: where the next incremental query of an entity starts.

QuickBooks stamps ``TimeModified`` from the workstation's clock and reports a wrong UTC offset
around daylight-saving changes, while it reads a zone-less ``FromModifiedDate`` as the
workstation's local time. So a watermark is the workstation's wall-clock time *without* offset:
the literal date and time QuickBooks wrote, which is what it compares against. Queries start a
safety margin before the watermark (which also covers the repeated hour when clocks go back);
records fetched twice cost nothing downstream because unchanged content is never queued again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

DEFAULT_MARGIN = timedelta(hours=2)


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
