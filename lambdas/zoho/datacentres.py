"""ZOHO data centres: where each one's accounts (OAuth) server lives.

The API base is not in this table on purpose: it comes from ``api_domain`` in every token
response, which is authoritative. The values below follow ZOHO's own SDK (v8 DC classes).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

ACCOUNTS_SERVERS: dict[str, str] = {
    "com": "https://accounts.zoho.com",
    "eu": "https://accounts.zoho.eu",
    "in": "https://accounts.zoho.in",
    "com.au": "https://accounts.zoho.com.au",
    "jp": "https://accounts.zoho.jp",
    "com.cn": "https://accounts.zoho.com.cn",
    "sa": "https://accounts.zoho.sa",
    # Canada's accounts server is not accounts.zoho.ca.
    "ca": "https://accounts.zohocloud.ca",
}


def accounts_server(data_centre: str) -> str:
    """The accounts server of a data centre; ValueError naming the valid ones otherwise."""
    try:
        return ACCOUNTS_SERVERS[data_centre]
    except KeyError:
        raise ValueError(
            f"unknown ZOHO data centre {data_centre!r}; choose one of {', '.join(ACCOUNTS_SERVERS)}"
        ) from None


def is_loopback(host: str) -> bool:
    """True for localhost and loopback IP addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, what: str) -> str:
    """``url`` without a trailing slash if it is https, or plain http to a loopback address.

    Tokens and secrets travel to these URLs, so anything else is a ValueError.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url.rstrip("/")
    if parts.scheme == "http" and is_loopback(host):
        return url.rstrip("/")
    raise ValueError(
        f"{what} must be an https:// URL (plain http only for loopback addresses), not {url!r}"
    )
