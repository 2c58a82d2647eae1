"""Login throttling, logging, ticket lifetimes and password strength (the security brief)."""

from __future__ import annotations

import logging
import time

import pytest

from lambdas.local.wiring import LocalRelay
from lambdas.qbwc import relay as relay_module
from lambdas.qbwc.passwords import generate_password, password_weakness
from lambdas.qbwc.relay import NVU, QbwcRelay, RelaySettings
from lambdas.store import keys
from lambdas.store.ports import ThrottlePolicy
from lambdas.store.sqlite import SqliteLoginThrottle
from lambdas.store.throttle import FailureCounter, MemoryLoginThrottle
from tests.conftest import PASSWORD

ADDRESS = "203.0.113.7"


class CountingMetrics:
    """Metrics that remember their counts."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, name: str, value: int = 1, entity: str | None = None) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


def _relay(
    local: LocalRelay, now: list[float], settings: RelaySettings | None = None, **kw: object
) -> QbwcRelay:
    """A relay over the local stores (the stored SQLite throttle) on a settable clock."""
    return QbwcRelay(
        local.tenants,
        local.sessions,
        local.engine,
        local.runs,
        settings,
        clock=lambda: now[0],
        throttle=SqliteLoginThrottle(local.db),
        **kw,  # type: ignore[arg-type]
    )


def test_the_local_wiring_uses_the_stored_throttle(local: LocalRelay) -> None:
    assert isinstance(local.relay.throttle, SqliteLoginThrottle)


def test_five_failures_block_the_user_even_with_the_right_password(local, tenant) -> None:
    now = [1000.0]
    relay = _relay(local, now)
    for _ in range(5):
        assert relay.authenticate(tenant.qbwc_user, "wrong", ADDRESS)[1] == NVU
    # Blocked for 30 s: the right password gets the same "nvu", from any address.
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, "198.51.100.9")[1] == NVU
    now[0] += 29
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, "198.51.100.9")[1] == NVU
    now[0] += 1
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, "198.51.100.9")[1] == ""


def test_blocks_double_up_to_the_cap_and_a_success_resets_the_user(local, tenant) -> None:
    now = [1000.0]
    relay = _relay(local, now)
    blocks = []
    for _ in range(7):
        for _ in range(5):
            relay.authenticate(tenant.qbwc_user, "wrong")
        until = relay.throttle.blocked([keys.auth_user(tenant.qbwc_user)], now[0])
        assert until is not None
        blocks.append(until - now[0])
        now[0] = until
    assert blocks == [30, 60, 120, 240, 480, 900, 900]
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == ""
    # Forgotten: the next mistake starts from scratch.
    assert relay.throttle.blocked([keys.auth_user(tenant.qbwc_user)], now[0]) is None


def test_failures_outside_the_window_do_not_add_up(local, tenant) -> None:
    now = [1000.0]
    relay = _relay(local, now)
    for _ in range(4):
        relay.authenticate(tenant.qbwc_user, "wrong")
    now[0] += 901  # the 15-minute window has passed
    relay.authenticate(tenant.qbwc_user, "wrong")
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == ""


def test_an_address_guessing_many_users_is_blocked(local, tenant) -> None:
    now = [1000.0]
    relay = _relay(local, now)
    for n in range(5):
        assert relay.authenticate(f"guess-{n}", "wrong", ADDRESS)[1] == NVU
    # Even the tenant's right password fails from that address; another address gets in.
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, ADDRESS)[1] == NVU
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, "198.51.100.9")[1] == ""


def test_an_ipv6_host_counts_by_its_64(local, tenant) -> None:
    now = [1000.0]
    relay = _relay(local, now)
    for n in range(5):
        relay.authenticate(f"guess-{n}", "wrong", f"2001:db8:1:2::{n + 1}")
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, "2001:db8:1:2::ffff")[1] == NVU
    assert relay.authenticate(tenant.qbwc_user, PASSWORD, "2001:db8:1:3::1")[1] == ""


def test_the_policy_is_a_setting(local, tenant) -> None:
    now = [1000.0]
    policy = ThrottlePolicy(max_failures=2, base_block_seconds=5, max_block_seconds=5)
    relay = _relay(local, now, RelaySettings(auth_throttle=policy))
    relay.authenticate(tenant.qbwc_user, "wrong")
    ticket, status = relay.authenticate(tenant.qbwc_user, PASSWORD)[:2]
    assert status == ""
    relay.close_connection(ticket)
    relay.authenticate(tenant.qbwc_user, "wrong")
    relay.authenticate(tenant.qbwc_user, "wrong")
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == NVU
    now[0] += 5
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == ""


def test_blocks_hold_across_relay_instances_over_one_store(local, tenant) -> None:
    now = [1000.0]
    first, second = _relay(local, now), _relay(local, now)
    for _ in range(3):
        first.authenticate(tenant.qbwc_user, "wrong")
    for _ in range(2):
        second.authenticate(tenant.qbwc_user, "wrong")
    assert first.authenticate(tenant.qbwc_user, PASSWORD)[1] == NVU


def test_unknown_users_wrong_passwords_and_blocks_look_alike(local, tenant, monkeypatch) -> None:
    now = [1000.0]
    relay = _relay(local, now)
    hashed: list[str | None] = []
    real = relay_module.verify_password

    def counting(password: str, encoded: str | None) -> bool:
        hashed.append(encoded)
        return real(password, encoded)

    monkeypatch.setattr(relay_module, "verify_password", counting)

    def timed(user: str, password: str, client: str) -> tuple[str, float]:
        start = time.perf_counter()
        status = relay.authenticate(user, password, client)[1]
        return status, time.perf_counter() - start

    # Warm up (the dummy hash is made once per process).
    relay.authenticate("warm-up", "x", "192.0.2.1")
    hashed.clear()
    unknown = [timed("nobody", "wrong", f"192.0.2.{n}") for n in range(10, 15)]
    wrong = [timed(tenant.qbwc_user, "wrong", f"192.0.2.{n}") for n in range(20, 25)]
    blocked = [timed(tenant.qbwc_user, PASSWORD, f"192.0.2.{n}") for n in range(30, 35)]
    assert {s for s, _ in unknown + wrong + blocked} == {NVU}
    # Exactly one scrypt per call on every path: the dummy hash for an unknown user and while
    # blocked (the tenant's own hash is not even tried then).
    assert len(hashed) == 15
    assert hashed[:5] == [None] * 5 and hashed[10:] == [None] * 5
    assert all(h == tenant.password_hash for h in hashed[5:10])
    # And so the same time (tens of ms): the fastest of each path within a factor of three.
    fastest = [min(t for _, t in group) for group in (unknown, wrong, blocked)]
    assert max(fastest) < 3 * min(fastest), fastest


def test_failures_are_counted_and_logged_with_user_and_address_never_the_password(
    local, tenant, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="lambdas.qbwc.relay")
    metrics = CountingMetrics()
    relay = _relay(local, [1000.0], metrics=metrics)
    relay.authenticate(tenant.qbwc_user, "s3cret-guess", ADDRESS)
    relay.authenticate("x" * 500 + "\x1b[31m", "other-guess", "not an address")
    assert metrics.counts["AuthFailures"] == 2
    rejected = [r for r in caplog.records if r.getMessage() == "authenticate: rejected"]
    assert [(r.qbwc_user, r.source_address) for r in rejected] == [
        (tenant.qbwc_user, ADDRESS),
        ("x" * 64 + "…", "-"),
    ]
    text = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    assert "s3cret-guess" not in text and "other-guess" not in text and "\x1b" not in text


def test_long_or_odd_user_names_make_short_keys() -> None:
    assert keys.auth_user("acme-qbwc") == "@auth#user#acme-qbwc"
    assert len(keys.auth_user("x" * 10_000)) < 100
    assert keys.auth_user("a\x00b") != keys.auth_user("ab")
    assert keys.auth_address("203.0.113.7") == "@auth#addr#203.0.113.7"
    assert keys.auth_address("2001:db8::1") == "@auth#net#2001:db8::/64"


def test_a_counter_is_forgotten_after_its_memory() -> None:
    policy = ThrottlePolicy(max_failures=1, memory_seconds=100)
    counter = FailureCounter().after_failure(0.0, policy)
    assert (counter.strikes, counter.blocked_until, counter.expires_at) == (1, 30.0, 130.0)
    assert counter.after_failure(10.0, policy) == counter  # blocked: not counted
    again = counter.after_failure(30.0, policy)
    assert (again.strikes, again.blocked_until) == (2, 90.0)
    fresh = again.after_failure(500.0, policy)  # quiet for longer than the memory
    assert (fresh.strikes, fresh.blocked_until) == (1, 530.0)


def test_the_default_relay_throttles_in_process(local, tenant) -> None:
    relay = QbwcRelay(local.tenants, local.sessions, local.engine, local.runs)
    assert isinstance(relay.throttle, MemoryLoginThrottle)
    for _ in range(5):
        relay.authenticate(tenant.qbwc_user, "wrong")
    assert relay.authenticate(tenant.qbwc_user, PASSWORD)[1] == NVU


# --- ticket lifetimes ---------------------------------------------------------------------


def test_a_busy_ticket_still_ends_at_its_absolute_lifetime(local, tenant) -> None:
    now = [1000.0]
    settings = RelaySettings(session_ttl_seconds=600, session_max_seconds=1500)
    relay = _relay(local, now, settings)
    ticket, status = relay.authenticate(tenant.qbwc_user, PASSWORD)[:2]
    assert status == ""
    for _ in range(4):  # a call every 5 minutes keeps the idle expiry away
        now[0] += 300
        assert relay.send_request_xml(ticket, "", "", "US", 13, 0)
        assert local.sessions.get(ticket, now[0]).expires_at <= 1000.0 + 1500
    now[0] = 1000.0 + 1500
    assert relay.send_request_xml(ticket, "", "", "US", 13, 0) == ""
    assert "unknown or has expired" in relay.get_last_error(ticket)


def test_a_session_stored_without_the_cap_is_refused_past_it(local, tenant) -> None:
    now = [1000.0]
    relay = _relay(local, now, RelaySettings(session_max_seconds=100))
    ticket = relay.authenticate(tenant.qbwc_user, PASSWORD)[0]
    record = local.sessions.get(ticket, now[0])
    record.expires_at = 99_999.0  # as an older release stored it
    local.sessions.save(record)
    now[0] += 100
    assert relay.send_request_xml(ticket, "", "", "US", 13, 0) == ""


# --- passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("Short-1", "at least 12 characters"),
        ("alllowercaseletters", "at least 3 kinds"),
        ("lowercase-and-dashes", "at least 3 kinds"),
        ("ab1", "at least 12 characters and characters of at least 3 kinds"),
    ],
)
def test_weak_passwords_are_named(password: str, problem: str) -> None:
    weakness = password_weakness(password)
    assert weakness is not None and problem in weakness


def test_acceptable_and_generated_passwords_pass() -> None:
    for password in ("Correct-horse-1", "correct horse 9 battery", "ABCdefGHI123"):
        assert password_weakness(password) is None, password
    assert all(password_weakness(generate_password()) is None for _ in range(300))
