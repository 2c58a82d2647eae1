"""A tenant's QuickBooks Online connection as stored: non-secret metadata and the refresh lease.

The tokens themselves are in the SecretStore (``qbo/<tenant>``, see :mod:`.tokens`); this row
says which company (realm) the tenant is connected to, whether the connection works, and when
its tokens expire, for status pages, health checks and alarms. Writers: the OAuth flow
(``connect``, ``mark`` on disconnect), the token provider (``record_tokens``, ``mark`` on
``invalid_grant``, the lease), the sync (``record_success``). Each method writes only its own
attributes; none replaces the row.

A realm belongs to at most one tenant at a time (webhooks are routed by realm): ``connect``
claims it and refuses a realm another tenant holds until that tenant disconnects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

CONNECTED = "connected"
NEEDS_RECONNECT = "needs_reconnect"
DISCONNECTED = "disconnected"
STATUSES = (CONNECTED, NEEDS_RECONNECT, DISCONNECTED)


@dataclass(slots=True)
class QboConnection:
    """One tenant's connection to one QuickBooks Online company (times are epoch seconds)."""

    tenant: str
    realm_id: str
    status: str = CONNECTED
    message: str = ""
    access_expires_at: float | None = None
    refresh_expires_at: float | None = None
    # The five-year cap of Intuit's 2025 refresh-token policy (x_refresh_token_hard_expires_in).
    refresh_hard_expires_at: float | None = None
    connected_at: float | None = None
    last_success_at: float | None = None

    def reconnect_by(self) -> float | None:
        """When the refresh token dies at the latest (the earlier of rolling and hard expiry)."""
        times = [t for t in (self.refresh_expires_at, self.refresh_hard_expires_at) if t]
        return min(times) if times else None

    def days_left(self, now: float) -> float | None:
        """Days until the company must be reconnected (None when unknown; negative: overdue)."""
        until = self.reconnect_by()
        return None if until is None else (until - now) / 86400.0

    def to_item(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "realm_id": self.realm_id,
            "status": self.status,
            "message": self.message,
            "access_expires_at": self.access_expires_at,
            "refresh_expires_at": self.refresh_expires_at,
            "refresh_hard_expires_at": self.refresh_hard_expires_at,
            "connected_at": self.connected_at,
            "last_success_at": self.last_success_at,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> QboConnection:
        def number(key: str) -> float | None:
            value = item.get(key)
            return float(value) if value is not None else None

        return cls(
            tenant=str(item["tenant"]),
            realm_id=str(item.get("realm_id") or ""),
            status=str(item.get("status") or CONNECTED),
            message=str(item.get("message") or ""),
            access_expires_at=number("access_expires_at"),
            refresh_expires_at=number("refresh_expires_at"),
            refresh_hard_expires_at=number("refresh_hard_expires_at"),
            connected_at=number("connected_at"),
            last_success_at=number("last_success_at"),
        )


class QboConnectionStore(Protocol):
    """Connections by tenant and by realm, with a per-connection refresh lease."""

    def get(self, tenant: str) -> QboConnection | None: ...

    def find_by_realm(self, realm_id: str) -> QboConnection | None:
        """The connection holding ``realm_id`` (connected or needing a reconnect), if any."""

    def list(self) -> list[QboConnection]:
        """Every connection, by tenant name."""

    def connect(self, connection: QboConnection) -> None:
        """Store a new or renewed connection (every metadata attribute) and claim its realm.

        AlreadyExists when another tenant holds the realm; a tenant's earlier realm is freed.
        """

    def record_tokens(
        self,
        tenant: str,
        access_expires_at: float,
        refresh_expires_at: float,
        refresh_hard_expires_at: float | None,
    ) -> None:
        """The expiry times after a refresh (the hard expiry only when Intuit sent one)."""

    def mark(self, tenant: str, status: str, message: str) -> None:
        """Set the status and its message; ``disconnected`` frees the realm. StoreError if none."""

    def record_success(self, tenant: str, at: float) -> None:
        """When the tenant's company last answered a sync."""

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        """Take the token-refresh lease if nobody holds an unexpired one (or ``holder`` does)."""

    def release_lease(self, tenant: str, holder: str) -> None:
        """Give the lease back (only if ``holder`` still holds it)."""

    def delete(self, tenant: str) -> bool:
        """Forget the connection and free its realm; False if there was none."""
