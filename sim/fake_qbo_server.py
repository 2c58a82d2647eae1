"""A WSGI app served by waitress on 127.0.0.1 in a thread, for tests and the demo."""

from __future__ import annotations

import threading
import time
from typing import Any

from waitress.server import create_server


class LoopbackServer:
    """Serve ``app`` on 127.0.0.1 (port 0: any free one); ``start()`` then ``stop()``.

    ``app.base_url`` is set to the served URL when the app has that attribute, and ``stop``
    waits briefly for answers in progress when it has ``busy``.
    """

    def __init__(self, app: Any, port: int = 0, threads: int = 8, name: str = "fake") -> None:
        self.app = app
        self.name = name
        self._server: Any = create_server(
            app, host="127.0.0.1", port=port, threads=threads, ident=name
        )
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        if hasattr(app, "base_url"):
            app.base_url = self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{int(self._server.effective_port)}"

    def _serve(self) -> None:
        server = self._server
        # waitress's run() loops until every client connection is gone; this loop stops when
        # asked, and closes the connections in the thread that owns them.
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown(timeout=5)
        for channel in list(server._map.values()):
            channel.close()

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        deadline = time.monotonic() + 5
        while getattr(self.app, "busy", 0) and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
