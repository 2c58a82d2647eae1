"""Comparing Web Connector version strings such as "2.3.0.215"."""

from __future__ import annotations


def _parts(version: str) -> tuple[int, ...]:
    out = []
    for piece in version.strip().split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as dotted version ``a`` is older than, equal to or newer than ``b``.

    An empty or unreadable version counts as 0, i.e. older than any real one.
    """
    pa, pb = _parts(a or "0"), _parts(b or "0")
    width = max(len(pa), len(pb))
    pa += (0,) * (width - len(pa))
    pb += (0,) * (width - len(pb))
    return (pa > pb) - (pa < pb)
