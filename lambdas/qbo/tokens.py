"""Access tokens for one tenant's QuickBooks Online company, refreshed lazily and single-flight.

Tokens live in the SecretStore as ``qbo/<tenant>`` (realm, access and refresh token, the three
expiry times). An access token is used until ``REFRESH_MARGIN`` seconds before it expires (or
until Intuit rejects it with a 401); then exactly one process refreshes it, under the lease on
the tenant's connection row (the same pattern as the ZOHO TokenCache lease: take it, re-read,
refresh only if still needed, release). A tenant holds one realm (the connection store enforces
it), so this is the per-realm lease that keeps concurrent Lambdas from each spending the same
refresh token: Intuit ROTATES it, and a worker that refreshed with a token another had already
replaced would get ``invalid_grant``. The rotated refresh token is written to the SecretStore
before the new access token is handed out, so it is never used before it is saved.

``invalid_grant`` (after one re-read of the secret, in case another worker saved a newer
token) marks the connection ``needs_reconnect`` with a message saying what to do; from then on
this provider raises :class:`QboNeedsReconnect` at once, and any other process does so as soon
as it needs a refresh and reads the status, without calling Intuit. A passed hard (five-year)
or rolling expiry is treated the same way before any call.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NoReturn

from ..store.ports import SecretStore
from .auth_client import IntuitAuthClient, TokenSet
from .connections import CONNECTED, NEEDS_RECONNECT, QboConnection, QboConnectionStore
from .errors import QboNeedsReconnect, QboUnavailable

log = logging.getLogger(__name__)

# Refresh this long before the access token's expiry, so no call carries a token dying in flight.
REFRESH_MARGIN = 300.0
# Warn (status, health, alarm) when the company must be reconnected within this many days.
RECONNECT_WARNING_DAYS = 30.0


def secret_name(tenant: str) -> str:
    """The SecretStore name of a tenant's QuickBooks Online tokens."""
    return f"qbo/{tenant}"


@dataclass(frozen=True, slots=True)
class StoredTokens:
    """The tokens of a tenant as kept in the SecretStore."""

    realm_id: str
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: float
    refresh_expires_at: float
    refresh_hard_expires_at: float | None = None

    @classmethod
    def issued(cls, realm_id: str, tokens: TokenSet, previous_hard: float | None = None):
        """From a token answer; Intuit may omit the hard expiry, which then stays as it was."""
        return cls(
            realm_id=realm_id,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            access_expires_at=tokens.access_expires_at,
            refresh_expires_at=tokens.refresh_expires_at,
            refresh_hard_expires_at=tokens.refresh_hard_expires_at or previous_hard,
        )

    def usable(self, now: float, rejected: str | None = None) -> bool:
        """True while the access token has more than the margin to live and was not rejected."""
        return (
            bool(self.access_token)
            and self.access_expires_at - REFRESH_MARGIN > now
            and self.access_token != rejected
        )

    def refresh_dead(self, now: float) -> str | None:
        """Why the refresh token can no longer work (None while it can)."""
        if self.refresh_hard_expires_at is not None and self.refresh_hard_expires_at <= now:
            when = datetime.fromtimestamp(self.refresh_hard_expires_at, UTC).date()
            return f"the authorization reached Intuit's five-year limit on {when}"
        if self.refresh_expires_at <= now:
            return "the refresh token expired (unused for 100 days)"
        return None

    def to_secret(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "access_expires_at": self.access_expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "refresh_hard_expires_at": self.refresh_hard_expires_at,
        }

    @classmethod
    def from_secret(cls, value: dict[str, Any]) -> StoredTokens:
        hard = value.get("refresh_hard_expires_at")
        return cls(
            realm_id=str(value["realm_id"]),
            access_token=str(value.get("access_token") or ""),
            refresh_token=str(value["refresh_token"]),
            access_expires_at=float(value.get("access_expires_at") or 0.0),
            refresh_expires_at=float(value["refresh_expires_at"]),
            refresh_hard_expires_at=float(hard) if hard is not None else None,
        )


def reconnect_message(tenant: str, why: str) -> str:
    """The status message of a connection that needs the company connected again."""
    return (
        f"QuickBooks Online stopped accepting this connection ({why}); a company admin must "
        f"connect it again: `qbrelay qbo connect --tenant {tenant}` or /qbo/connect"
    )


def expiring(
    connections: list[QboConnection], now: float, days: float = RECONNECT_WARNING_DAYS
) -> list[tuple[QboConnection, float]]:
    """Connected tenants that must reconnect within ``days``, with the days left, soonest first."""
    out = [
        (c, left)
        for c in connections
        if c.status == CONNECTED and (left := c.days_left(now)) is not None and left < days
    ]
    return sorted(out, key=lambda pair: pair[1])


class QboTokens:
    """Hands out a valid access token for one tenant; one refresh at a time across processes."""

    def __init__(
        self,
        tenant: str,
        secrets: SecretStore,
        connections: QboConnectionStore,
        auth: IntuitAuthClient,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: float = 30.0,
        wait_seconds: float = 25.0,
        poll_seconds: float = 0.2,
        on_needs_reconnect: Callable[[str, QboNeedsReconnect], None] | None = None,
    ) -> None:
        self.tenant = tenant
        self.secrets = secrets
        self.connections = connections
        self.auth = auth
        self.clock = clock
        self.sleep = sleep
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        # Told once, by the process that marked the connection (it publishes the event).
        self.on_needs_reconnect = on_needs_reconnect
        self.holder = uuid.uuid4().hex
        self.refreshes = 0
        self._tokens: StoredTokens | None = None
        self._dead: QboNeedsReconnect | None = None
        self._checked = False  # the connection's status was read once

    @property
    def realm_id(self) -> str:
        """The realm the tenant's tokens are for (QboNeedsReconnect if there are none)."""
        return (self._tokens or self._load_or_fail()).realm_id

    def access_token(self, rejected: str | None = None) -> str:
        """A usable access token other than ``rejected`` (one Intuit just answered 401 to)."""
        if self._dead is not None:
            raise self._dead
        now = self.clock()
        if not self._checked:
            # A connection another process found dead is not used again: no call to Intuit.
            self._load_or_fail()
            self._check_connected()
            self._checked = True
        if self._tokens is not None and self._tokens.usable(now, rejected):
            return self._tokens.access_token
        stored = self._load_or_fail()
        if stored.usable(now, rejected):
            return stored.access_token
        self._check_connected()
        why = stored.refresh_dead(now)
        if why:
            self._give_up(why)
        deadline = now + self.wait_seconds
        while True:
            if self.connections.try_lease(
                self.tenant, self.holder, self.clock(), self.lease_seconds
            ):
                return self._refresh_holding_lease(rejected)
            self.sleep(self.poll_seconds)
            stored = self._load_or_fail()
            if stored.usable(self.clock(), rejected):
                return stored.access_token
            self._check_connected()
            if self.clock() > deadline:
                raise QboUnavailable(
                    f"waited {self.wait_seconds:.0f} s for another process to refresh the "
                    f"QuickBooks Online token of tenant {self.tenant!r}"
                )

    def _load(self) -> StoredTokens | None:
        value = self.secrets.get(secret_name(self.tenant))
        self._tokens = StoredTokens.from_secret(value) if value else None
        return self._tokens

    def _load_or_fail(self) -> StoredTokens:
        stored = self._load()
        if stored is None:
            self._dead = QboNeedsReconnect(
                f"tenant {self.tenant!r} has no QuickBooks Online connection: "
                f"`qbrelay qbo connect --tenant {self.tenant}`"
            )
            raise self._dead
        return stored

    def _check_connected(self) -> None:
        conn = self.connections.get(self.tenant)
        if conn is None or conn.status != CONNECTED:
            message = conn.message if conn is not None and conn.message else None
            self._dead = QboNeedsReconnect(
                message or reconnect_message(self.tenant, "it is not connected")
            )
            raise self._dead

    def give_up(self, why: str, intuit_tid: str = "", code: str = "invalid_grant") -> NoReturn:
        """Mark the connection ``needs_reconnect`` (``why`` says what happened) and raise
        QboNeedsReconnect; later calls of this provider raise at once."""
        message = reconnect_message(self.tenant, why)
        log.warning("QuickBooks Online tenant %s needs a reconnect: %s", self.tenant, why)
        self.connections.mark(self.tenant, NEEDS_RECONNECT, message)
        self._dead = QboNeedsReconnect(message, intuit_tid, code=code)
        if self.on_needs_reconnect is not None:
            self.on_needs_reconnect(self.tenant, self._dead)
        raise self._dead

    _give_up = give_up

    def _refresh_holding_lease(self, rejected: str | None) -> str:
        try:
            # Someone may have refreshed between our read and our lease.
            stored = self._load_or_fail()
            if stored.usable(self.clock(), rejected):
                return stored.access_token
            fresh = self._refresh(stored)
            # Persist the rotated refresh token before anything uses the new access token.
            self.secrets.put(secret_name(self.tenant), fresh.to_secret())
            self._tokens = fresh
            self.connections.record_tokens(
                self.tenant,
                fresh.access_expires_at,
                fresh.refresh_expires_at,
                fresh.refresh_hard_expires_at,
            )
            return fresh.access_token
        finally:
            self.connections.release_lease(self.tenant, self.holder)

    def _refresh(self, stored: StoredTokens) -> StoredTokens:
        self.refreshes += 1
        try:
            answer = self.auth.refresh(stored.refresh_token)
        except QboNeedsReconnect as exc:
            # A worker whose lease ran out may have saved a newer token meanwhile: try it once.
            latest = self._load_or_fail()
            if latest.refresh_token == stored.refresh_token:
                self._give_up("Intuit answered invalid_grant to the refresh", exc.intuit_tid)
            if latest.usable(self.clock()):
                return latest
            self.refreshes += 1
            try:
                answer = self.auth.refresh(latest.refresh_token)
            except QboNeedsReconnect as again:
                self._give_up("Intuit answered invalid_grant to the refresh", again.intuit_tid)
            stored = latest
        log.info(
            "refreshed the QuickBooks Online token of tenant %s (intuit_tid %s)",
            self.tenant,
            answer.intuit_tid or "-",
        )
        return StoredTokens.issued(stored.realm_id, answer, stored.refresh_hard_expires_at)
