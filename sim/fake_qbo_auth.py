"""Intuit's OAuth 2.0 server as the fake plays it: apps, consent, codes, tokens, revocation.

Modelled (../shared/research/quickbooks-online-api.md §1): the authorize step checks client id,
``response_type=code``, the accounting scope and an exactly registered redirect URI (a bad one
shows an error page, never a redirect); codes are single use, bound to the redirect URI and
short lived; access tokens live 3600 s; refresh tokens roll (``x_refresh_token_expires_in``
from each refresh), ROTATE on refresh, and share the connection's five-year hard expiry
(``x_refresh_token_hard_expires_in`` when the request carries
``x-include-refresh-token-hard-expires-in: true``). A superseded refresh token keeps working for
``stale_grace`` seconds: Intuit documents 24 hours; the fake's default is 0, so a client that
fails to persist the rotated token breaks in tests instead of a day later. Any unusable refresh
token (unknown, superseded past the grace, expired, revoked) is ``invalid_grant``. Revoking
either token ends the whole connection.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

ACCESS_LIFETIME = 3600
REFRESH_LIFETIME = 8_726_400  # about 101 days, rolling
HARD_LIFETIME = 5 * 365 * 86400
CODE_LIFETIME = 600
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


class OAuthRefusal(Exception):
    """A token-endpoint refusal: HTTP status and Intuit's ``error`` value."""

    def __init__(self, status: int, error: str, description: str = "") -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description


@dataclass(slots=True)
class App:
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]


@dataclass(slots=True)
class Grant:
    """One connection (app x realm): its live refresh tokens and access tokens."""

    client_id: str
    realm_id: str
    hard_expires_at: float
    revoked: bool = False
    # refresh token value -> (rolling expiry, superseded at or None)
    refresh: dict[str, list[float | None]] = field(default_factory=dict)
    access: dict[str, float] = field(default_factory=dict)  # access token -> expiry


@dataclass(slots=True)
class Code:
    client_id: str
    redirect_uri: str
    realm_id: str
    expires_at: float


class FakeIntuitOAuth:
    """The OAuth state of the fake: thread-safe; times come from ``clock``."""

    def __init__(self, clock: Callable[[], float], stale_grace: float = 0.0) -> None:
        self.clock = clock
        self.stale_grace = stale_grace
        self.apps: dict[str, App] = {}
        self.codes: dict[str, Code] = {}
        self.grants: list[Grant] = []
        self._lock = threading.Lock()

    def add_app(self, client_id: str, client_secret: str, redirect_uris: tuple[str, ...]) -> None:
        """Register a developer app (Keys & credentials)."""
        self.apps[client_id] = App(client_id, client_secret, redirect_uris)

    def check_authorize(self, params: dict[str, str]) -> str | None:
        """Why the consent page refuses these parameters (None: it shows consent)."""
        app = self.apps.get(params.get("client_id", ""))
        if app is None:
            return "invalid_client"
        if params.get("redirect_uri") not in app.redirect_uris:
            return "The redirect_uri query parameter value is invalid"
        if params.get("response_type") != "code":
            return "unsupported_response_type"
        if ACCOUNTING_SCOPE not in params.get("scope", "").split():
            return "invalid_scope"
        return None

    def issue_code(self, client_id: str, redirect_uri: str, realm_id: str) -> str:
        """The code the consent step hands back through the redirect."""
        code = "AB" + secrets.token_urlsafe(40)
        with self._lock:
            self.codes[code] = Code(client_id, redirect_uri, realm_id, self.clock() + CODE_LIFETIME)
        return code

    def authenticate(self, client_id: str, client_secret: str) -> App:
        """The app of HTTP Basic credentials; OAuthRefusal(401, invalid_client) otherwise."""
        app = self.apps.get(client_id)
        if app is None or not secrets.compare_digest(app.client_secret, client_secret):
            raise OAuthRefusal(401, "invalid_client")
        return app

    def exchange(self, app: App, code: str, redirect_uri: str) -> tuple[Grant, str, str]:
        """Trade a code for a new grant's refresh and access tokens."""
        now = self.clock()
        with self._lock:
            found = self.codes.pop(code, None)  # single use, even when refused below
            if (
                found is None
                or found.client_id != app.client_id
                or found.expires_at <= now
                or found.redirect_uri != redirect_uri
            ):
                raise OAuthRefusal(400, "invalid_grant")
            grant = Grant(app.client_id, found.realm_id, now + HARD_LIFETIME)
            self.grants.append(grant)
            return grant, self._new_refresh(grant, now), self._new_access(grant, now)

    def refresh(self, app: App, token: str) -> tuple[Grant, str, str]:
        """Trade a refresh token for a rotated one and a new access token."""
        now = self.clock()
        with self._lock:
            grant = self._grant_of_refresh(token)
            if grant is None or grant.client_id != app.client_id or grant.revoked:
                raise OAuthRefusal(400, "invalid_grant")
            expires_at, superseded = grant.refresh[token]
            assert expires_at is not None
            if expires_at <= now or grant.hard_expires_at <= now:
                raise OAuthRefusal(400, "invalid_grant")
            if superseded is not None and superseded + self.stale_grace <= now:
                raise OAuthRefusal(400, "invalid_grant")
            for entry in grant.refresh.values():
                if entry[1] is None:
                    entry[1] = now
            return grant, self._new_refresh(grant, now), self._new_access(grant, now)

    def revoke(self, app: App, token: str) -> None:
        """Revoke the connection that ``token`` (refresh or access) belongs to."""
        with self._lock:
            grant = self._grant_of_refresh(token) or next(
                (g for g in self.grants if token in g.access), None
            )
            if grant is None or grant.client_id != app.client_id:
                raise OAuthRefusal(400, "invalid_request")
            grant.revoked = True

    def realm_of_access(self, token: str) -> str | None:
        """The realm a live access token may call, or None (expired, revoked, unknown)."""
        now = self.clock()
        with self._lock:
            for grant in self.grants:
                expiry = grant.access.get(token)
                if expiry is not None:
                    return grant.realm_id if expiry > now and not grant.revoked else None
        return None

    def expire_access_tokens(self) -> None:
        """Make every access token expire now (a 401 on the next call)."""
        now = self.clock()
        with self._lock:
            for grant in self.grants:
                for token in grant.access:
                    grant.access[token] = min(grant.access[token], now)

    def revoke_realm(self, realm_id: str) -> None:
        """The company disconnects the app in QuickBooks (every token of the realm dies)."""
        with self._lock:
            for grant in self.grants:
                if grant.realm_id == realm_id:
                    grant.revoked = True

    def live_refresh_tokens(self, realm_id: str) -> list[str]:
        """The refresh tokens of the realm not superseded (what a client must hold)."""
        with self._lock:
            return [
                token
                for g in self.grants
                if g.realm_id == realm_id and not g.revoked
                for token, (_, superseded) in g.refresh.items()
                if superseded is None
            ]

    def _grant_of_refresh(self, token: str) -> Grant | None:
        return next((g for g in self.grants if token in g.refresh), None)

    def _new_refresh(self, grant: Grant, now: float) -> str:
        token = "RT1-" + secrets.token_urlsafe(32)
        grant.refresh[token] = [now + REFRESH_LIFETIME, None]
        return token

    def _new_access(self, grant: Grant, now: float) -> str:
        token = "eyJ" + secrets.token_urlsafe(48)
        grant.access[token] = now + ACCESS_LIFETIME
        return token
