"""Tenant-level rules the core shares: the tenant's time zone."""

from __future__ import annotations

import logging
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)


def time_zone(name: str) -> tzinfo:
    """The IANA zone ``name`` ("" is UTC); an unknown name logs and falls back to UTC."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r; using UTC", name)
        return UTC


def check_time_zone(name: str) -> str:
    """``name`` if it is "" or a known IANA zone; ValueError otherwise (for settings)."""
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)"
            ) from None
    return name
