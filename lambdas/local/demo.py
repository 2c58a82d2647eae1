"""``qbrelay demo``: a full simulated Web Connector session against the real local relay.

The relay runs on its embedded SQLite store and is served over HTTP on loopback; the simulated
Web Connector talks SOAP to it, and a simulated QuickBooks company answers the qbXML.
"""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector, SessionResult

from ..qbwc.passwords import generate_password, hash_password
from ..store.ports import Tenant
from ..sync.plan import SYNC_ORDER
from ..writeback.outcomes import ZOHO_UPDATE
from .demo_writeback import DESKTOP_PREFIX, WritebackResult, echo_capture, enable, seed_crm, tally
from .demo_zoho import DEMO_TENANT, DemoForwarding, fake_crm, forward_demo, zoho_json
from .progress import Progress, SessionProgressView
from .server import RelayServer
from .wiring import LocalRelay, build_local
from .wsgi import SOAP_PATH, RelayWsgiApp

DEMO_USER = "demo-qbwc"


@dataclass(slots=True)
class DemoResult:
    """Figures of one demo run."""

    session: SessionResult
    records_received: int
    records_queued: int
    records_unchanged: int
    errors: int
    queue_depth: int
    seconds: float
    sample: list[dict[str, Any]]
    zoho: DemoForwarding | None = None
    writeback: WritebackResult | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            **(zoho_json(self.zoho) if self.zoho is not None else {}),
            **(self.writeback.to_json() if self.writeback is not None else {}),
            "exchanges": self.session.exchanges,
            "records_received": self.records_received,
            "records_queued": self.records_queued,
            "records_unchanged": self.records_unchanged,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "queue_depth": self.queue_depth,
            "auth_status": self.session.auth_status,
            "summary": self.session.close_message,
            "last_error": self.session.last_error,
        }


@dataclass(frozen=True, slots=True)
class DemoCompany:
    """How many records of each kind the simulated company holds (deterministic per seed)."""

    customers: int = 1200
    items: int = 60
    invoices: int = 600
    sales_orders: int = 120
    estimates: int = 120
    sales_receipts: int = 0
    payments: int = 300
    credit_memos: int = 0
    seed: int = 1

    def build(self) -> FakeCompany:
        """The simulated company; ValueError with a clear message for impossible counts."""
        return FakeCompany(
            customers=self.customers,
            items=self.items,
            invoices=self.invoices,
            sales_orders=self.sales_orders,
            estimates=self.estimates,
            sales_receipts=self.sales_receipts,
            payments=self.payments,
            credit_memos=self.credit_memos,
            seed=self.seed,
        )


def run_demo(
    data_dir: Path,
    company: DemoCompany | None = None,
    zoho_accounts_url: str | None = None,
    progress: Progress | None = None,
    reject: int = 0,
    writeback: int = 0,
    **counts: int,
) -> DemoResult:
    """Sync a simulated company through the relay, then forward the queued records to ZOHO (a
    fake on loopback, or ``zoho_accounts_url``); return what happened.

    ``counts`` (``customers=...``, ``invoices=...``) override fields of ``company``; the
    session, the forwarding and the audit are shown on ``progress`` (default: nothing shown).
    ``reject``: the fake ZOHO refuses that many of the estimates it is sent, which are parked.
    ``writeback``: that many new ZOHO accounts (and a fifth as many won deals) are written to
    the simulated company first in the session (lambdas/local/demo_writeback.py).
    """
    if reject < 0:
        raise ValueError("--reject must be 0 or more")
    if writeback < 0:
        raise ValueError("--writeback must be 0 or more")
    if writeback and zoho_accounts_url:
        raise ValueError("--writeback needs the built-in fake ZOHO")
    spec = replace(company or DemoCompany(), **counts)
    simulated = spec.build()
    progress = progress or Progress(enabled=False)
    sessions = SessionProgressView(progress)
    local = build_local(data_dir, on_progress=sessions)
    password = _demo_tenant(local)
    # As the Web Connector does once the .qwc is imported: the company file carries our FileID.
    owner_id = local.tenants.deployment_owner_id()
    simulated.owner_id = owner_id
    simulated.file_id = local.tenants.ensure_file_id(DEMO_TENANT)
    leg = WritebackResult() if writeback else None
    # The one line of a deal without products: a service item of the company.
    items = [i.name for i in simulated.data.items.values() if i.item_type == "Service"]
    enable(local.tenants, DEMO_TENANT, bool(writeback), items[0] if items else "")
    leg_started = time.time()
    with fake_crm(data_dir) if writeback else nullcontext() as crm:
        if crm is not None and leg is not None:
            fake, clients = crm
            leg.seeded = seed_crm(fake, writeback, DESKTOP_PREFIX)
            # The session's capture reads this fake ZOHO (before the plan, as in production).
            local = build_local(data_dir, on_progress=sessions, zoho_clients=clients)
        before = _ops(local) if leg is not None else 0
        session, seconds = _session(local, owner_id, password, simulated)
        if leg is not None:
            leg.captured = _ops(local) - before
    sessions.close()
    received = queued = unchanged = 0
    errors = 0 if session.last_error is None else 1
    runs = local.runs.recent(DEMO_TENANT, limit=1)
    if runs and runs[0].ticket == session.ticket:
        counts = runs[0].entities.values()
        received = sum(c.received for c in counts)
        queued = sum(c.queued for c in counts)
        unchanged = sum(c.unchanged for c in counts)
        errors = max(errors, runs[0].errors)
    # One queued record of each kind, before the forwarder drains them.
    firsts: dict[str, dict[str, Any]] = {}
    for body in local.queue.peek(5000):
        record = json.loads(body)["record"]
        if record["entity"] != ZOHO_UPDATE:  # write-back's status messages are not records
            firsts.setdefault(record["entity"], record)
    sample = list(firsts.values())[:4]
    zoho = forward_demo(local.db, local.queue, data_dir, zoho_accounts_url, progress, reject)
    if leg is not None:
        tally(local.writeback, DEMO_TENANT, leg_started, leg)
        leg.echo_ops = echo_capture(local, data_dir)
    return DemoResult(
        session=session,
        records_received=received,
        records_queued=queued,
        records_unchanged=unchanged,
        errors=errors,
        queue_depth=local.queue.depth(),
        seconds=seconds,
        sample=sample,
        zoho=zoho,
        writeback=leg,
    )


def _demo_tenant(local: LocalRelay) -> str:
    """Create or refresh the demo tenant; its password, fresh each run (only the hash is kept)."""
    password = generate_password()
    tenant = local.tenants.get(DEMO_TENANT)
    if tenant is None:
        tenant = Tenant(
            name=DEMO_TENANT,
            qbwc_user=DEMO_USER,
            password_hash=hash_password(password),
            enabled_entities=SYNC_ORDER,
            created_at=time.time(),
        )
        local.tenants.create(tenant)
    else:
        tenant.password_hash = hash_password(password)
        tenant.enabled_entities = SYNC_ORDER
        local.tenants.update(tenant)
    return password


def _session(
    local: LocalRelay, owner_id: str, password: str, simulated: FakeCompany
) -> tuple[SessionResult, float]:
    """One Web Connector session against the relay served on loopback; it and its seconds."""
    server = RelayServer(
        RelayWsgiApp(local.endpoint, tenants=local.tenants, state=local.state), "127.0.0.1", 0
    ).start_in_thread()
    qbwc = FakeWebConnector(server.url + SOAP_PATH, owner_id=owner_id)
    try:
        started = time.perf_counter()
        session = qbwc.run_session(DEMO_USER, password, simulated)
        return session, time.perf_counter() - started
    finally:
        qbwc.close()
        server.stop()


def _ops(local: LocalRelay) -> int:
    return sum(local.writeback.counts(DEMO_TENANT).values())
