"""Signing webhook deliveries, and verifying them as a receiver should (docs/webhooks.md).

Every POST carries:

- ``X-Qbrelay-Delivery``: the delivery id (the same on every attempt of one delivery);
- ``X-Qbrelay-Timestamp``: when this attempt was signed, in Unix seconds;
- ``X-Qbrelay-Event``: the event type;
- ``X-Qbrelay-Signature``: ``sha256=`` and the hex HMAC-SHA256, keyed with the subscription's
  signing secret, of ``<timestamp>.<delivery id>.`` followed by the raw body.

Signing the timestamp and the delivery id with the body lets a receiver refuse a replay: a
signature older than its tolerance, or a delivery id it has already accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

SIGNATURE = "X-Qbrelay-Signature"
TIMESTAMP = "X-Qbrelay-Timestamp"
DELIVERY = "X-Qbrelay-Delivery"
EVENT = "X-Qbrelay-Event"
SECRET_PREFIX = "whsec_"
# How old a signature a receiver accepts (and how far ahead, for clock skew).
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    """A fresh signing secret (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(secret: str, timestamp: int, delivery_id: str, body: bytes) -> str:
    """The ``X-Qbrelay-Signature`` value of one attempt."""
    signed = f"{timestamp}.{delivery_id}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, timestamp: int, delivery_id: str, event_type: str, body: bytes
) -> dict[str, str]:
    """The headers of one attempt."""
    return {
        "Content-Type": "application/json",
        DELIVERY: delivery_id,
        TIMESTAMP: str(timestamp),
        EVENT: event_type,
        SIGNATURE: signature(secret, timestamp, delivery_id, body),
    }


class SignatureError(ValueError):
    """A delivery whose signature does not hold (the message says why)."""


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> str:
    """Check a received delivery; its delivery id (to refuse repeats), or SignatureError.

    ``headers`` are looked up case-insensitively.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        stamp = int(lowered[TIMESTAMP.lower()])
        delivery_id = lowered[DELIVERY.lower()]
        given = lowered[SIGNATURE.lower()]
    except (KeyError, ValueError):
        raise SignatureError("missing or malformed signature headers") from None
    if abs(now - stamp) > tolerance:
        raise SignatureError("the signature's timestamp is outside the tolerance")
    if not hmac.compare_digest(given, signature(secret, stamp, delivery_id, body)):
        raise SignatureError("the signature does not match")
    return delivery_id
