"""Serving the relay over HTTP with waitress, a multi-threaded production WSGI server."""

from __future__ import annotations

import threading
from typing import Any

from waitress.server import create_server

from .wsgi import RelayWsgiApp


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
        threads: int = 8,
        trusted_proxy: str | None = None,
    ) -> None:
        # Only a request from ``trusted_proxy`` has its X-Forwarded-For believed (its last entry
        # becomes REMOTE_ADDR); from anyone else waitress removes the header.
        proxy: dict[str, Any] = (
            {"trusted_proxy": trusted_proxy, "trusted_proxy_headers": {"x-forwarded-for"}}
            if trusted_proxy
            else {}
        )
        self._server: Any = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            **proxy,
            # The SOAP endpoint enforces its own, smaller limit with a SOAP Fault (QBWC shows the
            # text); waitress's cap only stops absurd bodies before they fill its spool files.
            max_request_body_size=app.endpoint.max_body_bytes * 8,
            ident="qbxml-relay",
        )
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
