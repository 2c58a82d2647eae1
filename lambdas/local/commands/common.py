"""Helpers shared by the ``qbrelay`` sub-commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_DATA_DIR = "qbrelay-data"


def data_dir(value: str | None, default: str = DEFAULT_DATA_DIR) -> Path:
    """The data directory: the flag, else QBRELAY_DATA_DIR, else ``default``."""
    return Path(value or os.environ.get("QBRELAY_DATA_DIR") or default)


def read_secret_stdin(what: str) -> str:
    """One line of standard input (a password or a token); exit with a clear error if empty."""
    value = sys.stdin.readline().rstrip("\r\n")
    if not value:
        raise SystemExit(f"error: {what} expected on standard input, but it held none")
    return value
