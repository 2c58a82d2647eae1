"""Posting a delivery to a subscriber's URL, safely: which URLs, which addresses, how long.

- https only, except ``http://127.0.0.1``, ``http://localhost`` and ``http://[::1]`` where the
  policy allows loopback (the local process, for a receiver on the same machine);
- on AWS (``PUBLIC_ONLY``) every address the host resolves to must be a public one: private,
  loopback, link-local (the instance metadata service), shared, multicast and reserved ranges
  are refused, so a subscription cannot make the deliverer probe the network it runs in (SSRF);
- the connection goes to the address that was checked (no second lookup a rebinding DNS could
  answer differently), with the URL's host name for TLS verification and the Host header;
- bounded connect and read timeouts, the answer's body never read, and redirects never
  followed (a 3xx is a failed attempt).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from requests.certs import where as ca_bundle

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CONNECT_SECONDS = 5.0
READ_SECONDS = 10.0
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


class UrlRefused(ValueError):
    """A URL (or the address it resolves to) that the policy does not allow."""


class Unresolved(UrlRefused):
    """The host has no address now (DNS may answer later)."""


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Which webhook URLs may be used where."""

    allow_loopback_http: bool
    public_only: bool


LOCAL = UrlPolicy(allow_loopback_http=True, public_only=False)
PUBLIC_ONLY = UrlPolicy(allow_loopback_http=False, public_only=True)


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL, split for the connection."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


def check_url(url: str, policy: UrlPolicy) -> Target:
    """The URL split for posting, or UrlRefused saying why it may not be used."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"not a valid URL: {exc}") from None
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused("the URL must not carry a user name or password")
    if parts.scheme == "http":
        if not (policy.allow_loopback_http and host in LOOPBACK_HOSTS):
            raise UrlRefused("only https URLs (http only to 127.0.0.1 or localhost, locally)")
    elif parts.scheme != "https":
        raise UrlRefused("only https URLs")
    if policy.public_only:
        _refuse_literal(host)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def _refuse_literal(host: str) -> None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            raise UrlRefused("the URL names this machine") from None
        return
    if not is_public(ip):
        raise UrlRefused(f"the address {ip} is not a public one")


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True for a globally routable unicast address. An IPv6 address that carries an IPv4 one
    (IPv4-mapped, or NAT64's 64:ff9b::/96, which a DNS64 network translates to it) is judged
    as that IPv4 address; the deprecated IPv4-compatible and site-local ranges are refused
    (``is_global`` counts them as global)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip in _NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip in _IPV4_COMPATIBLE or ip.is_site_local:
            return False
    return ip.is_global and not ip.is_multicast


Resolver = Callable[..., list[Any]]


def addresses(
    target: Target, policy: UrlPolicy, resolve: Resolver = socket.getaddrinfo
) -> list[str]:
    """The addresses to connect to; UrlRefused when the policy forbids any of them."""
    try:
        infos = resolve(target.host, target.port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Unresolved(f"cannot resolve {target.host}: {exc}") from None
    found = list(dict.fromkeys(info[4][0] for info in infos))
    if not found:
        raise Unresolved(f"{target.host} has no address")
    for raw in found:
        ip = ipaddress.ip_address(raw.split("%", 1)[0])
        if policy.public_only and not is_public(ip):
            # All or nothing: one private answer among public ones is how rebinding starts.
            raise UrlRefused(f"{target.host} resolves to {ip}, which is not a public address")
        if target.scheme == "http" and not ip.is_loopback:
            raise UrlRefused(f"{target.host} resolves to {ip}, which is not this machine")
    return found


@dataclass(frozen=True, slots=True)
class Sent:
    """What one POST gave: the status code, or why there was none."""

    status_code: int | None
    error: str = ""
    # True when trying again cannot help (the URL or its address is refused by the policy).
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: UrlPolicy,
    *,
    resolve: Resolver = socket.getaddrinfo,
    connect_seconds: float = CONNECT_SECONDS,
    read_seconds: float = READ_SECONDS,
) -> Sent:
    """POST ``body`` to ``url`` under ``policy``; never raises for the receiver's failures."""
    try:
        target = check_url(url, policy)
    except UrlRefused as exc:
        return Sent(None, f"refused: {exc}", permanent=True)
    try:
        ips = addresses(target, policy, resolve)
    except Unresolved as exc:
        return Sent(None, str(exc))
    except UrlRefused as exc:
        return Sent(None, f"refused: {exc}", permanent=True)
    timeout = urllib3.Timeout(connect=connect_seconds, read=read_seconds)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            ips[0],
            target.port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=ca_bundle(),
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            ips[0], target.port, timeout=timeout, retries=False, maxsize=1
        )
    try:
        with pool:
            reply = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers={**headers, "Host": target.host_header, "User-Agent": "qbxml-relay"},
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
            # Only the status is used: the answer's body is not read (a slow one cannot hold
            # the deliverer), and the connection is closed with the pool.
            reply.close()
    except urllib3.exceptions.HTTPError as exc:
        return Sent(None, f"{type(exc).__name__}: {_reason(exc)}")
    except OSError as exc:
        return Sent(None, f"{type(exc).__name__}: {exc.strerror or exc}")
    status = int(reply.status)
    if 300 <= status < 400:
        return Sent(status, "redirects are not followed")
    return Sent(status, "" if 200 <= status < 300 else f"HTTP {status}")


def _reason(exc: urllib3.exceptions.HTTPError) -> str:
    inner = getattr(exc, "reason", None)
    return str(inner or exc)[:300]
