"""Key formats and error texts that every store adapter writes alike.

The DynamoDB and SQLite adapters keep the same item shapes, so the keys they build (and the
messages they raise) are defined once, here.
"""

from __future__ import annotations

import hashlib
import ipaddress

# Key prefixes of the helper items that share a table with the main items.
USER_CLAIM = "@user#"
FILE_CLAIM = "@file#"
TENANT_LOCK = "@lock#"
# The Web Connector version a network address last announced (clientVersion), in the sessions
# table until authenticate picks it up.
CLIENT_NOTE = "@client#"
# Failed-login counters (per Web Connector user and per source address), in the sessions
# table with its TTL attribute ``expires_at``.
AUTH_FAILURES = "@auth#"
# The deployment's settings item in the tenants table (the QBWC OwnerID).
DEPLOYMENT = "@deployment"
# A tenant's sync state item in the state table.
SYNC_STATE = "@sync#"
# Items of the ZOHO forwarder in the state table.
ZOHO_TOKEN = "@zoho-token#"
ZOHO_PAUSE = "@zoho-pause#"
ZOHO_MAPPING = "@zoho-mapping#"
# QuickBooks Online: connections (state table), the realm each belongs to, per-realm request
# limits (state table), and outstanding OAuth states (sessions table, with its TTL).
QBO_CONNECTION = "@qbo-conn#"
QBO_REALM = "@qbo-realm#"
QBO_LIMIT = "@qbo-limit#"
QBO_STATE = "@qbo-state#"
# Webhook event ids of QuickBooks Online seen lately (de-duplication), with a TTL.
QBO_EVENT = "@qbo-event#"
# The last audit summary of a tenant, in the state table.
AUDIT_RESULT = "@audit#"
# A status-API key (its hash, never the secret), in the tenants table.
API_KEY = "@apikey#"
# Names starting with this are helper items, never tenants or sessions.
HELPER_PREFIX = "@"


def is_helper(key: str) -> bool:
    """True for the key of a helper item (a claim, a lock, a setting)."""
    return key.startswith(HELPER_PREFIX)


def user_claim(qbwc_user: str) -> str:
    return USER_CLAIM + qbwc_user


def file_claim(file_id: str) -> str:
    # File ids are GUIDs, compared case-insensitively.
    return FILE_CLAIM + file_id.upper()


def tenant_lock(tenant: str) -> str:
    return TENANT_LOCK + tenant


def client_note(address: str) -> str:
    return CLIENT_NOTE + address


def auth_user(qbwc_user: str) -> str:
    """The failure counter key of a Web Connector user (any string a caller sends)."""
    # Unauthenticated input: long or unprintable names are hashed, so keys stay short and clean.
    if len(qbwc_user) <= 100 and qbwc_user.isprintable():
        return f"{AUTH_FAILURES}user#{qbwc_user}"
    return f"{AUTH_FAILURES}user-sha256#{hashlib.sha256(qbwc_user.encode()).hexdigest()}"


def auth_address(address: str) -> str:
    """The failure counter key of a source address (canonical, as ``client_address`` makes it).

    An IPv6 caller counts by its /64: one host usually holds a whole /64, so counting single
    addresses would let it rotate through 2**64 of them.
    """
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        return f"{AUTH_FAILURES}net#{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"{AUTH_FAILURES}addr#{ip}"


def qbo_event(event_id: str) -> str:
    """The key of a seen webhook event id: hashed, since Intuit's ids are any length."""
    return QBO_EVENT + hashlib.sha256(event_id.encode()).hexdigest()


def mapping_key(tenant: str, source: str, entity: str, source_id: str) -> str:
    """A mapping's store key: ``tenant#source#entity#source_id`` (as ``Mapping.key``)."""
    return f"{tenant}#{source}#{entity}#{source_id}"


def zoho_key(tenant: str, zoho_module: str, zoho_id: str) -> str:
    """The key a mapping is found by from its ZOHO record: ``tenant#module#id``."""
    return f"{tenant}#{zoho_module}#{zoho_id}"


def tenant_status(tenant: str, status: str) -> str:
    """The key of a tenant's mappings with one status: ``tenant#status``."""
    return f"{tenant}#{status}"


# Error texts.


def api_key_exists(key_id: str) -> str:
    return f"an API key with id {key_id!r} already exists"


def tenant_exists(name: str, qbwc_user: str) -> str:
    return f"a tenant named {name!r} or with Web Connector user {qbwc_user!r} already exists"


def no_tenant(name: str) -> str:
    return f"no tenant {name!r}"


def no_tenant_to_update(name: str) -> str:
    return f"no tenant {name!r} to update"


def tenant_changed(name: str) -> str:
    return f"tenant {name!r} changed concurrently"


def session_changed(ticket: str) -> str:
    return f"session {ticket[:8]}… changed concurrently"


def unavailable(what: str, detail: str) -> str:
    """``<what> is unavailable: <detail>``, e.g. for a store that cannot be reached."""
    return f"{what} is unavailable: {detail}"


def not_json_object(what: str) -> str:
    return f"{what} does not hold a JSON object"
