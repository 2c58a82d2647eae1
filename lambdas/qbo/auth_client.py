"""Intuit's OAuth 2.0 token and revoke endpoints, on ``requests``.

Why not Intuit's ``intuit-oauth`` package (research §1.5): every ``AuthClient`` fetches the
discovery document (a network call and a failure point on each Lambda start), it sets no
timeouts, its ``state`` comes from ``random`` (not a CSPRNG), its errors are one class for
every non-200, and it pulls in ``cryptography`` for OpenID, which we do not use. What we need is
three Basic-auth POSTs; here they have explicit timeouts, ask for the hard expiry
(``x-include-refresh-token-hard-expires-in``), keep ``intuit_tid``, and sort refusals into
"reconnect" (``invalid_grant``), configuration, throttling and unavailability. The endpoints are
the documented constants (or ``QBO_AUTH_BASE_URL``), not the discovery document: one less call
per cold start; they have not changed since 2017.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from .config import QboConfig
from .errors import QboConfigError, QboNeedsReconnect, QboThrottled, QboUnavailable

log = logging.getLogger(__name__)

TIMEOUT = (5.0, 20.0)  # (connect, read) seconds
HARD_EXPIRY_HEADER = "x-include-refresh-token-hard-expires-in"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A token answer, with absolute expiry times (epoch seconds)."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    access_expires_at: float
    refresh_expires_at: float
    refresh_hard_expires_at: float | None
    intuit_tid: str = ""


class IntuitAuthClient:
    """The token endpoint (code exchange, refresh) and the revoke endpoint of one app."""

    def __init__(
        self,
        config: QboConfig,
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        timeout: tuple[float, float] = TIMEOUT,
    ) -> None:
        self.config = config
        self.session = session or requests.Session()
        self.clock = clock
        self.timeout = timeout

    def exchange_code(self, code: str) -> TokenSet:
        """Trade an authorization code for tokens (the redirect URI must match the consent's)."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
        }
        return self._tokens(form, "exchange the authorization code")

    def refresh(self, refresh_token: str) -> TokenSet:
        """Trade a refresh token for a new access token and the (possibly rotated) refresh."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self._tokens(form, "refresh the access token")

    def revoke(self, token: str) -> None:
        """Revoke the connection a refresh (or access) token belongs to.

        An already invalid token counts as revoked (Intuit answers 400): the goal is reached.
        """
        resp = self._post(
            self.config.revoke_url, json={"token": token}, headers={"Accept": "application/json"}
        )
        tid = resp.headers.get("intuit_tid", "")
        if resp.status_code == 200 or resp.status_code == 400:
            return
        self._refuse(resp, _body(resp), "revoke the connection", tid)

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.post(
                url,
                auth=(self.config.client_id, self.config.client_secret),
                timeout=self.timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise QboUnavailable(
                f"Intuit's OAuth server did not answer ({type(exc).__name__})"
            ) from None

    def _tokens(self, form: dict[str, str], what: str) -> TokenSet:
        sent_at = self.clock()
        resp = self._post(
            self.config.token_url,
            data=form,
            headers={"Accept": "application/json", HARD_EXPIRY_HEADER: "true"},
        )
        tid = resp.headers.get("intuit_tid", "")
        body = _body(resp)
        if resp.status_code != 200 or "access_token" not in body:
            self._refuse(resp, body, what, tid)
        try:
            hard = body.get("x_refresh_token_hard_expires_in")
            # Expiry counts from when the request left, so clock skew in flight shortens it.
            return TokenSet(
                access_token=str(body["access_token"]),
                refresh_token=str(body["refresh_token"]),
                access_expires_at=sent_at + float(body.get("expires_in") or 3600),
                refresh_expires_at=sent_at + float(body["x_refresh_token_expires_in"]),
                refresh_hard_expires_at=sent_at + float(hard) if hard is not None else None,
                intuit_tid=tid,
            )
        except (KeyError, TypeError, ValueError):
            raise QboUnavailable(
                f"Intuit's token answer lacked fields (intuit_tid {tid or '-'})", tid
            ) from None

    def _refuse(self, resp: requests.Response, body: dict[str, Any], what: str, tid: str) -> None:
        error = str(body.get("error") or f"HTTP {resp.status_code}")
        log.warning(
            "Intuit refused to %s: HTTP %s %s (intuit_tid %s)", what, resp.status_code, error, tid
        )
        if error == "invalid_grant":
            raise QboNeedsReconnect(
                f"Intuit refused to {what}: invalid_grant (the authorization was revoked, has "
                "expired, or a newer refresh token replaced it); connect the company again",
                tid,
                code="invalid_grant",
            )
        if error == "invalid_client" or resp.status_code == 401:
            raise QboConfigError(
                f"Intuit refused to {what}: {error}: check QBO_CLIENT_ID and the client secret "
                f"(and QBO_ENVIRONMENT) (intuit_tid {tid or '-'})"
            )
        if resp.status_code == 429:
            raise QboThrottled(f"Intuit throttled the request to {what}", tid)
        if resp.status_code >= 500:
            raise QboUnavailable(f"Intuit could not {what}: HTTP {resp.status_code}", tid)
        raise QboConfigError(
            f"Intuit refused to {what}: {error} (HTTP {resp.status_code}, intuit_tid {tid or '-'})"
        )


def _body(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
