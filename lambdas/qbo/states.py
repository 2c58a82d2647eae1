"""The OAuth ``state`` values handed out by the connect step, kept server-side until used.

A state is random (``secrets``), bound to the tenant that started the connect flow, expires
after a few minutes and works once: ``consume`` removes it in the same atomic step that reads
it, so two callbacks racing with one state cannot both pass. Stores keep only its SHA-256, so a
leaked store row cannot be replayed as a callback.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


def state_key(state: str) -> str:
    """The stored key of a state value (its SHA-256, hex)."""
    return hashlib.sha256(state.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OAuthState:
    """What a state stands for: the tenant connecting and until when the state is valid."""

    tenant: str
    expires_at: float
    created_at: float


class OAuthStateStore(Protocol):
    """Outstanding states by key (``state_key``)."""

    def put(self, key: str, state: OAuthState) -> None:
        """Remember a new state."""

    def consume(self, key: str, now: float) -> OAuthState | None:
        """Remove the state and return it if it existed and had not expired by ``now``.

        Atomic: of several concurrent calls with one key, at most one gets the state.
        """
