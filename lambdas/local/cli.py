"""``qbrelay``: run and administer the relay on its local SQLite store.

Command names and flags are a contract other tooling relies on: extend them, never rename them.
Each command group lives in its own module under ``lambdas/local/commands``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ..store.ports import StoreError
from .commands import (
    apikey,
    audit,
    demo,
    failures,
    pause,
    qbo,
    qwc,
    resync,
    serve,
    status,
    tenant,
    webhooks,
    writeback,
    zoho,
)

COMMAND_GROUPS = (
    serve,
    tenant,
    demo,
    qwc,
    zoho,
    failures,
    audit,
    resync,
    status,
    pause,
    apikey,
    webhooks,
    qbo,
    writeback,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``qbrelay`` argument parser with every command group registered."""
    parser = argparse.ArgumentParser(prog="qbrelay", description=__doc__.splitlines()[0])
    parser.add_argument("--log-level", default=os.environ.get("QBRELAY_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``qbrelay`` command; store errors exit 2 with their message."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
