"""The text rule for values sent to QuickBooks.

QuickBooks Desktop stores ISO-8859-1 only; other characters turn into "?" or break the parse of
the whole message set. Rule: keep every ISO-8859-1 character; otherwise try the compatibility
decomposition (NFKD) and keep what then fits (so "ŁódŸ" → "Lódz", "ﬁ" → "fi"); replace anything
still outside ISO-8859-1 with "?". Control characters other than tab, newline and carriage return
are dropped because XML 1.0 cannot carry them.
"""

from __future__ import annotations

import unicodedata

_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def _fits(ch: str) -> bool:
    return ord(ch) <= 0xFF


def to_qb_text(value: str) -> str:
    """Return ``value`` restricted to what QuickBooks can store (see module docstring)."""
    if value.isascii() and value.isprintable():
        return value
    out: list[str] = []
    for ch in value:
        if ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0:
            if ch in _ALLOWED_CONTROLS:
                out.append(ch)
            continue
        if _fits(ch):
            out.append(ch)
            continue
        decomposed = "".join(
            c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
        )
        if decomposed and all(_fits(c) and ord(c) >= 0x20 for c in decomposed):
            out.append(decomposed)
        else:
            out.append("?")
    return "".join(out)
