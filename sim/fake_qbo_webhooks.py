"""Intuit's webhook deliveries as the fake sends them, signed (or mis-signed) on request.

``intuit-signature`` is base64(HMAC-SHA256(verifier token, exact body bytes)) (research §4.2).
Bodies come in the CloudEvents array (``qbo.<entity>.<created|updated|deleted|merged|voided>.v1``,
``intuitaccountid`` = realm, ``intuitentityid`` = Id, a unique ``id`` per event) or the legacy
``eventNotifications`` object, grouped one realm at a time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import requests

from .fake_qbo_company import Event

_PAST = {"Create": "created", "Update": "updated", "Delete": "deleted", "Merge": "merged"}
_PAST |= {"Void": "voided", "Emailed": "emailed"}


def sign(body: bytes, verifier_token: str) -> str:
    """The ``intuit-signature`` header value of ``body``."""
    mac = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def cloud_events(events: Sequence[Event]) -> list[dict[str, Any]]:
    """The CloudEvents array of ``events`` (each with a fresh event id)."""
    return [
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "intuit.fake-qbo",
            "type": f"qbo.{e.entity.lower()}.{_PAST[e.operation]}.v1",
            "datacontenttype": "application/json",
            "time": e.at.isoformat().replace("+00:00", "Z"),
            "intuitentityid": e.id,
            "intuitaccountid": e.realm_id,
            "data": {},
        }
        for e in events
    ]


def legacy_notifications(events: Sequence[Event]) -> dict[str, Any]:
    """The legacy ``eventNotifications`` object of ``events``, one entry per realm."""
    realms: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        realms.setdefault(e.realm_id, []).append(
            {
                "name": e.entity,
                "id": e.id,
                "operation": e.operation,
                "lastUpdated": e.at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            }
        )
    return {
        "eventNotifications": [
            {"realmId": realm, "dataChangeEvent": {"entities": entities}}
            for realm, entities in realms.items()
        ]
    }


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST as sent: the body, its headers and the listener's answer."""

    body: bytes
    headers: dict[str, str]
    status: int


class WebhookSender:
    """Posts deliveries to a listener URL (loopback in tests) and keeps what it sent."""

    def __init__(self, url: str, verifier_token: str, timeout: float = 5.0) -> None:
        self.url = url
        self.verifier_token = verifier_token
        self.timeout = timeout
        self.deliveries: list[Delivery] = []
        self._session = requests.Session()

    def payload(self, events: Sequence[Event], legacy: bool = False) -> bytes:
        """The body of one delivery of ``events`` in either shape."""
        data: Any = legacy_notifications(events) if legacy else cloud_events(events)
        return json.dumps(data, separators=(",", ":")).encode()

    def send(
        self,
        events: Sequence[Event],
        legacy: bool = False,
        signature: str | None = "valid",
        body: bytes | None = None,
    ) -> Delivery:
        """Deliver ``events``: ``signature`` is "valid", "wrong-key", "altered" or None (none).

        "altered" signs the body and then adds a byte to it, as a re-serialising proxy would.
        """
        raw = body if body is not None else self.payload(events, legacy)
        # Listeners tell the shapes apart by the body, not the Content-Type (research §4.3).
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["intuit-signature"] = sign(raw, self.verifier_token)
        elif signature == "wrong-key":
            headers["intuit-signature"] = sign(raw, self.verifier_token + "x")
        elif signature == "altered":
            headers["intuit-signature"] = sign(raw, self.verifier_token)
            raw = raw + b" "  # still valid JSON, but not the bytes signed
        elif signature is not None:
            raise ValueError(f"unknown signature mode {signature!r}")
        resp = self._session.post(self.url, data=raw, headers=headers, timeout=self.timeout)
        delivery = Delivery(raw, headers, resp.status_code)
        self.deliveries.append(delivery)
        return delivery

    def close(self) -> None:
        self._session.close()
