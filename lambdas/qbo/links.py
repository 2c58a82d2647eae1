"""One-time connect links: what ``qbrelay qbo connect --tenant NAME`` prints for a company admin.

A link carries a random token (``secrets``, 32 bytes) bound to one tenant, valid for
``LINK_SECONDS`` and good for one connect: it is kept in the OAuth state store under a key of
its own name space (``link:`` before hashing), so a link can never pass as an OAuth ``state`` or
the other way round, and only its SHA-256 is stored.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode

from .states import OAuthState, OAuthStateStore, state_key

# Long enough to forward the link to the company's admin; short enough not to linger.
LINK_SECONDS = 24 * 3600.0
CONNECT_PATH = "/qbo/connect"


def link_key(token: str) -> str:
    """The stored key of a link token (apart from OAuth states' keys)."""
    return state_key("link:" + token)


def create_link(
    tenant: str,
    states: OAuthStateStore,
    clock: Callable[[], float] = time.time,
    seconds: float = LINK_SECONDS,
) -> str:
    """A new single-use link token for ``tenant``."""
    token = secrets.token_urlsafe(32)
    now = clock()
    states.put(link_key(token), OAuthState(tenant, now + seconds, now))
    return token


def link_url(base_url: str, tenant: str, token: str) -> str:
    """The connect link (``base_url``: the public root, e.g. the API's URL)."""
    return f"{base_url.rstrip('/')}{CONNECT_PATH}?{urlencode({'tenant': tenant, 'link': token})}"


def consume_link(
    token: str, tenant: str, states: OAuthStateStore, clock: Callable[[], float] = time.time
) -> bool:
    """True (and the link is used up) if ``token`` is an unexpired link for ``tenant``.

    A link presented for another tenant is used up too: it was seen by the wrong party.
    """
    if not token or len(token) > 128:
        return False
    found = states.consume(link_key(token), clock())
    return found is not None and found.tenant == tenant
