"""The ports routes use, built on first use from providers the transport's wiring supplies.

A Lambda function builds only what the route it serves asks for (a support page never builds
the SOAP stack); the local process supplies its SQLite stores. A route asking for something its
deployment does not provide gets ``ServiceUnavailable``, which the router answers as a 500.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..qbwc.soap_service import SoapEndpoint
    from ..store.ports import SyncStateStore, TenantStore
    from ..store.writeback_ports import WriteBackStore


class ServiceUnavailable(LookupError):
    """A route asked for a port this deployment does not provide."""


class Services:
    """Named, lazily built ports; each provider runs at most once."""

    def __init__(self, **providers: Callable[[], Any]) -> None:
        self._providers = dict(providers)
        self._built: dict[str, Any] = {}
        # Re-entrant: a provider may build its port from another (an engine over the stores).
        self._lock = threading.RLock()

    def provides(self, name: str) -> bool:
        """True if a provider for ``name`` was supplied."""
        return name in self._providers

    def get(self, name: str) -> Any:
        """The port called ``name``, built on first use."""
        if name in self._built:
            return self._built[name]
        with self._lock:
            if name not in self._built:
                provider = self._providers.get(name)
                if provider is None:
                    raise ServiceUnavailable(name)
                self._built[name] = provider()
            return self._built[name]

    def optional(self, name: str) -> Any:
        """The port called ``name``, or None if this deployment does not provide it."""
        return self.get(name) if self.provides(name) else None

    @property
    def soap(self) -> SoapEndpoint:
        """The Web Connector SOAP endpoint."""
        return self.get("soap")

    @property
    def tenants(self) -> TenantStore:
        return self.get("tenants")

    @property
    def sync_state(self) -> SyncStateStore | None:
        return self.optional("sync_state")

    @property
    def writeback(self) -> WriteBackStore | None:
        """The write-back operations (None where this deployment has no write-back table)."""
        return self.optional("writeback")

    @property
    def soap_url(self) -> str | None:
        """The configured public SOAP address for the WSDL (None: the request's own)."""
        return self.optional("soap_url")
