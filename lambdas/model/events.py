"""Outbound events: what the relay tells subscribers about sync outcomes (pure, no I/O).

Each event names its tenant, when it happened, a stable id and a small payload of ids, counts
and, where something went wrong, the error shape (``error``: a plain dict with the keys of
``ERROR_KEYS``). Events carry no secrets and no record contents: a Web Connector ticket is
hashed before it becomes an id, and records are named by their QuickBooks ids only.

The id is derived from the fact the event reports (the session's ticket, the parked message,
the tenant's silence, the audit run), so a fact reported twice (a retried Lambda, an overlapping
schedule) has one id and receivers can drop the repeat.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .errors import classify_text

SESSION_COMPLETED = "session.completed"
FAILURE_PARKED = "failure.parked"
TENANT_STALE = "tenant.stale"
DRIFT_FOUND = "drift.found"
QBO_NEEDS_RECONNECT = "qbo.needs_reconnect"
EVENT_TYPES = (SESSION_COMPLETED, FAILURE_PARKED, TENANT_STALE, DRIFT_FOUND, QBO_NEEDS_RECONNECT)
# Sent by ``qbrelay webhooks test`` to one subscription only, whatever its event filter.
WEBHOOK_TEST = "webhook.test"

# The error shape shared with the status API and the CLI (ErrorInfo's fields).
ERROR_KEYS = ("code", "message", "user_message", "retryable", "docs")
# Bounds that keep every event far below EventBridge's 256 KB entry limit.
MAX_TEXT = 2000
MAX_EXAMPLES = 5


class EventError(ValueError):
    """An event document that is not one of ours."""


@dataclass(frozen=True, slots=True)
class Event:
    """One outbound event. ``time`` is epoch seconds; ``data`` is JSON-ready."""

    id: str
    type: str
    tenant: str
    time: float
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The document subscribers receive (and EventBridge carries as ``detail``)."""
        return {
            "id": self.id,
            "type": self.type,
            "tenant": self.tenant,
            "time": iso_time(self.time),
            "data": self.data,
        }

    def body(self) -> bytes:
        """The event as compact UTF-8 JSON (what is signed and sent)."""
        return json.dumps(self.to_json(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Event:
        """The event of a document made by ``to_json``; EventError if it is not one."""
        try:
            when = datetime.fromisoformat(str(doc["time"]).replace("Z", "+00:00"))
            data = doc.get("data") or {}
            if not isinstance(data, dict):
                raise TypeError("data is not an object")
            return cls(str(doc["id"]), str(doc["type"]), str(doc["tenant"]), when.timestamp(), data)
        except (KeyError, TypeError, ValueError) as exc:
            raise EventError(f"not a relay event: {exc}") from None


def iso_time(epoch: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-05-01T12:00:00.000Z``."""
    stamp = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def event_id(kind: str, *facts: object) -> str:
    """A stable id for the fact ``facts`` of an event type: ``evt_`` and 32 hex digits."""
    digest = hashlib.sha256(json.dumps([kind, *map(str, facts)]).encode()).hexdigest()
    return "evt_" + digest[:32]


def _text(value: str) -> str:
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


def error_dict(
    code: str,
    message: str,
    user_message: str = "",
    retryable: bool = False,
    docs: str = "",
) -> dict[str, Any]:
    """The error shape as a plain dict (every key of ``ERROR_KEYS``, as ErrorInfo.to_json)."""
    return {
        "code": code,
        "message": _text(message),
        "user_message": _text(user_message or message),
        "retryable": bool(retryable),
        "docs": docs,
    }


def as_error(error: Any) -> dict[str, Any] | None:
    """An error shape from a dict or any object with ErrorInfo's attributes (None stays None)."""
    if error is None:
        return None
    if isinstance(error, Mapping):
        got = {k: error.get(k) for k in ERROR_KEYS}
    else:
        got = {k: getattr(error, k, None) for k in ERROR_KEYS}
    return error_dict(
        str(got["code"] or "ERROR"),
        str(got["message"] or ""),
        str(got["user_message"] or ""),
        bool(got["retryable"]),
        str(got["docs"] or ""),
    )


def session_completed(
    tenant: str,
    ticket: str,
    *,
    status: str,
    started_at: float,
    ended_at: float,
    exchanges: int,
    errors: int,
    summary: str,
    entities: Mapping[str, Mapping[str, int]],
    warnings: int = 0,
    error: Any = None,
) -> Event:
    """A Web Connector session ended (``status``: completed, partial or failed).

    The ticket is a credential while the session lives: only its hash becomes the run id.
    """
    run_id = hashlib.sha256(ticket.encode()).hexdigest()[:16]
    data: dict[str, Any] = {
        "run_id": run_id,
        "status": status,
        "started_at": iso_time(started_at),
        "ended_at": iso_time(ended_at),
        "seconds": round(max(0.0, ended_at - started_at), 3),
        "exchanges": exchanges,
        "errors": errors,
        "warnings": warnings,
        "summary": _text(summary),
        "entities": {name: dict(counts) for name, counts in entities.items()},
    }
    if error is not None:
        data["error"] = as_error(error)
    return Event(
        event_id(SESSION_COMPLETED, tenant, ticket), SESSION_COMPLETED, tenant, ended_at, data
    )


def session_error(last_error: str, status: str) -> dict[str, Any] | None:
    """The error shape of a session that did not complete cleanly (None when it did: its last
    message is then only the note that there is nothing more to ask)."""
    if not last_error or status == "completed":
        return None
    info = classify_text(last_error)
    return as_error(info) if info is not None else None


def failure_parked(
    tenant: str,
    message_key: str,
    *,
    at: float,
    entity: str,
    source_id: str,
    version: str,
    reason: str,
    deliveries: int = 1,
    error: Any = None,
) -> Event:
    """The forwarder gave up on one record (dead-lettered with ``reason``)."""
    data = {
        "entity": entity,
        "source_id": source_id,
        "version": version,
        "deliveries": deliveries,
        "error": as_error(error) if error is not None else parked_error(reason),
    }
    fact = (tenant, message_key, entity, source_id, version)
    return Event(event_id(FAILURE_PARKED, *fact), FAILURE_PARKED, tenant, at, data)


def parked_error(reason: str) -> dict[str, Any]:
    """The error shape of a parked record from the forwarder's reason (ZOHO's code in it)."""
    info = classify_text(reason)
    return as_error(info) if info is not None else error_dict("RELAY_ERROR", reason)


def tenant_stale(
    tenant: str,
    *,
    at: float,
    silent_since: float,
    last_sync_at: float | None,
    silent_hours: float,
    threshold_hours: float,
    reminder: int = 0,
) -> Event:
    """No completed Web Connector session for more than the threshold (``reminder`` counts the
    further threshold periods of the same silence, 0 for the first notice)."""
    data = {
        "last_sync_at": iso_time(last_sync_at) if last_sync_at is not None else None,
        "silent_hours": round(silent_hours, 1),
        "threshold_hours": threshold_hours,
        "reminder": reminder,
        "error": error_dict(
            "TENANT_STALE",
            f"no completed Web Connector session for {silent_hours:.1f} hours",
            "Check that the QuickBooks computer is on, QuickBooks and the Web Connector are "
            "running, and the Web Connector's scheduled update is enabled for this tenant.",
            retryable=True,
            docs="README.md#tenant-stale",
        ),
    }
    fact = (tenant, round(silent_since, 3), reminder)
    return Event(event_id(TENANT_STALE, *fact), TENANT_STALE, tenant, at, data)


def drift_found(
    tenant: str,
    *,
    at: float,
    counts: Mapping[str, int],
    examples: Mapping[str, list[Mapping[str, str]]],
    repaired: Mapping[str, int],
    in_flight: int = 0,
) -> Event:
    """The audit found records where ZOHO and the mapping store disagree."""
    data = {
        "counts": dict(counts),
        "drift": sum(counts.values()),
        "in_flight": in_flight,
        # Ids only (entity, QuickBooks id, ZOHO id), a few per kind.
        "examples": {
            k: [
                {f: str(ex[f]) for f in ("entity", "source_id", "zoho_id") if f in ex}
                for ex in v[:MAX_EXAMPLES]
            ]
            for k, v in examples.items()
            if v
        },
        "repaired": dict(repaired),
    }
    return Event(event_id(DRIFT_FOUND, tenant, at), DRIFT_FOUND, tenant, at, data)


def qbo_needs_reconnect(tenant: str, realm_id: str, *, at: float, error: Any) -> Event:
    """QuickBooks Online refused the tenant's tokens (e.g. invalid_grant): a person must connect
    the company again. One event per refusal time; ``error`` is the error shape."""
    data = {"realm_id": realm_id, "error": as_error(error)}
    fact = (tenant, realm_id, at)
    return Event(event_id(QBO_NEEDS_RECONNECT, *fact), QBO_NEEDS_RECONNECT, tenant, at, data)


def webhook_test(subscription_id: str, tenant: str, at: float) -> Event:
    """The event ``qbrelay webhooks test`` sends to one subscription."""
    data = {"subscription_id": subscription_id, "message": "a test event from qbrelay"}
    return Event(event_id(WEBHOOK_TEST, subscription_id, at), WEBHOOK_TEST, tenant, at, data)
