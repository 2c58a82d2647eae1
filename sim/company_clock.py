"""The QuickBooks workstation's clock and how QuickBooks writes and reads its timestamps.

QuickBooks stamps ``TimeCreated`` / ``TimeModified`` from the workstation's clock and prints them
as local wall-clock time with a UTC offset. Older releases print the zone's *standard* offset even
while daylight-saving time is in force (jsgoupil/quickbooks-sync#19, PR #28: "the DateTime is
otherwise accurate (follows DST), but the offset does not follow DST"), so a printed instant is
off by the DST delta; a 2026 capture (reference/samples/hotglue) shows a correct ``-04:00``.
Both behaviours are available (``dst_offset_bug``). A zone-less datetime in a query is read as
the workstation's local wall-clock time (jsgoupil/quickbooks-sync#19).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

QB_TZ = timezone(timedelta(hours=-5))  # the default workstation's offset (no daylight saving)


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


@dataclass(frozen=True, slots=True)
class Workstation:
    """The workstation's zone and how QuickBooks formats and parses times in it.

    ``tz`` None keeps the legacy behaviour: each stored timestamp is printed with the offset it
    carries (the one QuickBooks assigned when it was stamped), zone-less input is read in QB_TZ.
    """

    tz: tzinfo | None = None
    dst_offset_bug: bool = False

    @property
    def zone(self) -> tzinfo:
        """The zone new timestamps are stamped in and zone-less input is read in."""
        return self.tz or QB_TZ

    def format(self, value: datetime) -> str:
        """A DATETIMETYPE as QuickBooks prints it for the stored instant ``value``."""
        if self.tz is None:
            return value.isoformat(timespec="seconds")
        local = value.astimezone(self.tz)
        offset = local.utcoffset() or timedelta(0)
        if self.dst_offset_bug:
            offset -= local.dst() or timedelta(0)
        return local.replace(tzinfo=None).isoformat(timespec="seconds") + _offset_text(offset)

    def parse(self, text: str) -> datetime:
        """A DATETIMETYPE (or DATETYPE) from a request as the instant QuickBooks compares.

        Raises ValueError when ``text`` is not a date or datetime.
        """
        value = datetime.fromisoformat(text.strip())
        if value.tzinfo is None:
            # Local wall-clock time; in the repeated hour the first occurrence (fold=0).
            value = value.replace(tzinfo=self.zone)
        return value

    def local(self, value: datetime) -> datetime:
        """``value`` in the workstation's zone."""
        return value.astimezone(self.zone)


class SimClock:
    """The workstation's clock: it moves only when told to, so runs are reproducible."""

    def __init__(self, start: datetime, zone: tzinfo) -> None:
        if start.tzinfo is None:
            start = start.replace(tzinfo=zone)
        self.zone = zone
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The current instant, in the workstation's zone, to the second."""
        return self._now.astimezone(self.zone).replace(microsecond=0)

    def today(self) -> date:
        """The workstation's local date."""
        return self.now().date()

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move the clock forward by ``delta`` (or timedelta(**kwargs)); return the new now.

        Arithmetic is done on real instants, so crossing a daylight-saving change behaves as a
        wall clock does (an hour skipped or repeated).
        """
        step = delta if delta is not None else timedelta(**kwargs)
        if step < timedelta(0):
            raise ValueError("the clock only moves forward; use set() to go back")
        self._now += step
        return self.now()

    def set(self, when: datetime) -> datetime:
        """Set the clock; a naive ``when`` is local wall-clock time. Returns the new now."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=self.zone)
        self._now = when.astimezone(UTC)
        return self.now()
