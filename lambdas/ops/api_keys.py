"""Status-API keys: created with a secret shown once, stored hashed, verified per request.

A key reads ``qbr_<id>_<secret>``: 8 random bytes of id (hex) to find the stored row, 32
random bytes of secret (URL-safe base64). Only SHA-256 of the whole key is stored. A slow
password hash (scrypt, as for the Web Connector's passwords) protects low-entropy secrets
against guessing from a stolen hash; a 256-bit random secret cannot be guessed either way, so
scrypt would only add tens of milliseconds of CPU to every API request (and make verifying a
flood of wrong keys a denial-of-service lever). Comparison is constant-time, and an unknown
id or a malformed key costs the same digest and comparison as a wrong secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from ..store.ports import ApiKey, ApiKeyStore

PREFIX = "qbr_"
HEADER = "X-API-Key"
_FORMAT = re.compile(r"qbr_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
# A key's last use is written at most this often (every request would be a write otherwise).
TOUCH_SECONDS = 60.0
# The only answer to a missing or wrong key: it says nothing about why.
UNAUTHORIZED_BODY: dict[str, str] = {
    "error": "unauthorized",
    "message": f"A valid {HEADER} header is required.",
}
MAX_NAME = 64
_DUMMY_HASH = "sha256:" + "0" * 64


def hash_key(key: str) -> str:
    """The stored form of a key: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(name: str, now: float) -> tuple[str, ApiKey]:
    """A new key: the full key (to show once) and the row to store (its hash only)."""
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME or not clean.isprintable():
        raise ValueError(f"an API key name is 1-{MAX_NAME} printable characters")
    key_id = secrets.token_hex(8)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return key, ApiKey(key_id=key_id, name=clean, secret_hash=hash_key(key), created_at=now)


def create_key(store: ApiKeyStore, name: str, now: float) -> tuple[str, ApiKey]:
    """Create and store a key; the full key is returned once and never stored."""
    key, row = new_key(name, now)
    store.add(row)
    return key, row


def describe(key: ApiKey) -> dict[str, Any]:
    """A key as listings show it: id, name, created, last used; never the hash or secret."""
    return {
        "id": key.key_id,
        "name": key.name,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
    }


def verify(store: ApiKeyStore, presented: str | None, now: float) -> ApiKey | None:
    """The stored key ``presented`` is, or None (missing, malformed, unknown, wrong, revoked).

    Store errors propagate: a caller must fail closed, never let a request through.
    """
    match = _FORMAT.fullmatch(presented or "")
    stored = store.get(match.group(1)) if match else None
    expected = stored.secret_hash if stored is not None else _DUMMY_HASH
    ok = hmac.compare_digest(hash_key(presented or ""), expected) and stored is not None
    if not ok or stored is None:
        return None
    if stored.last_used_at is None or now - stored.last_used_at >= TOUCH_SECONDS:
        store.touch(stored.key_id, now)
    return stored


class _Request(Protocol):
    def header(self, name: str) -> str | None: ...


class _Services(Protocol):
    @property
    def api_keys(self) -> ApiKeyStore: ...


def require_api_key(
    request: _Request, services: _Services, clock: Callable[[], float] | None = None
) -> tuple[int, dict[str, str]] | None:
    """The router's guard: None to go on, or ``(401, UNAUTHORIZED_BODY)`` for a missing or
    wrong ``X-API-Key``. The same body for every refusal, so it reveals nothing."""
    now = (clock or time.time)()
    if verify(services.api_keys, request.header(HEADER), now) is None:
        return 401, dict(UNAUTHORIZED_BODY)
    return None
