"""Tenant-level rules the core shares: the tenant's time zone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

log = logging.getLogger(__name__)


def time_zone(name: str) -> tzinfo:
    """The IANA zone ``name`` ("" is UTC); an unknown name logs and falls back to UTC."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
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


class _Named(Protocol):
    time_zone: str


class _Tenants(Protocol):
    def get(self, name: str) -> _Named | None: ...


def tenant_time_zones(tenants: _Tenants) -> Callable[[str], tzinfo]:
    """Each tenant's time zone (its ``time_zone`` setting; UTC when unset or unknown)."""

    def zone(name: str) -> tzinfo:
        tenant = tenants.get(name)
        return time_zone(tenant.time_zone if tenant is not None else "")

    return zone
