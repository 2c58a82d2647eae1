"""The demo's ZOHO leg: forward the queued records to the fake ZOHO CRM, or a real endpoint.

By default a fake ZOHO CRM (``sim/fake_zoho.py``) is served on 127.0.0.1 for the run; its
records persist in the data directory, so a second demo over the same data is a true re-sync.
With an accounts URL the records go through the real client to any ZOHO-compatible endpoint,
with credentials from ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN.

A data directory's mappings describe one ZOHO organisation, so the demo refuses to point a
data directory that has forwarded to one target at another.

``reject`` makes the fake refuse that many of the run's estimates (ZOHO's Quotes) the way an
organisation with a field its administrator made mandatory does, so the forwarder parks them:
the operator's view of a parked failure and its re-drive, on the demo's own data.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from sim.fake_zoho import FakeZoho, FakeZohoServer

from ..store.files import FileTokenCache
from ..store.private import create_private_file, write_private_text
from ..store.sqlite import (
    SqliteDatabase,
    SqliteForwarderState,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteSyncStateStore,
)
from ..zoho.audit import KINDS, Auditor, AuditReport
from ..zoho.auth import TokenProvider, ZohoCredentials
from ..zoho.client import ZohoClient
from ..zoho.datacentres import check_url
from ..zoho.mapping import build_config
from .forwarder import DrainResult, build_local_forwarder, drain
from .progress import Progress, audit_view

FAKE_STATE = "fake-zoho.json"
TARGET_FILE = "demo-zoho-target.txt"
FAKE = "fake"
CREDENTIAL_ENV = ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN")
DEMO_TENANT = "demo"
# The module ``reject`` refuses records of: estimates, which no other record refers to, so a
# refused one parks only itself.
REJECT_MODULE = "Quotes"
REJECT_CODE = "MANDATORY_NOT_FOUND"
REJECT_FIELD = "Due_Date"  # a Quotes field the default mapping leaves empty


class DemoTargetError(RuntimeError):
    """The demo cannot forward: missing credentials, a bad URL, or another target's data."""


@dataclass(slots=True)
class DemoForwarding:
    """What the demo's forwarding did and what ZOHO holds afterwards."""

    target: str
    drain: DrainResult
    records: int  # QuickBooks records in ZOHO (fake), or applied in this run (real endpoint)
    modules: dict[str, int] = field(default_factory=dict)  # fake only: records per module
    duplicates: int | None = None  # fake only: records sharing an external id
    audit: AuditReport | None = None  # ZOHO compared with the mapping store, after forwarding
    refused: int | None = None  # fake only: records it refused as ``reject`` asked


def _claim_target(data_dir: Path, target: str) -> None:
    marker = data_dir / TARGET_FILE
    if marker.exists():
        held = marker.read_text(encoding="utf-8").strip()
        if held != target:
            raise DemoTargetError(
                f"{data_dir} already holds records forwarded to {held}; use another --data-dir "
                f"for {target}"
            )
        return
    write_private_text(marker, target + "\n")


def _count_fake(fake: FakeZoho) -> tuple[int, dict[str, int], int]:
    config = build_config()
    per_module = {m: len(fake.all(m)) for m in fake.modules if fake.all(m)}
    primary = {s.module: s.id_field for s in config.entities.values()}
    records = sum(
        len({r.get(idf) for r in fake.all(m) if r.get(idf)})
        for m, idf in primary.items()
        if m in fake.modules
    )
    specs = [s for e in config.entities.values() for s in (e, e.contact) if s is not None]
    duplicates = sum(
        fake.duplicates(s.module, s.id_field) for s in specs if s.module in fake.modules
    )
    return records, per_module, duplicates


@contextmanager
def fake_crm(
    data_dir: Path, reject: int = 0
) -> Iterator[tuple[FakeZoho, Callable[[str], ZohoClient]]]:
    """The data directory's fake ZOHO CRM served on loopback for the ``with`` block, and a ZOHO
    client factory for it; its records are saved back when the block ends without an error.
    The fake refuses the first ``reject`` estimates it is sent (REJECT_CODE)."""
    _claim_target(data_dir, FAKE)
    fake = FakeZoho()
    state = data_dir / FAKE_STATE
    fake.load(state)
    if reject:
        fake.refuse_next(REJECT_MODULE, reject, REJECT_CODE, REJECT_FIELD)
    client_id = "1000.DEMO"
    secret, refresh = secrets.token_urlsafe(24), "1000." + secrets.token_hex(24)
    fake.add_client(client_id, secret, refresh)
    session = requests.Session()
    try:
        with FakeZohoServer(fake) as server, tempfile.TemporaryDirectory() as tmp:
            # Tokens of this run's fake are worthless afterwards: keep them out of the data dir.
            tokens = FileTokenCache.in_dir(tmp)
            credentials = ZohoCredentials(client_id, secret, refresh, accounts_url=server.url)

            def clients(tenant: str) -> ZohoClient:
                return ZohoClient(TokenProvider(tenant, credentials, tokens, session), session)

            yield fake, clients
    finally:
        session.close()
    create_private_file(state)  # the fake's records are customer data too: 0600 like the rest
    fake.save(state)


def forward_to_fake(
    db: SqliteDatabase,
    queue: SqliteRecordQueue,
    data_dir: Path,
    progress: Progress,
    reject: int = 0,
) -> DemoForwarding:
    """Drain the queue into the fake ZOHO CRM (``fake_crm``); the fake refuses the first
    ``reject`` estimates it is sent, which the forwarder parks."""
    with fake_crm(data_dir, reject) as (fake, clients):
        result, report = _forward_and_audit(db, queue, data_dir, clients, progress)
    records, modules, duplicates = _count_fake(fake)
    return DemoForwarding(FAKE, result, records, modules, duplicates, report, fake.refused)


def forward_to_endpoint(
    db: SqliteDatabase,
    queue: SqliteRecordQueue,
    data_dir: Path,
    accounts_url: str,
    progress: Progress,
) -> DemoForwarding:
    """Drain the queue through the real client to a ZOHO-compatible accounts server's API."""
    try:
        url = check_url(accounts_url, "--zoho-accounts-url")
    except ValueError as exc:
        raise DemoTargetError(str(exc)) from exc
    missing = [name for name in CREDENTIAL_ENV if not os.environ.get(name)]
    if missing:
        raise DemoTargetError(f"--zoho-accounts-url needs the credentials in {', '.join(missing)}")
    _claim_target(data_dir, url)
    credentials = ZohoCredentials(
        client_id=os.environ["ZOHO_CLIENT_ID"],
        client_secret=os.environ["ZOHO_CLIENT_SECRET"],
        refresh_token=os.environ["ZOHO_REFRESH_TOKEN"],
        accounts_url=url,
    )
    tokens = FileTokenCache.in_dir(data_dir)
    session = requests.Session()

    def clients(tenant: str) -> ZohoClient:
        return ZohoClient(TokenProvider(tenant, credentials, tokens, session), session)

    try:
        result, report = _forward_and_audit(db, queue, data_dir, clients, progress)
    finally:
        session.close()
    return DemoForwarding(url, result, result.outcomes["applied"], audit=report)


def _forward_and_audit(
    db: SqliteDatabase,
    queue: SqliteRecordQueue,
    data_dir: Path,
    clients: Callable[[str], ZohoClient],
    progress: Progress,
) -> tuple[DrainResult, AuditReport]:
    """Drain the queue, then audit the demo tenant, each a progress task."""
    with progress.task("Forwarding to ZOHO", queue.depth(), "records") as task:

        def batch(so_far: DrainResult) -> None:
            o = so_far.outcomes
            task.update(so_far.messages, detail=f"{o['applied']:,} applied, {o['parked']:,} parked")

        result = drain(queue, build_local_forwarder(db, data_dir, clients), on_batch=batch)
    return result, audit(db, clients(DEMO_TENANT), progress)


def audit(db: SqliteDatabase, client: ZohoClient, progress: Progress | None = None) -> AuditReport:
    """The demo tenant's audit: what ZOHO holds against what was delivered."""
    config = build_config(SqliteForwarderState(db).get_mapping(DEMO_TENANT))
    auditor = Auditor(SqliteMappingStore(db), SqliteSyncStateStore(db), time.time)
    with (progress or Progress(enabled=False)).task("Audit", unit="modules") as task:
        return auditor.audit(
            DEMO_TENANT,
            config,
            client,
            progress=audit_view(task),
        )


def forward_demo(
    db: SqliteDatabase,
    queue: SqliteRecordQueue,
    data_dir: Path,
    accounts_url: str | None,
    progress: Progress | None = None,
    reject: int = 0,
) -> DemoForwarding:
    """The demo's forwarding: to the fake ZOHO (refusing ``reject`` estimates), or through the
    real client to ``accounts_url``."""
    shown = progress or Progress(enabled=False)
    if accounts_url:
        if reject:
            raise DemoTargetError("--reject needs the built-in fake ZOHO")
        return forward_to_endpoint(db, queue, data_dir, accounts_url, shown)
    return forward_to_fake(db, queue, data_dir, shown, reject)


def zoho_json(z: DemoForwarding) -> dict[str, object]:
    """The demo JSON's ZOHO keys (``zoho_calls`` counts API and token calls)."""
    return {
        "zoho_target": z.target,
        "zoho_calls": z.drain.calls + z.drain.token_calls,
        "zoho_token_calls": z.drain.token_calls,
        "zoho_records": z.records,
        "zoho_modules": z.modules,
        "zoho_duplicates": z.duplicates,
        "zoho_parked": z.drain.outcomes["parked"],
        "zoho_refused": z.refused,
        "zoho_unchanged": z.drain.outcomes["unchanged"],
        "zoho_left_for_later": z.drain.outcomes["retry"],
        **audit_json(z.audit),
    }


def audit_json(report: AuditReport | None) -> dict[str, object]:
    """The demo JSON's audit keys: drift found by a real audit after forwarding."""
    if report is None:
        return {f"audit_{k}": None for k in (*KINDS, "credits")}
    return {**{f"audit_{k}": report.counts[k] for k in KINDS}, "audit_credits": report.credits}
