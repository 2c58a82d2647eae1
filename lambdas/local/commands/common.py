"""Helpers shared by the ``qbrelay`` sub-commands."""

from __future__ import annotations

import argparse
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


def add_progress_arg(parser: argparse.ArgumentParser) -> None:
    """``--no-progress``: progress (a bar on a terminal, else plain lines) goes to stderr."""
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="show no progress on standard error (a bar on a terminal, else one line per "
        "milestone)",
    )
