"""Conflict policy: what a write keeps of a field changed in ZOHO and in QuickBooks alike.

``base`` is the field's value at the last sync (what both sides held), ``zoho`` what ZOHO holds
now, ``qb`` what QuickBooks holds now. ZOHO changed a field when ``zoho != base``; it is a
conflict when QuickBooks changed it too, to something else. The tenant's policy decides:
QuickBooks wins (the default: the books are the record of truth), ZOHO wins, or the side
changed last wins (``newest_wins``, by ZOHO's Modified_Time and QuickBooks' TimeModified; a tie
or an unknown time keeps QuickBooks).
"""

from __future__ import annotations

from collections.abc import Mapping

from .model import NEWEST_WINS, POLICIES, ZOHO_WINS, Conflict


def check_policy(policy: str) -> str:
    """``policy`` if it is one of POLICIES; ValueError naming them otherwise (for settings)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown conflict policy {policy!r} (one of {', '.join(POLICIES)})")
    return policy


def resolve(
    policy: str,
    base: Mapping[str, str],
    zoho: Mapping[str, str],
    qb: Mapping[str, str],
    zoho_time: float | None = None,
    qb_time: float | None = None,
) -> tuple[dict[str, str], tuple[Conflict, ...]]:
    """(fields to write to QuickBooks, conflicts) for a modification.

    Only fields ZOHO changed since ``base`` are written; a field QuickBooks changed too goes by
    ``policy``. A field both sides changed to the same value is no conflict and needs no write.
    """
    check_policy(policy)
    send: dict[str, str] = {}
    conflicts: list[Conflict] = []
    for name in sorted(zoho):
        new = zoho.get(name, "")
        old = base.get(name, "")
        if new == old:
            continue
        current = qb.get(name, "")
        if current == new:
            continue
        if current == old:
            send[name] = new
            continue
        if _zoho_keeps(policy, zoho_time, qb_time):
            send[name] = new
            conflicts.append(Conflict(name, current, new, "zoho"))
        else:
            conflicts.append(Conflict(name, current, new, "qb"))
    return send, tuple(conflicts)


def _zoho_keeps(policy: str, zoho_time: float | None, qb_time: float | None) -> bool:
    if policy == ZOHO_WINS:
        return True
    if policy == NEWEST_WINS and zoho_time is not None and qb_time is not None:
        return zoho_time > qb_time
    return False
