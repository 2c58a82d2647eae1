"""Connecting a tenant to a QuickBooks Online company: consent URL, callback, disconnect.

These are the cores behind ``GET /qbo/connect``, ``GET /qbo/callback`` and
``POST /qbo/disconnect`` (and ``qbrelay qbo connect|disconnect``); they take their ports as
arguments and know nothing of HTTP. The OAuth calls go through :class:`IntuitAuthClient` (a
small ``requests`` client; see :mod:`.auth_client` for why not ``intuit-oauth``).

The ``state`` is 32 random bytes from :mod:`secrets`, bound to the tenant, valid for
``STATE_SECONDS`` and consumed once (:mod:`.states`): a replayed, forged or late callback is
refused before any code is exchanged.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from ..store.ports import AlreadyExists, SecretStore
from .auth_client import IntuitAuthClient
from .config import QboConfig
from .connections import CONNECTED, DISCONNECTED, QboConnection, QboConnectionStore
from .errors import OAuthStateRefused, QboError
from .states import OAuthState, OAuthStateStore, state_key
from .tokens import StoredTokens, secret_name

log = logging.getLogger(__name__)

STATE_SECONDS = 600.0


def authorization_url(
    tenant: str,
    config: QboConfig,
    states: OAuthStateStore,
    clock: Callable[[], float] = time.time,
) -> str:
    """Intuit's consent URL for ``tenant``, with a new single-use state (the caller checked
    that the tenant exists and may connect)."""
    state = secrets.token_urlsafe(32)
    now = clock()
    states.put(state_key(state), OAuthState(tenant, now + STATE_SECONDS, now))
    query = {
        "client_id": config.client_id,
        "response_type": "code",
        "scope": " ".join(config.scopes),
        "redirect_uri": config.redirect_uri,
        "state": state,
    }
    return f"{config.authorize_url}?{urlencode(query)}"


def complete_connection(
    params: Mapping[str, str],
    states: OAuthStateStore,
    secrets_store: SecretStore,
    connections: QboConnectionStore,
    auth: IntuitAuthClient,
    clock: Callable[[], float] = time.time,
) -> QboConnection:
    """Handle the callback's query (``code``, ``state``, ``realmId`` or ``error``).

    Refuses (OAuthStateRefused) a missing, unknown, used or expired state; QboError when the
    admin declined, a parameter is missing, or the realm is another tenant's. Otherwise the
    tokens go to the SecretStore and the connection row says connected.
    """
    state = params.get("state", "")
    found = states.consume(state_key(state), clock()) if state else None
    if found is None:
        raise OAuthStateRefused(
            "this QuickBooks Online authorization link is unknown, was used already or has "
            "expired; start again from the connect link"
        )
    tenant = found.tenant
    if params.get("error"):
        raise QboError(
            str(params["error"]),
            f"QuickBooks Online connection of tenant {tenant!r} was not granted "
            f"({params['error']}); a company admin must approve it",
        )
    code, realm = params.get("code", ""), params.get("realmId", "")
    if not code or not realm or len(code) > 512 or not realm.isdigit():
        raise QboError("invalid_request", "the callback lacks a valid code or realmId")
    holder = connections.find_by_realm(realm)
    if holder is not None and holder.tenant != tenant:
        # The page goes to whoever holds this tenant's link: it must not name another tenant.
        log.warning("realm %s is connected to tenant %s; %s refused", realm, holder.tenant, tenant)
        raise QboError("realm_taken", _taken(realm))
    tokens = auth.exchange_code(code)
    stored = StoredTokens.issued(realm, tokens)
    secrets_store.put(secret_name(tenant), stored.to_secret())
    connection = QboConnection(
        tenant=tenant,
        realm_id=realm,
        status=CONNECTED,
        access_expires_at=stored.access_expires_at,
        refresh_expires_at=stored.refresh_expires_at,
        refresh_hard_expires_at=stored.refresh_hard_expires_at,
        connected_at=clock(),
    )
    try:
        connections.connect(connection)
    except AlreadyExists:
        secrets_store.delete(secret_name(tenant))
        raise QboError("realm_taken", _taken(realm)) from None
    log.info(
        "tenant %s connected to QuickBooks Online realm %s (intuit_tid %s)",
        tenant,
        realm,
        tokens.intuit_tid or "-",
    )
    return connection


def _taken(realm: str) -> str:
    return (
        f"QuickBooks Online company {realm} is already connected to another tenant; disconnect "
        "it there first"
    )


def disconnect(
    tenant: str,
    secrets_store: SecretStore,
    connections: QboConnectionStore,
    auth: IntuitAuthClient,
) -> bool:
    """Revoke the tenant's authorization at Intuit, delete its tokens, mark it disconnected.

    False when there was nothing to disconnect. If Intuit cannot be reached the error is raised
    and nothing is deleted, so the operator can try again.
    """
    value = secrets_store.get(secret_name(tenant))
    if value is not None:
        token = value.get("refresh_token") or value.get("access_token")
        if token:
            auth.revoke(str(token))
        secrets_store.delete(secret_name(tenant))
    connection = connections.get(tenant)
    if connection is not None and connection.status != DISCONNECTED:
        connections.mark(tenant, DISCONNECTED, "disconnected by an operator")
    return value is not None or (connection is not None and connection.status != DISCONNECTED)
