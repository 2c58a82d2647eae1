"""``qbrelay demo --qbo``: the QuickBooks Online flow on one machine, after the Desktop demo.

A fake QuickBooks Online (``sim/fake_qbo.py``: Intuit's consent and token endpoints and the
Accounting API) is served on 127.0.0.1, and the relay's real routes are served beside it by the
same server ``qbrelay serve`` runs. The demo tenant is connected through the one-time link and
the fake's consent step (``/qbo/connect`` -> Intuit -> ``/qbo/callback``); the generated company
is loaded whole by the first catch-up; changes are announced by signed webhooks through
``POST /qbo/webhooks`` and synced from the change queue; one change is never announced and the
change-data-capture catch-up brings it. The records go to the same fake ZOHO as the Desktop
demo's, beside them (their own id space).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from sim.fake_qbo import FakeQbo
from sim.fake_qbo_server import LoopbackServer
from sim.fake_qbo_webhooks import WebhookSender

from ..model.identity import SOURCE_QBO
from ..qbo.config import load_config
from ..qbo.links import create_link, link_url
from ..qbo.sync import SyncReport
from ..store.sqlite import SqliteMappingStore
from .demo_writeback import ONLINE_PREFIX, WritebackResult, echo_capture, enable, seed_crm, tally
from .demo_zoho import DEMO_TENANT, DemoForwarding, fake_crm, forward_to_fake
from .progress import Progress
from .qbo import LocalQbo, build_local_qbo
from .server import RelayServer
from .wiring import LocalRelay, build_local
from .wsgi import RelayWsgiApp

DEMO_REALM = "9130356217700001"
WEBHOOK_PATH = "/qbo/webhooks"


@dataclass(slots=True)
class QboDemoResult:
    """What the QuickBooks Online leg did."""

    realm: str
    loaded: int  # records of the first load
    webhooks: int  # deliveries the relay accepted (200)
    refused_webhooks: int  # the mis-signed one, answered 401
    webhook_records: int  # records the webhooks' changes queued
    cdc_records: int  # objects change-data-capture returned (the missed change among them)
    cdc_queued: int  # records the catch-up queued: what the webhooks missed
    api_calls: int  # Accounting API calls the fake answered
    records: int  # QuickBooks Online records ZOHO holds (delivered mappings)
    zoho: DemoForwarding | None = None
    writeback: WritebackResult | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` keys the QBO leg adds."""
        return {
            **(self.writeback.to_json() if self.writeback is not None else {}),
            "qbo_records": self.records,
            "qbo_webhooks": self.webhooks,
            "qbo_cdc_records": self.cdc_records,
            "qbo_api_calls": self.api_calls,
        }


def _env(fake_url: str, relay_url: str, token: str) -> dict[str, str]:
    return {
        "QBO_CLIENT_ID": "ABdemo-client",
        "QBO_CLIENT_SECRET": "demo-" + secrets.token_urlsafe(16),
        "QBO_REDIRECT_URI": relay_url + "/qbo/callback",
        "QBO_ENVIRONMENT": "sandbox",
        "QBO_WEBHOOK_VERIFIER_TOKEN": token,
        "QBO_AUTH_BASE_URL": fake_url,
        "QBO_API_BASE_URL": fake_url,
    }


def connect_by_link(fake: FakeQbo, relay_url: str, qbo: LocalQbo, tenant: str, realm: str) -> str:
    """Connect ``tenant`` as an admin would: open the one-time link, press the button, approve
    at Intuit (the fake), follow the redirect to the callback. The callback page's text."""
    with requests.Session() as browser:
        token = create_link(tenant, qbo.states)
        page = browser.get(link_url(relay_url, tenant, token), timeout=10)
        page.raise_for_status()
        pressed = browser.post(
            relay_url + "/qbo/connect",
            data={"tenant": tenant, "link": token},
            allow_redirects=False,
            timeout=10,
        )
        if pressed.status_code != 302:
            raise RuntimeError(f"/qbo/connect answered {pressed.status_code}: {pressed.text}")
        back = fake.approve(pressed.headers["Location"], realm)
        done = browser.get(back, timeout=30)
        if done.status_code != 200:
            raise RuntimeError(f"/qbo/callback answered {done.status_code}: {done.text}")
        return done.text


def _edit_company(fake: FakeQbo, realm: str) -> tuple[list[Any], list[Any]]:
    """Changes to announce by webhook, and one never announced (for the catch-up)."""
    company = fake.companies[realm]
    before = len(company.events)
    customers = company.all("Customer")
    company.edit("Customer", customers[0]["Id"], CompanyName="Renamed by the QBO demo")
    company.edit("Customer", customers[1]["Id"], Notes="edited in QuickBooks Online")
    invoice = company.all("Invoice")[0]
    company.pay(invoice["Id"])
    announced = company.events[before:]
    company.edit("Customer", customers[2]["Id"], CompanyName="Missed by every webhook")
    missed = company.events[before + len(announced) :]
    return announced, missed


def _qbo_records(local: LocalRelay) -> int:
    mappings = SqliteMappingStore(local.db)
    return sum(1 for m in mappings.scan(DEMO_TENANT) if m.source == SOURCE_QBO and m.zoho_id)


def run_qbo_demo(
    data_dir: Path, progress: Progress | None = None, writeback: int = 0
) -> QboDemoResult:
    """Connect, load, webhook, catch up and forward (see the module docstring).

    ``writeback``: that many new ZOHO accounts (and a fifth as many won deals) are written to
    the Online company after the catch-up (lambdas/local/demo_writeback.py). The demo tenant
    must exist (the Desktop demo creates it).
    """
    progress = progress or Progress(enabled=False)
    local = build_local(data_dir)
    if local.tenants.get(DEMO_TENANT) is None:
        raise ValueError(f"no tenant {DEMO_TENANT!r}: run the Desktop demo first")
    token = secrets.token_urlsafe(24)
    leg = WritebackResult() if writeback else None
    leg_started = time.time()
    fake = FakeQbo()
    with LoopbackServer(fake, name="fake-qbo") as fake_server:
        # The redirect URI names the relay's port, known once its socket is bound.
        qbo = build_local_qbo(local, data_dir, _env(fake_server.url, "http://127.0.0.1", token))
        assert qbo is not None
        app = RelayWsgiApp(
            local.endpoint, tenants=local.tenants, state=local.state, providers=qbo.providers()
        )
        server = RelayServer(app, "127.0.0.1", 0)
        env = _env(fake_server.url, server.url, token)
        qbo.config = load_config(env, qbo.secrets)
        fake.add_app(env["QBO_CLIENT_ID"], env["QBO_CLIENT_SECRET"], (env["QBO_REDIRECT_URI"],))
        server.start_in_thread()
        sender = WebhookSender(server.url + WEBHOOK_PATH, token)
        try:
            with progress.task("QuickBooks Online", unit="steps") as task:
                connect_by_link(fake, server.url, qbo, DEMO_TENANT, DEMO_REALM)
                task.update(1, detail="connected")
                runtime = qbo.runtime()
                loaded = sum(r.queued + r.unchanged for r in runtime.catch_up())
                task.update(2, detail=f"{loaded} records loaded")
                announced, _missed = _edit_company(fake, DEMO_REALM)
                refused = sender.send(announced[:1], signature="wrong-key").status
                deliveries = [sender.send([e]) for e in announced]
                synced: SyncReport = runtime.drain(qbo.changes)
                task.update(3, detail=f"{synced.queued} records from webhooks")
                caught = runtime.catch_up()
                task.update(4, detail="caught up")
                if leg is not None:
                    _write_back(data_dir, fake, local, runtime, writeback, leg)
                    task.update(5, detail="written back")
        finally:
            sender.close()
            server.stop()
    zoho = forward_to_fake(local.db, local.queue, data_dir, progress)
    if leg is not None:
        tally(local.writeback, DEMO_TENANT, leg_started, leg)
        leg.echo_ops = echo_capture(local, data_dir)
    return QboDemoResult(
        realm=DEMO_REALM,
        loaded=loaded,
        webhooks=sum(1 for d in deliveries if d.status == 200),
        refused_webhooks=int(refused == 401),
        webhook_records=synced.queued,
        cdc_records=sum(r.cdc_records for r in caught),
        cdc_queued=sum(r.queued for r in caught),
        api_calls=fake.api_calls(),
        records=_qbo_records(local),
        zoho=zoho,
        writeback=leg,
    )


def _write_back(
    data_dir: Path, fake: FakeQbo, local: LocalRelay, runtime: Any, n: int, leg: WritebackResult
) -> None:
    """Seed the fake ZOHO, capture (the tenant writes to Online now: it is connected) and let
    the Online writer apply the operations through the Accounting API."""
    company = fake.companies[DEMO_REALM]
    services = [i["Name"] for i in company.all("Item") if i.get("Type") == "Service"]
    names = services or [i["Name"] for i in company.all("Item")]
    tenant = enable(local.tenants, DEMO_TENANT, True, names[0] if names else "")
    with fake_crm(data_dir) as (crm, clients):
        leg.seeded = seed_crm(crm, n, ONLINE_PREFIX, online=True)
        capture = build_local(data_dir, zoho_clients=clients).capture
        leg.captured = capture.run(tenant).ops_added
        runtime.write_back([DEMO_TENANT])
