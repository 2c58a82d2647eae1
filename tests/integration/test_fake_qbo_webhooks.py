"""The fake's webhook sender posts exact bytes with a correct (or deliberately wrong) signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sim.fake_qbo_company import QboCompany
from sim.fake_qbo_server import LoopbackServer
from sim.fake_qbo_webhooks import WebhookSender

TOKEN = "verifier-token-for-tests"


class Listener:
    """A WSGI listener that keeps what it received and answers 200."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        self.received.append((body, headers))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]


def _valid(body: bytes, signature: str | None) -> bool:
    if signature is None:
        return False
    mac = hmac.new(TOKEN.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(mac, base64.b64decode(signature))


@pytest.mark.parametrize(
    ("mode", "legacy", "valid"),
    [
        ("valid", False, True),
        ("valid", True, True),
        ("wrong-key", False, False),
        ("altered", False, False),
        (None, True, False),
    ],
)
def test_deliveries_are_signed_as_asked(mode, legacy, valid) -> None:
    company = QboCompany("4620816365", lambda: datetime.now(UTC))
    company.add("Customer", {"DisplayName": "Hooked Ltd"})
    listener = Listener()
    with LoopbackServer(listener, name="listener") as server:
        sender = WebhookSender(server.url + "/qbo/webhooks", TOKEN)
        delivery = sender.send(company.events, legacy=legacy, signature=mode)
        sender.close()
    body, headers = listener.received[0]
    assert delivery.status == 200 and body == delivery.body
    assert _valid(body, headers.get("intuit-signature")) is valid
    data = json.loads(body)
    if legacy:
        assert data["eventNotifications"][0]["realmId"] == "4620816365"
    else:
        assert data[0]["intuitaccountid"] == "4620816365" and data[0]["specversion"] == "1.0"
