"""Serving the relay over HTTP with waitress, a multi-threaded production WSGI server.

Waitress is kept: its asyncore loop reads headers and bodies without tying up a worker thread,
answers 413 from Content-Length before reading a body and stops a chunked body at its
``max_request_body_size``, closes idle channels after ``channel_timeout`` and caps connections
overall (``connection_limit``). Two things it lacks are added here, small and bounded: a cap on
the connections one source address may hold, and a deadline for receiving a whole request (an
idle timeout alone lets a client that sends one header line every few seconds stay forever).
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer

from .wsgi import RelayWsgiApp


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """The connection and request bounds of the local server (``qbrelay serve`` flags).

    ``request_timeout``: seconds a client may take to send one request, headers and body
    (counted from its first byte). ``channel_timeout``: seconds a connection may stay idle.
    ``connection_limit``: open connections overall; ``per_source_limit``: open connections per
    client address (0: no per-source cap; never applied to the trusted proxy, which carries
    every caller and must bound them itself). ``max_header_bytes``: request line and headers.
    ``cleanup_interval``: how often the two timeouts are checked, in seconds.
    """

    threads: int = 8
    connection_limit: int = 200
    per_source_limit: int = 16
    channel_timeout: float = 30.0
    request_timeout: float = 30.0
    max_header_bytes: int = 64 * 1024
    cleanup_interval: float = 1.0
    backlog: int = 128


class _GuardedChannel(HTTPChannel):
    """An HTTP channel that notes when the request it is receiving began."""

    # When the first byte of the request being received arrived; None between requests.
    request_started: float | None = None

    def received(self, data: bytes) -> bool:
        if data and self.request is None:
            self.request_started = time.monotonic()
        result = super().received(data)
        if self.request is None:
            # Every request in ``data`` is complete: the clock restarts with the next one.
            self.request_started = None
        return bool(result)


class _GuardedServer(TcpWSGIServer):
    """Waitress's TCP server with a per-source connection cap and a whole-request deadline."""

    channel_class = _GuardedChannel

    def __init__(self, app: Any, limits: ServerLimits, adj: Adjustments) -> None:
        self.limits = limits
        super().__init__(app, map={}, adj=adj, sockinfo=adj.listen[0])

    def handle_accept(self) -> None:
        try:
            accepted = self.accept()
        except OSError:
            return
        if accepted is None:
            return
        conn, addr = accepted
        source = addr[0] if isinstance(addr, tuple) else None
        if self._over_source_limit(source):
            # Closed at once, before any byte is read: one address cannot hold the slots of
            # ``connection_limit`` that every other caller needs.
            self._refuse(conn)
            return
        try:
            self.set_socket_options(conn)
        except OSError:
            conn.close()
            return
        self.channel_class(self, conn, self.fix_addr(addr), self.adj, map=self._map)

    def _over_source_limit(self, source: str | None) -> bool:
        cap = self.limits.per_source_limit
        if cap <= 0 or source is None or source == self.adj.trusted_proxy:
            return False
        # A scan of at most ``connection_limit`` channels: cheaper to get right than counters
        # kept in step with every way a channel closes.
        held = sum(
            1
            for channel in list(self.active_channels.values())
            if isinstance(channel.addr, tuple) and channel.addr[0] == source
        )
        return held >= cap

    @staticmethod
    def _refuse(conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            conn.send(
                b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n"
                b"Content-Length: 0\r\n\r\n"
            )
        except OSError:
            pass
        finally:
            conn.close()

    def maintenance(self, now: float) -> None:
        """Waitress's idle check, plus: a request still arriving after ``request_timeout``
        closes its connection (a slow-header or slow-body client)."""
        super().maintenance(now)
        deadline = time.monotonic() - self.limits.request_timeout
        for channel in list(self.active_channels.values()):
            started = getattr(channel, "request_started", None)
            if started is not None and started < deadline and channel.request is not None:
                channel.will_close = True


class RelayServer:
    """A started waitress server; ``serve_forever`` or ``start_in_thread`` then ``stop``.

    ``trusted_proxy``: the address of the reverse proxy in front, whose X-Forwarded-For names
    the caller (the relay notes the Web Connector version per caller address).
    """

    def __init__(
        self,
        app: RelayWsgiApp,
        host: str,
        port: int,
        threads: int | None = None,
        trusted_proxy: str | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        limits = limits or ServerLimits()
        if threads is not None:
            limits = dataclasses.replace(limits, threads=threads)
        self.limits = limits
        # Only a request from ``trusted_proxy`` has its X-Forwarded-For believed (its last entry
        # becomes REMOTE_ADDR); from anyone else waitress removes the header.
        proxy: dict[str, Any] = (
            {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": {"x-forwarded-for"}}
            if trusted_proxy
            else {}
        )
        adj = Adjustments(
            host=host,
            port=port,
            threads=limits.threads,
            **proxy,
            # Waitress refuses with 413 from Content-Length before reading the body, and stops a
            # chunked body once it passes this; +1 because it refuses at ">=" and the endpoint
            # accepts a body of exactly its limit. The endpoint's own check stays for the
            # Lambda transport.
            max_request_body_size=app.endpoint.max_body_bytes + 1,
            max_request_header_size=limits.max_header_bytes,
            connection_limit=limits.connection_limit,
            channel_timeout=limits.channel_timeout,
            cleanup_interval=limits.cleanup_interval,
            backlog=limits.backlog,
            ident="qbxml-relay",
        )
        self._server = _GuardedServer(app, limits, adj)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.effective_port)

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self.port}"

    def serve_forever(self) -> None:
        self._server.run()

    def start_in_thread(self) -> RelayServer:
        self._thread = threading.Thread(target=self._server.run, name="relay-http", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Finish requests in flight, then close the socket and end the serving thread."""
        # Worker threads first: a worker that outlives the socket writes to a closed trigger.
        self._server.task_dispatcher.shutdown(cancel_pending=False, timeout=5)
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
