"""QuickBooks Online settings: the Intuit developer app and where Intuit's endpoints are.

Environment variables (names are a contract; extend, never rename):

- ``QBO_CLIENT_ID``: the app's client id (Keys & credentials of the Intuit developer app).
- ``QBO_CLIENT_SECRET``: its client secret. Locally from the environment or the secret store;
  on AWS only from the secret store (a secret in a Lambda environment variable is refused).
- ``QBO_REDIRECT_URI``: the callback URL registered with the app (https; http only for
  localhost / 127.0.0.1, which Intuit allows for development). Must match exactly.
- ``QBO_ENVIRONMENT``: ``sandbox`` (default) or ``production``; selects the API host.
- ``QBO_WEBHOOK_VERIFIER_TOKEN``: the webhooks verifier token (a secret, like the client
  secret: environment or secret store locally, secret store on AWS). Needed by webhooks only.
- ``QBO_AUTH_BASE_URL``: overrides the base of all three OAuth endpoints (consent
  ``/connect/oauth2``, token ``/oauth2/v1/tokens/bearer``, revoke ``/v2/oauth2/tokens/revoke``),
  which Intuit spreads over three hosts; tests and the demo point it at the fake.
- ``QBO_API_BASE_URL``: overrides the Accounting API host (``/v3/company/<realm>/...``).

Secrets from the store live in the secret ``qbo-app`` as ``{"client_secret": ...,
"webhook_verifier_token": ...}`` (``qbo/<tenant>`` holds each tenant's tokens; the dash keeps
the two name spaces apart).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..store.ports import SecretStore
from .errors import QboConfigError

APP_SECRET_NAME = "qbo-app"
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
MINOR_VERSION = "75"

# Intuit's endpoints (research §1.1, §2.1): OAuth is the same for sandbox and production.
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
REVOKE_URL = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
API_BASE_URLS = {
    "sandbox": "https://sandbox-quickbooks.api.intuit.com",
    "production": "https://quickbooks.api.intuit.com",
}


@dataclass(frozen=True, slots=True)
class QboConfig:
    """The Intuit app's settings and endpoints (secrets never shown by ``repr``)."""

    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    environment: str = "sandbox"
    webhook_verifier_token: str = field(default="", repr=False)
    authorize_url: str = AUTHORIZE_URL
    token_url: str = TOKEN_URL
    revoke_url: str = REVOKE_URL
    api_base_url: str = API_BASE_URLS["sandbox"]
    scopes: tuple[str, ...] = (ACCOUNTING_SCOPE,)

    def verifier_token(self) -> str:
        """The webhook verifier token; QboConfigError when it is not configured."""
        if not self.webhook_verifier_token:
            raise QboConfigError(
                "QBO_WEBHOOK_VERIFIER_TOKEN is not set (nor webhook_verifier_token in the "
                f"{APP_SECRET_NAME!r} secret): copy it from the Intuit app's Webhooks page"
            )
        return self.webhook_verifier_token


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(value: str, name: str) -> str:
    """``value`` without a trailing slash if it is https (or http to loopback)."""
    parts = urlsplit(value)
    if not parts.netloc or parts.query or parts.fragment:
        raise QboConfigError(f"{name} must be an absolute URL, got {value!r}")
    loopback = _is_loopback(parts.hostname or "")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise QboConfigError(
            f"{name} must use https (http only for localhost / 127.0.0.1), got {value!r}"
        )
    return value.rstrip("/")


def load_config(
    env: Mapping[str, str], secrets: SecretStore | None = None, on_aws: bool = False
) -> QboConfig:
    """The settings from ``env`` (and the ``qbo-app`` secret); QboConfigError naming the fix.

    ``on_aws``: secrets must come from the secret store, never from the environment.
    """
    client_id = env.get("QBO_CLIENT_ID", "").strip()
    if not client_id:
        raise QboConfigError("QBO_CLIENT_ID is not set: copy it from the Intuit app's keys")
    stored = (secrets.get(APP_SECRET_NAME) if secrets is not None else None) or {}
    values: dict[str, str] = {}
    for key, env_name in (
        ("client_secret", "QBO_CLIENT_SECRET"),
        ("webhook_verifier_token", "QBO_WEBHOOK_VERIFIER_TOKEN"),
    ):
        if on_aws and env.get(env_name):
            raise QboConfigError(
                f"{env_name} must not be a Lambda environment variable: store it as "
                f"{key!r} in the {APP_SECRET_NAME!r} secret"
            )
        values[key] = (env.get(env_name) or str(stored.get(key) or "")).strip()
    if not values["client_secret"]:
        where = "" if on_aws else "QBO_CLIENT_SECRET or "
        raise QboConfigError(
            f"no QuickBooks Online client secret: set {where}client_secret in the "
            f"{APP_SECRET_NAME!r} secret"
        )
    redirect = env.get("QBO_REDIRECT_URI", "").strip()
    if not redirect:
        raise QboConfigError(
            "QBO_REDIRECT_URI is not set: the callback URL (…/qbo/callback) registered with "
            "the Intuit app"
        )
    redirect = check_url(redirect, "QBO_REDIRECT_URI")
    environment = (env.get("QBO_ENVIRONMENT") or "sandbox").strip().lower()
    if environment not in API_BASE_URLS:
        raise QboConfigError(
            f"QBO_ENVIRONMENT must be sandbox or production, got {env['QBO_ENVIRONMENT']!r}"
        )
    auth_base = env.get("QBO_AUTH_BASE_URL", "").strip()
    if auth_base:
        base = check_url(auth_base, "QBO_AUTH_BASE_URL")
        urls = (base + "/connect/oauth2", base + "/oauth2/v1/tokens/bearer")
        urls += (base + "/v2/oauth2/tokens/revoke",)
    else:
        urls = (AUTHORIZE_URL, TOKEN_URL, REVOKE_URL)
    api = env.get("QBO_API_BASE_URL", "").strip()
    return QboConfig(
        client_id=client_id,
        client_secret=values["client_secret"],
        redirect_uri=redirect,
        environment=environment,
        webhook_verifier_token=values["webhook_verifier_token"],
        authorize_url=urls[0],
        token_url=urls[1],
        revoke_url=urls[2],
        api_base_url=check_url(api, "QBO_API_BASE_URL") if api else API_BASE_URLS[environment],
    )
