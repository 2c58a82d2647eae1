"""Change detection: a stable content hash per canonical record.

The hash covers the record's content but not ``time_modified``, ``edit_sequence`` or
``sync_token``: QuickBooks bumps those without a content change (a record saved unchanged), and
the CRM only needs content.
"""

from __future__ import annotations

import hashlib
import json
from json.encoder import encode_basestring_ascii
from typing import Any

VOLATILE_FIELDS = frozenset({"time_modified", "edit_sequence", "sync_token"})
# The order the encoder writes them in (sort_keys), so each removal leaves the next in place.
_VOLATILE_ORDER = tuple(sorted(VOLATILE_FIELDS))
# One encoder for every call: json.dumps with non-default options builds a new one each time.
CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))


def canonical_json(record: dict[str, Any]) -> str:
    """The record as JSON with sorted keys and no spaces (ASCII: non-ASCII is escaped)."""
    return CANONICAL.encode(record)


def content_hash(record: dict[str, Any]) -> str:
    """sha256 hex of the record's JSON with sorted keys, volatile fields left out."""
    stable = {k: v for k, v in record.items() if k not in VOLATILE_FIELDS}
    return hashlib.sha256(canonical_json(stable).encode()).hexdigest()


def json_and_hash(record: dict[str, Any]) -> tuple[str, str]:
    """``canonical_json(record)`` and ``content_hash(record)``, serializing the record once.

    The hashed bytes are the same: the JSON of the record without its volatile fields is the
    full JSON with each volatile ``"key":value`` item cut out (the encoder joins a sorted
    object's items with commas and nothing else). When an item's text is not unique in the
    document (a nested object with the same key and value), the hash is computed on its own.
    """
    text = canonical_json(record)
    parts: list[str] = []
    kept = 0  # where the text after the last cut item starts
    for key in _VOLATILE_ORDER:
        if key not in record:
            continue
        value = record[key]
        if value.__class__ is str:
            item = f'"{key}":{encode_basestring_ascii(value)}'
        elif value is None:
            item = f'"{key}":null'
        else:
            return text, content_hash(record)
        at = text.find(item, kept)
        # Found once only (find from the left, rfind from the right meet): then it is the
        # top-level item, which sorted keys put after the previous cut.
        if at < 0 or text.rfind(item) != at:
            return text, content_hash(record)
        end = at + len(item)
        # Drop the item with the comma before it, or after it when it comes first (after "{"
        # or after a first item already cut with its comma).
        if at - 1 >= kept and text[at - 1] == ",":
            parts.append(text[kept : at - 1])
            kept = end
        else:
            parts.append(text[kept:at])
            kept = end + 1 if text[end] == "," else end
    if not parts:
        return text, hashlib.sha256(text.encode()).hexdigest()
    parts.append(text[kept:])
    return text, hashlib.sha256("".join(parts).encode()).hexdigest()
