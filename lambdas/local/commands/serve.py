"""``qbrelay serve``: the Web Connector SOAP endpoint over the local store."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...qbwc.soap_service import DEFAULT_MAX_BODY
from ..server import ServerLimits

if TYPE_CHECKING:
    from ..qbo import LocalQbo
    from ..qbo_worker import QboWorker
    from ..webhook_worker import WebhookWorker
    from ..wiring import LocalRelay
    from ..worker import ForwarderWorker
from .common import add_progress_arg, data_dir


def cmd_serve(args: argparse.Namespace) -> int:
    from ..ops_wiring import ops_providers
    from ..progress import Progress, SessionProgressView
    from ..server import RelayServer, ServerLimits
    from ..wiring import build_local
    from ..wsgi import SOAP_PATH, RelayWsgiApp

    directory = data_dir(args.data_dir)
    # A first full sync can take hours; the routine sessions after it stay quiet.
    sessions = SessionProgressView(Progress.for_command(args.no_progress), first_sync_only=True)
    local = build_local(directory, max_body_bytes=args.max_body_bytes, on_progress=sessions)
    public_url = args.public_url or os.environ.get("QBRELAY_PUBLIC_URL") or None
    qbo = local_qbo(local, directory)
    server = RelayServer(
        RelayWsgiApp(
            local.endpoint,
            public_url,
            local.tenants,
            local.state,
            providers={
                **ops_providers(directory, local.db),
                **(qbo.providers() if qbo is not None else {}),
            },
        ),
        args.host,
        args.port,
        trusted_proxy=args.trusted_proxy,
        limits=ServerLimits(
            threads=args.threads,
            connection_limit=args.connection_limit,
            per_source_limit=args.per_source_limit,
            channel_timeout=args.channel_timeout,
            request_timeout=args.request_timeout,
            max_header_bytes=args.max_header_bytes,
        ),
    )
    worker = None if args.no_forward else local_worker(local, directory).start()
    webhooks = local_webhooks(local, directory).start()
    qbo_worker = local_qbo_worker(qbo)
    print(
        f"qbxml-relay serving SOAP at {server.url}{SOAP_PATH} (store: {local.db.path}); "
        + ("not forwarding (--no-forward)" if worker is None else "forwarding to ZOHO"),
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        if worker is not None:
            worker.stop()
        webhooks.stop()
        if qbo_worker is not None:
            qbo_worker.stop()
        sessions.close()
    return 0


def local_worker(local: LocalRelay, directory: Path) -> ForwarderWorker:
    """The serve process's forwarder thread, with its scheduled jobs."""
    from ..forwarder import build_local_forwarder
    from ..jobs import scheduled_jobs
    from ..worker import ForwarderWorker

    forwarder = build_local_forwarder(local.db, directory)
    return ForwarderWorker(local.queue, forwarder, jobs=scheduled_jobs(local, directory))


def local_qbo(local: LocalRelay, directory: Path) -> LocalQbo | None:
    """The QuickBooks Online routes' ports, if an Intuit app is configured (QBO_CLIENT_ID)."""
    from ...qbo.errors import QboConfigError
    from ..qbo import build_local_qbo

    try:
        return build_local_qbo(local, directory)
    except QboConfigError as exc:
        raise SystemExit(f"error: {exc.message}") from None


def local_qbo_worker(qbo: LocalQbo | None) -> QboWorker | None:
    """The serve process's QuickBooks Online sync and catch-up thread (if configured)."""
    from ..qbo_worker import QboWorker

    return QboWorker(qbo.runtime(), qbo.changes).start() if qbo is not None else None


def local_webhooks(local: LocalRelay, directory: Path) -> WebhookWorker:
    """The serve process's webhook thread: the outbox to the subscribers."""
    from ..webhook_worker import WebhookWorker, local_dispatch

    return WebhookWorker(local_dispatch(local.db, directory))


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
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY,
        help="largest request body; a larger one is refused with 413 before it is read",
    )
    # Abuse bounds (docs/security.md): the defaults hold against one misbehaving source; a
    # reverse proxy in front must bound per-client connections itself (see --trusted-proxy).
    defaults = ServerLimits()
    serve.add_argument("--threads", type=int, default=defaults.threads)
    serve.add_argument(
        "--connection-limit",
        type=int,
        default=defaults.connection_limit,
        help="open connections overall (default %(default)s)",
    )
    serve.add_argument(
        "--per-source-limit",
        type=int,
        default=defaults.per_source_limit,
        help="open connections per client address, 0 for none; not applied to the trusted "
        "proxy (default %(default)s)",
    )
    serve.add_argument(
        "--channel-timeout",
        type=float,
        default=defaults.channel_timeout,
        help="seconds an idle connection stays open (default %(default)s)",
    )
    serve.add_argument(
        "--request-timeout",
        type=float,
        default=defaults.request_timeout,
        help="seconds a client may take to send one request, headers and body "
        "(default %(default)s)",
    )
    serve.add_argument(
        "--max-header-bytes",
        type=int,
        default=defaults.max_header_bytes,
        help="largest request line plus headers (default %(default)s)",
    )
    serve.add_argument(
        "--trusted-proxy",
        metavar="ADDR",
        help="address of the reverse proxy in front: only its X-Forwarded-For names the caller "
        "(default: none is trusted; the address only labels the Web Connector version per tenant)",
    )
    serve.add_argument(
        "--no-forward",
        action="store_true",
        help="do not forward queued records to ZOHO from this process",
    )
    add_progress_arg(serve)
    serve.set_defaults(func=cmd_serve)
