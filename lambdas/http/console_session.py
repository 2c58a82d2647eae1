"""Console sign-in: a signed session cookie instead of the API key, and CSRF tokens.

The key is entered once (``POST /console/login``) and checked like an ``X-API-Key``; the cookie
then holds ``<key id>.<expiry>.<nonce>.<MAC>``, the MAC an HMAC-SHA256 under the server's
console key of the id, the expiry, a random nonce and the key's stored hash.

Why not the key itself: a cookie that leaks (a shared browser profile, a proxy log) is then
good for SESSION_SECONDS at most, not for the key's whole life, and never usable as an
``X-API-Key``; binding the stored hash means revoking (or replacing) the key ends every session
made with it at once, since verification reads the key row on every request. Forging a session
needs both the server secret and the key's stored hash. Cookies are HttpOnly, Secure,
SameSite=Strict, scoped to the console's path.

CSRF: each form carries HMAC(console key, "csrf" + session cookie); a POST without it, or with
another session's, is refused. The sign-in form is protected the same way by a short-lived
random pre-session cookie, so a foreign page cannot sign a browser in with its own key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from ..store.ports import ApiKey, ApiKeyStore, SecretStore

SESSION_COOKIE = "qbr_console"
LOGIN_COOKIE = "qbr_console_login"
SESSION_SECONDS = 8 * 3600
LOGIN_SECONDS = 900
SECRET_NAME = "console/session"
_EXPIRY = re.compile(r"[0-9]{1,12}")


def _mac(key: bytes, *parts: str) -> str:
    digest = hmac.new(key, "\x1f".join(parts).encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def signing_key(secrets_store: SecretStore, create: bool) -> bytes:
    """The console key from the secret store (``console/session``: ``{"key": ...}``), made and
    stored on first use when ``create`` (the local data dir; on AWS the stack creates it)."""
    value = secrets_store.get(SECRET_NAME)
    if value is None or not value.get("key"):
        if not create:
            raise LookupError(f"secret {SECRET_NAME} is missing")
        value = {"key": secrets.token_urlsafe(48)}
        secrets_store.put(SECRET_NAME, value)
    return str(value["key"]).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in console: the cookie's value and the key it was made from."""

    cookie: str
    key: ApiKey

    def csrf(self, secret: bytes) -> str:
        """The CSRF token every form of this session carries."""
        return _mac(secret, "csrf", self.cookie)


def new_session(secret: bytes, key: ApiKey, now: float) -> Session:
    """A session for ``key``, valid SESSION_SECONDS."""
    expires, nonce = str(int(now + SESSION_SECONDS)), secrets.token_urlsafe(12)
    mac = _mac(secret, "session", key.key_id, expires, nonce, key.secret_hash)
    cookie = ".".join((key.key_id, expires, nonce, mac))
    return Session(cookie, key)


def read_session(
    secret: bytes, keys: ApiKeyStore, cookie: str | None, now: float
) -> Session | None:
    """The session a cookie holds, or None (malformed, forged, expired, key revoked)."""
    parts = (cookie or "").split(".")
    # An expiry is a few ASCII digits; int() of thousands of digits would raise.
    if len(parts) != 4 or not _EXPIRY.fullmatch(parts[1]) or int(parts[1]) <= now:
        return None
    key_id, expires, nonce, mac = parts
    if not key_id.isalnum() or len(key_id) > 32:
        return None
    key = keys.get(key_id)
    if key is None:
        return None
    if not hmac.compare_digest(
        mac, _mac(secret, "session", key_id, expires, nonce, key.secret_hash)
    ):
        return None
    return Session(cookie or "", key)


def csrf_ok(secret: bytes, session: Session, presented: str | None) -> bool:
    """True if ``presented`` is this session's CSRF token."""
    return hmac.compare_digest((presented or "").encode(), session.csrf(secret).encode())


def new_login_nonce() -> str:
    """The random value of the pre-session cookie the sign-in form is bound to."""
    return secrets.token_urlsafe(24)


def login_token(secret: bytes, nonce: str) -> str:
    """The sign-in form's CSRF token for a pre-session cookie."""
    return _mac(secret, "login", nonce)


def login_ok(secret: bytes, nonce: str | None, presented: str | None) -> bool:
    """True if the sign-in form's token belongs to the browser's pre-session cookie."""
    if not nonce or not presented:
        return False
    return hmac.compare_digest(presented.encode(), login_token(secret, nonce).encode())


def cookie_header(name: str, value: str, path: str, max_age: int) -> tuple[str, str]:
    """A ``Set-Cookie`` header: HttpOnly, Secure, SameSite=Strict, on ``path``."""
    return (
        "Set-Cookie",
        f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Strict",
    )
