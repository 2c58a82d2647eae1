"""Braced GUIDs, the form QBWC uses for OwnerID and FileID (e.g. ``{57F3B9B1-86F1-...}``)."""

from __future__ import annotations

import re
import uuid

_BRACED = re.compile(r"\{[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}")


def new_guid() -> str:
    """A fresh random GUID, braced and upper case."""
    return "{" + str(uuid.uuid4()).upper() + "}"


def is_braced_guid(value: str) -> bool:
    """True for ``{8-4-4-4-12}`` hexadecimal, in either case."""
    return _BRACED.fullmatch(value) is not None


def bare_guid(value: str) -> str:
    """The GUID without braces, upper case (the form used in URLs)."""
    if not is_braced_guid(value):
        raise ValueError(f"{value!r} is not a braced GUID")
    return value[1:-1].upper()


def braced_guid(bare: str) -> str | None:
    """``{BARE}`` upper case when ``bare`` is a GUID without braces, else None."""
    candidate = "{" + bare.upper() + "}"
    return candidate if is_braced_guid(candidate) else None
