"""QuickBooks Online webhooks: verify, read both payload formats, de-duplicate, queue.

``receive_webhook`` is the whole request: it takes the raw body and the headers and answers with
a status and what it queued. It calls neither QuickBooks nor ZOHO (Intuit wants an answer within
3 seconds and holds back later events until one comes), only the seen-events store and the
change queue.

- The ``intuit-signature`` header is the base64 HMAC-SHA256 of the exact raw body keyed with the
  app's verifier token; anything else (no header, another key, a changed byte) is 401 and
  nothing is queued.
- The format is told by shape: a JSON array is CloudEvents (mandatory since 2026), an object
  with ``eventNotifications`` the legacy format. Entities the sync does not read are skipped.
- Event ids (CloudEvents ``id``; legacy: realm, entity, id, operation and time) are claimed in
  the seen-events store before queueing and released if the queue refuses, so a retried
  delivery is queued once and a failed one is queued on Intuit's retry.
- A signed delivery that cannot be read is answered 200 and logged: refusing it would stall
  the realm's stream, and the change-data-capture catch-up recovers its changes anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..store.ports import StoreError
from ..store.qbo_ports import ChangeQueue, SeenEvents
from .notices import ChangeNotice, pack
from .transform import QBO_ENTITIES

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "intuit-signature"
# Bounds of one delivery: Intuit states none, so these are generous but keep the request short.
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_EVENTS = 1000
# How long an event id is remembered: longer than Intuit's retries of one delivery go on
# between acknowledgements (hours), short enough to keep the store small.
SEEN_TTL_SECONDS = 3 * 24 * 3600.0

# CloudEvents ``type`` verbs -> the legacy operation names.
_VERBS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "merged": "Merge",
    "voided": "Void",
    "emailed": "Emailed",
}
_ENTITY_BY_LOWER = {name.lower(): name for name in QBO_ENTITIES}


class PayloadError(ValueError):
    """A signed delivery's body is not a webhook payload the sync can read."""


@dataclass(frozen=True, slots=True)
class WebhookResult:
    """The answer to one delivery and what it did."""

    status: int  # 200, 401 (signature), 413 (too large), 503 (queue refused: Intuit retries)
    queued: int = 0
    duplicates: int = 0
    skipped: int = 0  # events of entities the sync does not read
    reason: str = ""


def verify_signature(body: bytes, signature: str | None, verifier_token: str) -> bool:
    """True when ``signature`` is the base64 HMAC-SHA256 of ``body`` under ``verifier_token``."""
    if not signature or not verifier_token:
        return False
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)


def sign(body: bytes, verifier_token: str) -> str:
    """The ``intuit-signature`` value of ``body`` (what Intuit sends; for the fake QBO)."""
    return base64.b64encode(
        hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    ).decode()


def _cloud_event(event: Any) -> ChangeNotice | None:
    if not isinstance(event, dict):
        raise PayloadError("a CloudEvents element is not an object")
    kind = str(event.get("type") or "")
    parts = kind.split(".")
    if len(parts) < 3 or parts[0] != "qbo":
        raise PayloadError(f"unknown CloudEvents type {kind!r}")
    entity, operation = _ENTITY_BY_LOWER.get(parts[1]), _VERBS.get(parts[2])
    if entity is None or operation is None:
        return None
    realm, oid, event_id = (
        event.get("intuitaccountid"),
        event.get("intuitentityid"),
        event.get("id"),
    )
    if not realm or not oid or not event_id:
        raise PayloadError("a CloudEvent without intuitaccountid, intuitentityid or id")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    merged = data.get("deletedId") or data.get("mergedId")
    return ChangeNotice(
        realm=str(realm),
        entity=entity,
        id=str(oid),
        operation=operation,
        occurred=str(event.get("time") or ""),
        event_id=str(event_id),
        merged_id=str(merged) if merged else None,
    )


def _legacy(payload: dict[str, Any]) -> tuple[list[ChangeNotice], int]:
    notices, skipped = [], 0
    groups = payload.get("eventNotifications")
    if not isinstance(groups, list):
        raise PayloadError("eventNotifications is not a list")
    for group in groups:
        if not isinstance(group, dict) or not group.get("realmId"):
            raise PayloadError("an event notification without realmId")
        realm = str(group["realmId"])
        change = group.get("dataChangeEvent") or {}
        entities = change.get("entities") if isinstance(change, dict) else None
        if not isinstance(entities, list):
            raise PayloadError("a dataChangeEvent without entities")
        for e in entities:
            if not isinstance(e, dict) or not e.get("name") or not e.get("id"):
                raise PayloadError("a changed entity without name or id")
            name, operation = str(e["name"]), str(e.get("operation") or "Update")
            if name not in QBO_ENTITIES:
                skipped += 1
                continue
            occurred = str(e.get("lastUpdated") or "")
            merged = e.get("deletedId")
            notices.append(
                ChangeNotice(
                    realm=realm,
                    entity=name,
                    id=str(e["id"]),
                    operation=operation,
                    occurred=occurred,
                    # The legacy format has no event id: these fields name one event.
                    event_id=f"{realm}:{name}:{e['id']}:{operation}:{occurred}",
                    merged_id=str(merged) if merged else None,
                )
            )
    return notices, skipped


def parse_notices(body: bytes) -> tuple[list[ChangeNotice], int]:
    """(notices, events skipped) of a webhook body in either format; PayloadError otherwise."""
    try:
        payload = json.loads(body)
    # RecursionError: nesting deeper than the stack, which a body within the size bound can be.
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError(f"not JSON: {exc}") from None
    if isinstance(payload, list):
        notices, skipped = [], 0
        for event in payload:
            notice = _cloud_event(event)
            if notice is None:
                skipped += 1
            else:
                notices.append(notice)
        return notices, skipped
    if isinstance(payload, dict) and "eventNotifications" in payload:
        return _legacy(payload)
    raise PayloadError("neither a CloudEvents array nor an eventNotifications object")


def receive_webhook(
    body: bytes,
    headers: Mapping[str, str],
    verifier_token: str,
    seen: SeenEvents,
    queue: ChangeQueue,
    clock: Callable[[], float],
    max_body_bytes: int = MAX_BODY_BYTES,
    max_events: int = MAX_EVENTS,
) -> WebhookResult:
    """Handle one webhook delivery (raw body, headers in any case); see the module docstring."""
    if len(body) > max_body_bytes:
        return WebhookResult(413, reason=f"body over {max_body_bytes} bytes")
    signature = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
    if not verify_signature(body, signature, verifier_token):
        log.warning("QuickBooks Online webhook refused: %s", _why(signature, verifier_token))
        return WebhookResult(401, reason="signature")
    try:
        notices, skipped = parse_notices(body)
    except PayloadError as exc:
        log.warning("signed QuickBooks Online webhook not readable, nothing queued: %s", exc)
        return WebhookResult(200, reason=f"unreadable: {exc}")
    if len(notices) + skipped > max_events:
        return WebhookResult(413, reason=f"over {max_events} events")
    now = clock()
    ids = list(dict.fromkeys(n.event_id for n in notices))
    fresh = set(seen.claim(ids, now, SEEN_TTL_SECONDS))
    wanted, taken = [], set()
    for n in notices:
        if n.event_id in fresh and n.event_id not in taken:
            wanted.append(n)
            taken.add(n.event_id)
    if wanted:
        try:
            queue.send(pack(wanted))
        except StoreError as exc:
            seen.release(sorted(fresh))
            log.error("QuickBooks Online webhook not queued (Intuit retries): %s", exc)
            return WebhookResult(503, reason="queue unavailable")
    return WebhookResult(
        200, queued=len(wanted), duplicates=len(notices) - len(wanted), skipped=skipped
    )


def _why(signature: str | None, verifier_token: str) -> str:
    if not verifier_token:
        return "no verifier token is configured"
    return "no intuit-signature header" if not signature else "the signature does not match"
