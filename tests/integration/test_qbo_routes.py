"""The QuickBooks Online routes over real HTTP on 127.0.0.1, served as ``qbrelay serve`` serves
them (RelayServer + RelayWsgiApp with the local QBO providers), against the fake Intuit."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from lambdas.http import console_session as cs
from lambdas.http.messages import Request
from lambdas.http.routes import app_router
from lambdas.http.services import Services
from lambdas.local import cli
from lambdas.local.ops_wiring import ops_providers
from lambdas.local.qbo import LocalQbo, build_local_qbo
from lambdas.local.server import RelayServer
from lambdas.local.wiring import build_local
from lambdas.local.wsgi import RelayWsgiApp
from lambdas.ops.api_keys import HEADER, create_key
from lambdas.qbo.config import load_config
from lambdas.qbo.connections import CONNECTED
from lambdas.qbo.links import create_link, link_url
from lambdas.qbo.oauth import STATE_SECONDS
from lambdas.qbo.tokens import secret_name
from lambdas.store.ports import Tenant
from sim.fake_qbo import FakeQbo
from sim.fake_qbo_company import Event
from sim.fake_qbo_server import LoopbackServer
from sim.fake_qbo_webhooks import WebhookSender

REALM = "9341452017112345"
TOKEN = "verifier-token-for-tests"


@dataclass
class Rig:
    fake: FakeQbo
    qbo: LocalQbo
    url: str
    key: str

    def connect_url(self, tenant: str = "acme") -> str:
        return f"{self.url}/qbo/connect?tenant={tenant}"

    def start(self, tenant: str = "acme") -> str:
        resp = requests.get(
            self.connect_url(tenant), headers={HEADER: self.key}, allow_redirects=False, timeout=5
        )
        assert resp.status_code == 302, resp.text
        return resp.headers["Location"]


def _env(fake_url: str, relay_url: str) -> dict[str, str]:
    return {
        "QBO_CLIENT_ID": "ABtest",
        "QBO_CLIENT_SECRET": "test-client-secret",
        "QBO_REDIRECT_URI": relay_url + "/qbo/callback",
        "QBO_WEBHOOK_VERIFIER_TOKEN": TOKEN,
        "QBO_AUTH_BASE_URL": fake_url,
        "QBO_API_BASE_URL": fake_url,
    }


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    fake = FakeQbo()
    local = build_local(tmp_path / "data")
    local.tenants.create(Tenant(name="acme", qbwc_user="acme-qbwc", password_hash="x"))
    with LoopbackServer(fake, name="fake-qbo") as fake_server:
        qbo = build_local_qbo(local, tmp_path / "data", _env(fake_server.url, "http://127.0.0.1"))
        assert qbo is not None
        # As qbrelay serve wires them: the operator's routes (console) beside the QBO ones.
        providers = {**ops_providers(tmp_path / "data", local.db), **qbo.providers()}
        app = RelayWsgiApp(
            local.endpoint, tenants=local.tenants, state=local.state, providers=providers
        )
        server = RelayServer(app, "127.0.0.1", 0)
        env = _env(fake_server.url, server.url)
        qbo.config = load_config(env, qbo.secrets)
        fake.add_app(env["QBO_CLIENT_ID"], env["QBO_CLIENT_SECRET"], (env["QBO_REDIRECT_URI"],))
        key, _ = create_key(qbo.api_keys, "tests", time.time())
        server.start_in_thread()
        try:
            yield Rig(fake, qbo, server.url, key)
        finally:
            server.stop()


def test_connect_needs_the_api_key(rig: Rig) -> None:
    resp = requests.get(rig.connect_url(), allow_redirects=False, timeout=5)
    assert resp.status_code == 401
    assert (
        requests.get(rig.connect_url("nobody"), headers={HEADER: rig.key}, timeout=5).status_code
        == 404
    )


def test_connect_callback_stores_tokens_and_a_replay_is_refused(rig: Rig) -> None:
    back = rig.fake.approve(rig.start(), REALM)
    done = requests.get(back, timeout=10)
    assert done.status_code == 200 and "connected" in done.text
    assert "default-src 'none'" in done.headers["Content-Security-Policy"]
    assert done.headers["Referrer-Policy"] == "no-referrer"
    assert rig.qbo.secrets.get(secret_name("acme"))["realm_id"] == REALM
    assert rig.qbo.connections.get("acme").status == CONNECTED
    replay = requests.get(back, timeout=10)
    assert replay.status_code == 400 and "was used already" in replay.text
    assert rig.fake.calls["token"] == 1


def test_an_expired_state_is_refused_at_the_route(rig: Rig) -> None:
    location = rig.start()
    # Age the stored state past its validity (as if the admin came back too late).
    conn = rig.qbo.local.db.connection()
    conn.execute("UPDATE qbo_oauth_states SET expires_at = expires_at - ?", (STATE_SECONDS + 1,))
    conn.commit()
    back = rig.fake.approve(location, REALM)
    resp = requests.get(back, timeout=10)
    assert resp.status_code == 400 and "expired" in resp.text
    assert rig.fake.calls["token"] == 0


def test_a_one_time_link_survives_a_preview_and_works_once(rig: Rig) -> None:
    token = create_link("acme", rig.qbo.states)
    url = link_url(rig.url, "acme", token)
    assert requests.get(url, timeout=5).status_code == 200  # a link previewer
    assert requests.get(url, timeout=5).status_code == 200
    form = {"tenant": "acme", "link": token}
    first = requests.post(f"{rig.url}/qbo/connect", data=form, allow_redirects=False, timeout=5)
    assert first.status_code == 302
    assert first.headers["Location"].startswith(rig.fake.base_url + "/connect/oauth2?")
    again = requests.post(f"{rig.url}/qbo/connect", data=form, allow_redirects=False, timeout=5)
    assert again.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://attacker.example"}],
)
def test_a_foreign_page_cannot_press_the_link_button(rig: Rig, headers: dict[str, str]) -> None:
    # A page elsewhere auto-submitting a known link would skip the confirmation that names the
    # tenant and send the visitor's browser straight to Intuit's consent for that tenant.
    token = create_link("acme", rig.qbo.states)
    form = {"tenant": "acme", "link": token}
    url = f"{rig.url}/qbo/connect"
    forged = requests.post(url, data=form, headers=headers, allow_redirects=False, timeout=5)
    assert forged.status_code == 403 and "Location" not in forged.headers
    own = {"Sec-Fetch-Site": "same-origin", "Origin": rig.url}
    pressed = requests.post(url, data=form, headers=own, allow_redirects=False, timeout=5)
    assert pressed.status_code == 302  # the refused POST did not spend the link


def test_the_link_page_posts_back_under_the_stage_the_link_came_in_on() -> None:
    # On API Gateway the link is https://<api>/prod/qbo/connect?...: the button must post to
    # /prod/qbo/connect, not /qbo/connect (outside the stage: API Gateway answers 403).
    stage = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
    request = Request(
        "GET", "/qbo/connect", query={"tenant": "acme", "link": "tok"}, base_url=stage
    )
    reply = app_router().dispatch(request, Services())
    assert reply.status == 200
    assert 'action="/prod/qbo/connect"' in reply.body.decode()


def test_a_realm_held_by_another_tenant_is_refused_without_naming_it(rig: Rig) -> None:
    rig.qbo.local.tenants.create(Tenant(name="beta-corp", qbwc_user="beta", password_hash="x"))
    requests.get(rig.fake.approve(rig.start("beta-corp"), REALM), timeout=10)
    exchanged = rig.fake.calls["token"]
    # A company admin of acme (holding only acme's connect link) picks beta-corp's company.
    back = rig.fake.approve(rig.start("acme"), REALM)
    resp = requests.get(back, timeout=10)
    assert resp.status_code == 400 and REALM in resp.text
    assert "beta-corp" not in resp.text  # another customer's name is not the admin's to see
    assert rig.fake.calls["token"] == exchanged
    assert rig.qbo.connections.find_by_realm(REALM).tenant == "beta-corp"


@pytest.mark.parametrize("mode", ["wrong-key", "altered", None])
def test_bad_signatures_are_401_and_nothing_is_queued(rig: Rig, mode: str | None) -> None:
    sender = WebhookSender(f"{rig.url}/qbo/webhooks", TOKEN)
    event = Event("Customer", "1", "Update", rig.fake.now_datetime(), REALM)
    try:
        assert sender.send([event], signature=mode).status == 401
        assert rig.qbo.changes.depth() == 0
        assert sender.send([event]).status == 200
        assert rig.qbo.changes.depth() == 1
    finally:
        sender.close()


def test_disconnect_revokes_and_deletes(rig: Rig) -> None:
    requests.get(rig.fake.approve(rig.start(), REALM), timeout=10)
    url = f"{rig.url}/qbo/disconnect"
    assert requests.post(url, json={"tenant": "acme"}, timeout=5).status_code == 401
    resp = requests.post(url, json={"tenant": "acme"}, headers={HEADER: rig.key}, timeout=10)
    assert resp.status_code == 200 and resp.json() == {"tenant": "acme", "disconnected": True}
    assert rig.qbo.secrets.get(secret_name("acme")) is None
    assert rig.fake.oauth.live_refresh_tokens(REALM) == []


def test_demo_qbo_json_keys_and_records_in_zoho(tmp_path: Path, capsys) -> None:
    args = ["demo", "--qbo", "--json", "--no-progress", "--data-dir", str(tmp_path / "d")]
    small = ["--customers", "8", "--items", "3", "--invoices", "5", "--sales-orders", "0"]
    small += ["--estimates", "0", "--payments", "2"]
    assert cli.main(args + small) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["qbo_webhooks"] == 4 and out["qbo_cdc_records"] >= 1
    assert out["qbo_records"] > 0 and out["qbo_api_calls"] > 0
    # Desktop and Online records side by side, one ZOHO record each (no id collides).
    assert out["zoho_duplicates"] == 0 and out["records_queued"] > 0


def test_the_consoles_connect_button_leads_to_intuit(rig: Rig) -> None:
    """The console's Connect button: a POST with the session's CSRF token makes a one-time link
    and sends the browser to its page, whose button goes on to Intuit's consent."""
    from tests.integration.test_console import cookies_of, csrf_of

    form = requests.get(rig.url + "/console", timeout=5)
    nonce = cookies_of(form)[cs.LOGIN_COOKIE]
    login = requests.post(
        rig.url + "/console/login",
        data={"csrf": csrf_of(form.text), "key": rig.key},
        headers={"Cookie": f"{cs.LOGIN_COOKIE}={nonce}"},
        allow_redirects=False,
        timeout=5,
    )
    cookie = f"{cs.SESSION_COOKIE}={cookies_of(login)[cs.SESSION_COOKIE]}"
    status = requests.get(rig.url + "/console", headers={"Cookie": cookie}, timeout=5)
    assert "Connect QuickBooks Online" in status.text and "/console/qbo-connect" in status.text
    url = rig.url + "/console/qbo-connect"
    refused = requests.post(
        url, data={"tenant": "acme"}, headers={"Cookie": cookie}, allow_redirects=False, timeout=5
    )
    assert refused.status_code == 403
    pressed = requests.post(
        url,
        data={"tenant": "acme", "csrf": csrf_of(status.text)},
        headers={"Cookie": cookie},
        allow_redirects=False,
        timeout=5,
    )
    assert pressed.status_code == 303
    location = pressed.headers["Location"]
    assert location.startswith("/qbo/connect?tenant=acme&link=")
    token = location.rsplit("link=", 1)[1]
    landing = requests.get(rig.url + location, timeout=5)
    assert landing.status_code == 200 and "acme" in landing.text
    go = requests.post(
        rig.url + "/qbo/connect",
        data={"tenant": "acme", "link": token},
        allow_redirects=False,
        timeout=5,
    )
    assert go.status_code == 302 and go.headers["Location"].startswith(rig.fake.base_url)
