"""Password hashing for Web Connector users: salted scrypt, verified in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

# ~16 MiB and a few tens of milliseconds per check: costly for guessing, cheap for one login.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_SCHEME = "scrypt"


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_DKLEN, maxmem=64 * 1024 * 1024
    )


def hash_password(password: str) -> str:
    """Encode ``password`` as ``scrypt$N$r$p$salt$hash`` (base64 parts)."""
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, _N, _R, _P)
    b64 = base64.b64encode
    return f"{_SCHEME}${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_hex(16))


def verify_password(password: str, encoded: str | None) -> bool:
    """True if ``password`` matches ``encoded``.

    With ``encoded`` None (unknown user) a dummy hash is checked anyway, so the answer takes the
    same time whether or not the user exists.
    """
    target = encoded or _dummy_hash()
    try:
        scheme, n, r, p, salt, digest = target.split("$")
        if scheme != _SCHEME:
            return False
        expected = base64.b64decode(digest)
        actual = _derive(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected) and encoded is not None


MIN_LENGTH = 12
MIN_CLASSES = 3


def _classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters ``password`` uses."""
    tests = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    return sum(any(test(c) for c in password) for test in tests)


def password_weakness(password: str) -> str | None:
    """Why an operator's chosen password is too weak, or None when it is acceptable.

    At least ``MIN_LENGTH`` characters from ``MIN_CLASSES`` of the four classes: with login
    throttling an online guesser gets a few hundred tries a day, far below such a space.
    """
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters")
    if _classes(password) < MIN_CLASSES:
        problems.append(
            f"characters of at least {MIN_CLASSES} kinds (lower case, upper case, digits, others)"
        )
    return f"the password must have {' and '.join(problems)}" if problems else None


def generate_password() -> str:
    """A strong random password for a new Web Connector user (about 144 bits).

    Drawn again in the rare case (under 1%) that it lacks the character classes the stdin
    check asks for, so a generated password passes that check too.
    """
    while True:
        password = secrets.token_urlsafe(18)
        if password_weakness(password) is None:
            return password
