"""``qbrelay serve``: the Web Connector SOAP endpoint over the local store."""

from __future__ import annotations

import argparse
import os
from typing import Any

from ...qbwc.soap_service import DEFAULT_MAX_BODY
from .common import data_dir


def cmd_serve(args: argparse.Namespace) -> int:
    from ..server import RelayServer
    from ..wiring import build_local
    from ..wsgi import SOAP_PATH, RelayWsgiApp

    local = build_local(data_dir(args.data_dir), max_body_bytes=args.max_body_bytes)
    public_url = args.public_url or os.environ.get("QBRELAY_PUBLIC_URL") or None
    server = RelayServer(
        RelayWsgiApp(local.endpoint, public_url, local.tenants, local.state), args.host, args.port
    )
    print(
        f"qbxml-relay serving SOAP at {server.url}{SOAP_PATH} (store: {local.db.path})", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def register(sub: Any) -> None:
    """Add ``serve``."""
    serve = sub.add_parser("serve", help="serve the Web Connector SOAP endpoint")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--data-dir")
    serve.add_argument(
        "--public-url",
        help="URL the WSDL names as the service address "
        "(default: taken from each request; env QBRELAY_PUBLIC_URL)",
    )
    serve.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY)
    serve.set_defaults(func=cmd_serve)
