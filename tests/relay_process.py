"""A real ``qbrelay serve`` process on loopback, and the ``qbrelay`` command, for tests."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qbrelay(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lambdas.local.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Served:
    """``qbrelay serve`` on 127.0.0.1 over a data dir; ``start`` waits for /health.

    ``extra_args`` are added to the command line (``--no-forward``, say). With ``log_path`` the
    process's output goes to that file instead of a pipe nobody reads, which a long or busy run
    could fill.
    """

    def __init__(
        self, data_dir: Path, extra_args: Sequence[str] = (), log_path: Path | None = None
    ) -> None:
        self.data_dir = data_dir
        self.extra_args = tuple(extra_args)
        self.log_path = log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "lambdas.local.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--max-body-bytes",
                str(2 * 1024 * 1024),
                *self.extra_args,
            ],
            stdout=self._output(),
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("qbrelay serve did not come up within 30 s")

    def _output(self) -> IO[str] | int:
        if self.log_path is None:
            return subprocess.PIPE
        self._log = self.log_path.open("w")
        return self._log

    def stop(self) -> None:
        """Stop the process (killed if it does not end within 10 s); safe to call twice."""
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


def served_with_tenant(data_dir: Path, password: str) -> Served:
    """A started server whose store holds tenant ``acme`` (user ``acme-qbwc``, ``password``)."""
    added = qbrelay(
        "tenant",
        "add",
        "acme",
        "--qbwc-user",
        "acme-qbwc",
        "--password-stdin",
        "--data-dir",
        str(data_dir),
        stdin=password + "\n",
    )
    assert added.returncode == 0, added.stderr
    assert password not in added.stdout
    server = Served(data_dir)
    server.start()
    return server
