"""Headless Chromium (Debian's package) driven over the DevTools protocol on a pipe, stdlib only.

``--remote-debugging-pipe`` makes Chromium read NUL-terminated JSON commands from fd 3 and write
answers and events to fd 4, so no websocket client (nor Playwright's own browser build) is
needed. Enough for tests: open a page, wait for it to load, evaluate JavaScript in it as a
person's clicks and typing would act, read what it shows.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import Any

# The flags the machine notes prescribe: no sandbox (root), no GPU, and no background
# networking, which this machine's closed network would refuse over and over.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)
TIMEOUT = 20.0


def chromium_path() -> str | None:
    """The Chromium binary (``CHROMIUM`` env, else chromium on PATH), or None."""
    return (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The pipe's ends moved above fd 9, so the shell's ``3<&N 4>&M`` cannot clobber one."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved[0], moved[1]


class BrowserError(RuntimeError):
    """Chromium answered a command with an error, or went quiet."""


class Browser:
    """One headless Chromium with a fresh profile, and one page in it."""

    def __init__(self, binary: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="qbr-chromium-")
        to_chrome_r, self._to_chrome = _high(os.pipe())
        self._from_chrome, from_chrome_w = _high(os.pipe())
        # bash (dash takes no fd above 9) puts the pipe ends on fds 3 and 4, where Chromium reads.
        script = f'exec "$0" "$@" 3<&{to_chrome_r} 4>&{from_chrome_w}'
        self._proc = subprocess.Popen(
            ["/bin/bash", "-c", script, binary, *FLAGS, f"--user-data-dir={self._profile}"],
            pass_fds=(to_chrome_r, from_chrome_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self._profile, "stderr.log"), "wb"),  # noqa: SIM115
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        self.send("Page.enable", session=True)

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 16)
            if not chunk:
                raise BrowserError(f"Chromium closed its DevTools pipe: {self._log_tail()}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def _log_tail(self) -> str:
        try:
            with open(os.path.join(self._profile, "stderr.log"), "rb") as log:
                lines = log.read().decode(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(line for line in lines if "dbus" not in line)[-800:]

    def send(self, method: str, params: dict[str, Any] | None = None, session: bool = False):
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = self._session
        os.write(self._to_chrome, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._read(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._events.append(message)

    def _wait_for(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method:
                    return self._events.pop(i)
            self._events.append(self._read(deadline))

    def open(self, url: str) -> None:
        """Load ``url`` in the page and wait until it has loaded."""
        self._events.clear()
        self.send("Page.navigate", {"url": url}, session=True)
        self._wait_for("Page.loadEventFired")

    def run(self, expression: str, navigates: bool = False) -> Any:
        """Evaluate JavaScript in the page; with ``navigates``, wait for the page it loads."""
        self._events.clear()
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        if navigates:
            self._wait_for("Page.loadEventFired")
        return result.get("result", {}).get("value")

    def text(self) -> str:
        """What the page shows: its rendered text."""
        return self.run("document.body.innerText")

    def close(self) -> None:
        """End Chromium and remove its profile."""
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=10)
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
