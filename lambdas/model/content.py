"""Change detection: a stable content hash per canonical record.

The hash covers the record's content but not ``time_modified``, ``edit_sequence`` or
``sync_token``: QuickBooks bumps those without a content change (a record saved unchanged), and
the CRM only needs content.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

VOLATILE_FIELDS = frozenset({"time_modified", "edit_sequence", "sync_token"})


def content_hash(record: dict[str, Any]) -> str:
    """sha256 hex of the record's JSON with sorted keys, volatile fields left out."""
    stable = {k: v for k, v in record.items() if k not in VOLATILE_FIELDS}
    return hashlib.sha256(
        json.dumps(stable, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
