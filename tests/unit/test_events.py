"""The event model, EventBridge batching, signing, URL policy, backoff and stale notices."""

from __future__ import annotations

import ipaddress
import json
import socket

import pytest

from lambdas.events.eventbridge import MAX_REQUEST_BYTES, batches, entry, entry_size
from lambdas.events.publisher import GuardedPublisher
from lambdas.model import events
from lambdas.model.events import Event
from lambdas.ops.stale_sync import HOUR, StaleTenant, stale_notices
from lambdas.webhooks.delivery import RetryPolicy
from lambdas.webhooks.http import (
    LOCAL,
    PUBLIC_ONLY,
    Unresolved,
    UrlRefused,
    addresses,
    check_url,
    is_public,
    post,
)
from lambdas.webhooks.signing import SignatureError, signature, signed_headers, verify

T0 = 1_780_000_000.0
TICKET = "a" * 40


def completed(ticket: str = TICKET, status: str = "completed", error: str = "") -> Event:
    return events.session_completed(
        "acme",
        ticket,
        status=status,
        started_at=T0,
        ended_at=T0 + 12.5,
        exchanges=3,
        errors=0 if status == "completed" else 1,
        summary="Synced 3 customers",
        entities={"Customer": {"received": 3, "queued": 3, "unchanged": 0, "errors": 0}},
        error=events.session_error(error, status),
    )


def test_session_event_has_a_stable_id_and_no_ticket() -> None:
    a, b = completed(), completed()
    assert a.id == b.id and a.id.startswith("evt_") and len(a.id) == 36
    assert completed("b" * 40).id != a.id
    body = a.body().decode()
    assert TICKET not in body
    doc = json.loads(body)
    assert doc["type"] == "session.completed" and doc["tenant"] == "acme"
    assert doc["time"] == "2026-05-28T20:26:52.500Z"
    assert doc["data"]["entities"]["Customer"]["queued"] == 3
    assert "error" not in doc["data"]
    assert Event.from_json(doc) == a


def test_a_failed_session_carries_the_error_shape() -> None:
    e = completed(status="failed", error="The Web Connector could not open QuickBooks (0x80040408)")
    err = e.data["error"]
    assert set(err) == set(events.ERROR_KEYS)
    assert err["code"] == "HRESULT_0x80040408" and err["retryable"] is True


def test_as_error_takes_a_dict_or_an_errorinfo_like_object() -> None:
    class ErrorInfo:
        code, message, user_message, retryable, docs = "X", "m", "u", False, "a"

    from_obj = events.as_error(ErrorInfo())
    assert from_obj == {
        "code": "X",
        "message": "m",
        "user_message": "u",
        "retryable": False,
        "docs": "a",
    }
    assert events.as_error(from_obj) == from_obj
    assert events.as_error(None) is None


def test_parked_and_drift_events_carry_ids_and_counts_only() -> None:
    parked = events.failure_parked(
        "acme",
        "msg-1",
        at=T0,
        entity="Customer",
        source_id="80-1",
        version="1001",
        reason="Accounts: INVALID_DATA: invalid data (Phone)",
    )
    assert parked.data["error"]["code"] == "ZOHO_INVALID_DATA"
    assert parked.data["source_id"] == "80-1"
    examples = {
        "missing": [{"entity": "Customer", "source_id": str(i), "status": "x"} for i in range(9)]
    }
    drift = events.drift_found(
        "acme", at=T0, counts={"missing": 9, "stale": 0}, examples=examples, repaired={}
    )
    assert drift.data["drift"] == 9 and len(drift.data["examples"]["missing"]) == 5
    assert drift.data["examples"]["missing"][0] == {"entity": "Customer", "source_id": "0"}


def test_qbo_needs_reconnect_event() -> None:
    error = events.error_dict("invalid_grant", "refresh token revoked", "Connect again", False)
    e = events.qbo_needs_reconnect("acme", "9130", at=T0, error=error)
    assert e.type == "qbo.needs_reconnect" and e.data == {"realm_id": "9130", "error": error}


# --- EventBridge batching --------------------------------------------------------------------


def big(n: int, size: int) -> Event:
    return Event(f"evt_{n}", "drift.found", "acme", T0, {"pad": "x" * size})


def test_batches_hold_at_most_ten_entries_and_256_kb() -> None:
    small = [entry(big(i, 10), "bus") for i in range(23)]
    assert [len(b) for b in batches(small)] == [10, 10, 3]
    heavy = [entry(big(i, 60_000), "bus") for i in range(9)]
    sizes = [sum(entry_size(x) for x in b) for b in batches(heavy)]
    assert all(s <= MAX_REQUEST_BYTES for s in sizes) and len(sizes) == 3
    assert sum(len(b) for b in batches(heavy)) == 9
    oversize = [entry(big(0, MAX_REQUEST_BYTES), "bus"), entry(big(1, 10), "bus")]
    assert [[x["Detail"] for x in b] for b in batches(oversize)] == [[oversize[1]["Detail"]]]


def test_entry_size_counts_as_eventbridge_does() -> None:
    item = entry(big(0, 100), "bus")
    expected = 14 + len(b"qbxml-relay") + len(b"drift.found") + len(item["Detail"].encode())
    assert entry_size(item) == expected


def test_a_guarded_publisher_never_raises() -> None:
    class Broken(GuardedPublisher):
        def _send(self, events: list[Event]) -> int:
            raise RuntimeError("the bus is on fire")

    p = Broken()
    p.publish([big(0, 1), big(1, 1)])
    p.publish([])
    assert (p.published, p.failed) == (0, 2)


# --- signing ---------------------------------------------------------------------------------


def test_signature_verifies_and_refuses_tampering_and_replays() -> None:
    body = b'{"id":"evt_1"}'
    headers = signed_headers("whsec_k", int(T0), "dlv_1", "session.completed", body)
    assert verify("whsec_k", headers, body, now=T0 + 10) == "dlv_1"
    lowered = {k.lower(): v for k, v in headers.items()}
    assert verify("whsec_k", lowered, body, now=T0) == "dlv_1"
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_k", headers, body + b" ", now=T0)
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_other", headers, body, now=T0)
    with pytest.raises(SignatureError, match="tolerance"):
        verify("whsec_k", headers, body, now=T0 + 301)
    forged = {**headers, "X-Qbrelay-Delivery": "dlv_2"}  # the id is signed too
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_k", forged, body, now=T0)
    assert signature("k", 1, "d", b"x").startswith("sha256=")


# --- URLs and addresses ----------------------------------------------------------------------


def test_url_policy() -> None:
    assert check_url("https://hooks.example.com/x?y=1", PUBLIC_ONLY).path == "/x?y=1"
    assert check_url("http://127.0.0.1:8080/h", LOCAL).port == 8080
    assert check_url("http://localhost/h", LOCAL).host == "localhost"
    for url, policy in (
        ("http://example.com/h", LOCAL),
        ("http://127.0.0.1/h", PUBLIC_ONLY),
        ("ftp://example.com/h", LOCAL),
        ("https://user:pw@example.com/h", LOCAL),
        ("https://10.0.0.5/h", PUBLIC_ONLY),
        ("https://169.254.169.254/latest", PUBLIC_ONLY),
        ("https://[::1]/h", PUBLIC_ONLY),
        ("https://[::ffff:10.0.0.1]/h", PUBLIC_ONLY),
        ("https://localhost/h", PUBLIC_ONLY),
        ("https:///nohost", LOCAL),
    ):
        with pytest.raises(UrlRefused):
            check_url(url, policy)


def resolver(*ips: str):
    def resolve(host, port, type=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]

    return resolve


def test_names_resolving_to_private_addresses_are_refused_on_aws() -> None:
    target = check_url("https://hooks.example.com/h", PUBLIC_ONLY)
    assert addresses(target, PUBLIC_ONLY, resolver("93.184.216.34")) == ["93.184.216.34"]
    for bad in ("10.1.2.3", "127.0.0.1", "169.254.169.254", "100.64.0.1", "192.168.1.1"):
        with pytest.raises(UrlRefused, match="not a public address"):
            addresses(target, PUBLIC_ONLY, resolver("93.184.216.34", bad))


@pytest.mark.parametrize(
    "ip",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254: a DNS64/NAT64 network reaches it
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible (deprecated) form of 169.254.169.254
        "fec0::1",  # site-local (deprecated), a private range
    ],
)
def test_ipv6_forms_of_private_addresses_are_not_public(ip: str) -> None:
    assert not is_public(ipaddress.ip_address(ip))
    with pytest.raises(UrlRefused):
        check_url(f"https://[{ip}]/h", PUBLIC_ONLY)


def test_nat64_of_a_public_address_stays_public() -> None:
    assert is_public(ipaddress.ip_address("64:ff9b::5db8:d822"))  # 93.184.216.34
    local = check_url("http://localhost:9/h", LOCAL)
    with pytest.raises(UrlRefused, match="not this machine"):
        addresses(local, LOCAL, resolver("192.168.1.9"))


def test_post_reports_refusals_as_permanent_and_dns_failures_as_transient() -> None:
    refused = post("https://10.0.0.1/h", b"{}", {}, PUBLIC_ONLY)
    assert refused.permanent and refused.status_code is None and "refused" in refused.error

    def no_dns(host, port, type=0):
        raise socket.gaierror("Name or service not known")

    sent = post("https://hooks.example.com/h", b"{}", {}, PUBLIC_ONLY, resolve=no_dns)
    assert not sent.permanent and not sent.ok and "cannot resolve" in sent.error
    assert issubclass(Unresolved, UrlRefused)


# --- backoff and stale notices ---------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_seconds=30, cap_seconds=900)
    assert [policy.delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 900, 900, 900]


def stale(silent_hours: float, threshold: float = 24.0, now: float = T0) -> StaleTenant:
    since = now - silent_hours * HOUR
    return StaleTenant("acme", since, silent_hours, since, threshold * HOUR)


def test_stale_is_announced_once_per_threshold_period() -> None:
    window = 3600.0
    announced = [
        h
        for h in (24.5, 24.9, 25.5, 30, 47.5, 48.2, 49.5, 72.9)
        if stale_notices([stale(h)], T0, 24, window)
    ]
    assert announced == [24.5, 24.9, 48.2, 72.9]
    # Two runs over the same crossing (a late schedule) give one event id.
    first = stale_notices([stale(24.5)], T0, 24, window)
    again = stale_notices([stale(24.9, now=T0 + 0.4 * HOUR)], T0 + 0.4 * HOUR, 24, window)
    assert first[0].id == again[0].id
    (reminder,) = stale_notices([stale(48.2)], T0, 24, window)
    assert reminder.data["reminder"] == 1 and reminder.id != first[0].id
    assert reminder.data["error"]["code"] == "TENANT_STALE"
