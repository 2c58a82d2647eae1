"""ZOHO OAuth: the refresh-token grant, with the access token shared through a TokenCache.

ZOHO throttles token minting (about ten per ten minutes per refresh token, then blocks), so a
token lives in the shared store and only the holder of the cache's lease refreshes it; everyone
else waits for the token the holder saves. A refresh ZOHO throttled is remembered in the store
too, so no process asks again before the block ends.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from ..store.ports import SecretStore, TokenCache, ZohoToken
from .datacentres import accounts_server, check_url
from .errors import ZohoConfigError, ZohoTokenThrottled, ZohoUnavailable

log = logging.getLogger(__name__)

# How long ZOHO's refresh block lasts is undocumented; reports say it clears after 10-30 minutes
# of real inactivity, so stay away a full window and then some.
THROTTLE_BACKOFF_SECONDS = 900.0
# Tokens are treated as expired this long before ZOHO's expiry, so a call never carries a token
# that dies in flight.
EXPIRY_MARGIN_SECONDS = 120.0


def secret_name(tenant: str) -> str:
    """The SecretStore name of a tenant's ZOHO credentials."""
    return f"zoho/{tenant}"


@dataclass(frozen=True, slots=True)
class ZohoCredentials:
    """A tenant's Self Client credentials; ``accounts_url`` overrides the data centre's server."""

    client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    data_centre: str = "com"
    accounts_url: str | None = None

    def token_url(self) -> str:
        """Where the refresh-token grant goes."""
        base = self.accounts_url or accounts_server(self.data_centre)
        return check_url(base, "the ZOHO accounts URL") + "/oauth/v2/token"

    def to_secret(self) -> dict[str, Any]:
        """The JSON kept in the SecretStore."""
        value = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_token": self.refresh_token,
            "data_centre": self.data_centre,
        }
        if self.accounts_url:
            value["accounts_url"] = self.accounts_url
        return value

    @classmethod
    def from_secret(cls, value: dict[str, Any]) -> ZohoCredentials:
        """Credentials from the SecretStore's JSON; ZohoConfigError if a part is missing."""
        missing = [k for k in ("client_id", "client_secret", "refresh_token") if not value.get(k)]
        if missing:
            raise ZohoConfigError(f"the stored ZOHO credentials lack {', '.join(missing)}")
        return cls(
            client_id=value["client_id"],
            client_secret=value["client_secret"],
            refresh_token=value["refresh_token"],
            data_centre=value.get("data_centre") or "com",
            accounts_url=value.get("accounts_url") or None,
        )


def load_credentials(secrets: SecretStore, tenant: str) -> ZohoCredentials:
    """The tenant's stored credentials; ZohoConfigError (with the fix) when there are none."""
    value = secrets.get(secret_name(tenant))
    if value is None:
        raise ZohoConfigError(
            f"no ZOHO credentials for tenant {tenant!r}: run `qbrelay zoho set-credentials "
            f"--tenant {tenant} --data-centre DC --client-id ID` (secret and refresh token on "
            "standard input)"
        )
    return ZohoCredentials.from_secret(value)


def _expires_in(body: dict[str, Any]) -> float:
    # Older responses carry expires_in_sec, and then expires_in is in milliseconds.
    if "expires_in_sec" in body:
        return float(body["expires_in_sec"])
    return float(body.get("expires_in") or 3600)


class TokenProvider:
    """Hands out a valid access token for one tenant, refreshing under the cache's lease."""

    def __init__(
        self,
        tenant: str,
        credentials: ZohoCredentials,
        cache: TokenCache,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        lease_seconds: float = 30.0,
        wait_seconds: float = 20.0,
        poll_seconds: float = 0.25,
        timeout: tuple[float, float] = (5.0, 20.0),
    ) -> None:
        self.tenant = tenant
        self.credentials = credentials
        self.cache = cache
        self.session = session or requests.Session()
        self.clock = clock
        self.sleep = sleep
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.timeout = timeout
        self.holder = uuid.uuid4().hex
        self.token_calls = 0

    def _acceptable(self, token: ZohoToken | None, rejected: str | None) -> bool:
        return (
            token is not None
            and token.usable(self.clock(), EXPIRY_MARGIN_SECONDS)
            and token.access_token != rejected
        )

    def _check_block(self, token: ZohoToken | None) -> None:
        if token is not None and token.blocked_until > self.clock():
            raise ZohoTokenThrottled(
                "ZOHO's accounts server is blocking token refreshes for this client after too "
                "many requests; forwarding resumes once the block has passed",
                until=token.blocked_until,
            )

    def token(self, rejected: str | None = None) -> ZohoToken:
        """A usable access token other than ``rejected`` (one ZOHO just called invalid)."""
        cached = self.cache.load(self.tenant)
        if self._acceptable(cached, rejected):
            assert cached is not None
            return cached
        self._check_block(cached)
        deadline = self.clock() + self.wait_seconds
        while True:
            if self.cache.try_lease(self.tenant, self.holder, self.clock(), self.lease_seconds):
                return self._refresh_holding_lease(rejected)
            self.sleep(self.poll_seconds)
            cached = self.cache.load(self.tenant)
            if self._acceptable(cached, rejected):
                assert cached is not None
                return cached
            self._check_block(cached)
            if self.clock() > deadline:
                raise ZohoUnavailable(
                    f"waited {self.wait_seconds:.0f} s for another process to refresh the ZOHO "
                    f"token of tenant {self.tenant!r}"
                )

    def _refresh_holding_lease(self, rejected: str | None) -> ZohoToken:
        try:
            # Someone may have saved a fresh token between our read and our lease.
            cached = self.cache.load(self.tenant)
            if self._acceptable(cached, rejected):
                assert cached is not None
                self.cache.release(self.tenant, self.holder)
                return cached
            token = self._grant()
        except ZohoTokenThrottled as exc:
            self.cache.save(self.tenant, self.holder, ZohoToken(blocked_until=exc.until))
            raise
        except BaseException:
            self.cache.release(self.tenant, self.holder)
            raise
        self.cache.save(self.tenant, self.holder, token)
        return token

    def _grant(self) -> ZohoToken:
        creds = self.credentials
        try:
            url = creds.token_url()
        except ValueError as exc:
            raise ZohoConfigError(str(exc)) from None
        self.token_calls += 1
        try:
            resp = self.session.post(
                url,
                data={
                    "grant_type": "refresh_token",
                    "client_id": creds.client_id,
                    "client_secret": creds.client_secret,
                    "refresh_token": creds.refresh_token,
                },
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise ZohoUnavailable(
                f"ZOHO's accounts server did not answer ({type(exc).__name__})"
            ) from None
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if resp.status_code >= 500:
            raise ZohoUnavailable(f"ZOHO's accounts server answered HTTP {resp.status_code}")
        if "access_token" not in body:
            self._raise_grant_error(resp.status_code, body)
        try:
            api_domain = check_url(str(body.get("api_domain") or ""), "ZOHO's api_domain")
        except ValueError as exc:
            raise ZohoConfigError(str(exc)) from None
        expires_in = _expires_in(body)
        log.info(
            "refreshed the ZOHO access token of tenant %s (valid %d s)", self.tenant, expires_in
        )
        return ZohoToken(
            access_token=str(body["access_token"]),
            api_domain=api_domain,
            expires_at=self.clock() + expires_in,
        )

    def _raise_grant_error(self, status: int, body: dict[str, Any]) -> None:
        # ZOHO answers most grant failures with HTTP 200 and an ``error`` field.
        error = str(body.get("error") or "no access_token in the answer")
        description = str(body.get("error_description") or "")
        if "too many requests" in description.lower() or error == "Access Denied":
            raise ZohoTokenThrottled(
                f"ZOHO throttled token refreshes (HTTP {status}: {error})",
                until=self.clock() + THROTTLE_BACKOFF_SECONDS,
            )
        hints = {
            "invalid_client": "the client id is unknown in this data centre",
            "invalid_client_secret": "the client secret is wrong",
            "invalid_code": "the refresh token is invalid, revoked or from another data centre",
        }
        hint = hints.get(error, "check the tenant's ZOHO credentials")
        raise ZohoConfigError(
            f"ZOHO refused the refresh token of tenant {self.tenant!r}: {error} ({hint}); "
            f"fix with `qbrelay zoho set-credentials --tenant {self.tenant} ...`"
        )
