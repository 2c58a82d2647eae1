"""The status API and per-dependency health over real HTTP on loopback (``qbrelay serve``'s
wiring): every route refuses a missing, wrong or revoked key with the one fixed 401 body, and
answers a valid key with the status core's shapes; each action does what the CLI's does."""

from __future__ import annotations

import json
import time

import pytest

from lambdas.http.routes import app_router
from lambdas.model.envelope import Envelope
from lambdas.ops.api_keys import UNAUTHORIZED_BODY, create_key
from lambdas.qbo.connections import NEEDS_RECONNECT, QboConnection
from lambdas.qbwc.relay import QbwcRelay
from lambdas.store.ports import DeliveryStatus
from lambdas.store.sqlite import SqliteQboConnectionStore
from lambdas.sync.engine import SyncEngine
from lambdas.zoho.auth import secret_name
from tests.integration.ops_rig import OpsRig
from tests.integration.test_tenant_purge_commands import PASSWORD
from tests.integration.zoho_helpers import ZohoEnv

API = [(m, r.path) for r in app_router().routes for m in r.methods if r.path.startswith("/api/v1/")]
WRONG = "qbr_0123456789abcdef_" + "A" * 43


def concrete(path: str) -> str:
    return path.replace("{tenant}", "shop")


def call(rig: OpsRig, method: str, path: str, key: str | None):
    if method == "GET":
        return rig.get(concrete(path), key, params={"qb_id": "x"} if "mappings" in path else None)
    return rig.post(concrete(path), key, json={})


def assert_refused(reply) -> None:
    assert reply.status_code == 401
    assert reply.json() == UNAUTHORIZED_BODY
    assert "shop" not in reply.text and "Customer" not in reply.text
    assert reply.headers["Cache-Control"] == "no-store"


def test_every_status_route_is_guarded() -> None:
    from lambdas.http.ops_common import api_key_guard

    assert len(API) == 10
    for route in app_router().routes:
        if route.path.startswith("/api/"):
            assert route.guard is api_key_guard and route.function == "ops", route.path


def test_no_wrong_or_revoked_key_is_refused_with_nothing_revealed(rig: OpsRig) -> None:
    revoked, row = create_key(rig.keys, "old", time.time())
    assert rig.get("/api/v1/tenants", revoked).status_code == 200
    assert rig.keys.delete(row.key_id)
    before = rig.data.tenants.get("shop")
    for method, path in API:
        for key in (None, "", WRONG, rig.key + "x", revoked):
            assert_refused(call(rig, method, path, key))
    # Nothing was acted on: the refused pause left the tenant as it was.
    assert rig.data.tenants.get("shop") == before


def test_reads_with_a_valid_key(rig: OpsRig) -> None:
    overview = rig.get("/api/v1/tenants", rig.key)
    assert overview.status_code == 200 and overview.headers["Cache-Control"] == "no-store"
    (shop,) = overview.json()["tenants"]
    assert shop["tenant"] == "shop" and shop["health"] == "warning"
    assert shop["counts"]["parked"] == 1 and shop["last_run"]["status"] == "completed"

    one = rig.get("/api/v1/tenants/shop", rig.key).json()
    assert one["tenant"] == "shop" and one["last_run"]["entities"]["Customer"]["received"] == 30

    runs = rig.get("/api/v1/tenants/shop/runs", rig.key, params={"limit": 5}).json()
    assert runs["tenant"] == "shop" and len(runs["runs"]) == 1
    assert runs["runs"][0]["entities"]["Item"]["queued"] == 6

    parked = rig.get("/api/v1/failures", rig.key, params={"tenant": "shop"}).json()["parked"]
    (p,) = parked
    assert p["source_id"] == rig.parked.source_id
    assert p["error"]["code"] == "ZOHO_MANDATORY_NOT_FOUND"
    assert p["error"]["user_message"] and p["error"]["docs"].startswith("README.md#")

    qb = rig.get(
        "/api/v1/tenants/shop/mappings",
        rig.key,
        params={"qb_id": rig.parked.source_id, "entity": "Customer"},
    ).json()["mappings"]
    assert [m["source_id"] for m in qb] == [rig.parked.source_id]
    delivered = next(m for m in rig.data.mappings.scan("shop") if m.zoho_id and m.entity == "Item")
    by_zoho = rig.get(
        "/api/v1/tenants/shop/mappings",
        rig.key,
        params={"zoho_id": delivered.zoho_id, "zoho_module": delivered.zoho_module},
    ).json()["mappings"]
    assert [m["source_id"] for m in by_zoho] == [delivered.source_id]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/api/v1/tenants/ghost", None, 404, "API_NOT_FOUND"),
        ("/api/v1/tenants/ghost/runs", None, 404, "API_NOT_FOUND"),
        ("/api/v1/tenants/shop/runs", {"limit": "lots"}, 400, "API_BAD_REQUEST"),
        ("/api/v1/tenants/shop/runs", {"limit": "0"}, 400, "API_BAD_REQUEST"),
        ("/api/v1/tenants/shop/mappings", None, 400, "API_BAD_REQUEST"),
        ("/api/v1/tenants/shop/mappings", {"qb_id": "1", "entity": "Nope"}, 400, "API_BAD_REQUEST"),
        ("/api/v1/failures", {"tenant": "ghost"}, 404, "API_NOT_FOUND"),
    ],
)
def test_errors_come_in_the_one_shape(rig: OpsRig, path, params, status, code) -> None:
    reply = rig.get(path, rig.key, params=params)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "user_message", "retryable", "docs"}


def test_action_bodies_are_checked_and_bounded(rig: OpsRig) -> None:
    pause = "/api/v1/tenants/shop/pause"
    for body, status in (
        (b"not json", 400),
        (b"[1]", 400),
        (json.dumps({"reason": 5}).encode(), 400),
        (json.dumps({"surprise": True}).encode(), 400),
        (json.dumps({"reason": "x" * 9000}).encode(), 413),
    ):
        reply = rig.post(pause, rig.key, data=body, headers={"Content-Type": "application/json"})
        assert reply.status_code == status, body[:20]
        assert reply.json()["error"]["code"] == "API_BAD_REQUEST"
    assert rig.data.tenants.get("shop").paused is False


def test_pause_resume_and_resync(rig: OpsRig) -> None:
    paused = rig.post("/api/v1/tenants/shop/pause", rig.key, json={"reason": "month end"})
    assert paused.status_code == 200 and paused.json()["paused"] is True
    tenant = rig.data.tenants.get("shop")
    assert tenant.paused and tenant.paused_reason == "month end"
    assert rig.get("/api/v1/tenants/shop", rig.key).json()["health"] == "paused"
    resumed = rig.post("/api/v1/tenants/shop/resume", rig.key)
    assert resumed.json()["paused"] is False and not rig.data.tenants.get("shop").paused

    assert rig.data.state.get_all("shop")["Customer"].watermark  # the session left one
    resync = rig.post("/api/v1/tenants/shop/resync", rig.key, json={"entities": ["customer"]})
    assert resync.status_code == 200
    assert resync.json()["reset"] == ["Customer"]
    watermarks = rig.data.state.get_all("shop")
    assert watermarks["Customer"].watermark is None and watermarks["Item"].watermark
    bad = rig.post("/api/v1/tenants/shop/resync", rig.key, json={"entities": ["Nope"]})
    assert bad.status_code == 400
    # Refused while a Web Connector session runs (409, says what to do).
    data = rig.data
    relay = QbwcRelay(
        data.tenants,
        data.sessions,
        SyncEngine(data.state, data.mappings, rig.target.queue),
        data.runs,
    )
    assert relay.authenticate("shop", PASSWORD)[1] == ""
    busy = rig.post("/api/v1/tenants/shop/resync", rig.key, json={})
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "API_ACTION_REFUSED"
    assert "session running" in busy.json()["error"]["message"]


def test_redrive_moves_the_parked_record_back(rig: OpsRig) -> None:
    assert rig.target.queue.receive(10) == []
    reply = rig.post("/api/v1/failures/redrive", rig.key, json={"tenant": "shop", "confirm": True})
    assert reply.status_code == 200
    assert reply.json() == {"redriven": 1, "left_parked_unreadable": 0, "awaiting_confirmation": 0}
    (message,) = rig.target.queue.receive(10)
    assert Envelope.from_json(message.message.body).source_id == rig.parked.source_id
    again = rig.post("/api/v1/failures/redrive", rig.key, json={})
    assert again.json()["redriven"] == 0
    ghost = rig.post("/api/v1/failures/redrive", rig.key, json={"tenant": "ghost"})
    assert ghost.status_code == 404


def test_audit_without_credentials_is_refused_then_runs_against_zoho(
    rig: OpsRig, zoho: ZohoEnv
) -> None:
    refused = rig.post("/api/v1/tenants/shop/audit", rig.key, json={})
    assert refused.status_code == 409
    assert "qbrelay zoho" in refused.json()["error"]["message"]

    rig.data.secrets().put(secret_name("shop"), zoho.credentials().to_secret())
    reply = rig.post("/api/v1/tenants/shop/audit", rig.key, json={})
    assert reply.status_code == 200, reply.text
    report = reply.json()
    # The fake ZOHO holds none of the delivered records: every mapping is missing there.
    assert report["tenant"] == "shop" and report["audit_missing"] > 0
    assert rig.data.audits.last("shop")[0]["drift"] == report["drift"]


# --- health ----------------------------------------------------------------------------------


def test_health_without_a_key_names_nothing(rig: OpsRig) -> None:
    for name in ("sync", "zoho", "qbo"):
        for key in (None, WRONG):
            reply = rig.get(f"/health/{name}", key)
            assert reply.status_code == 200
            assert set(reply.json()) == {"status"}, name
            assert "shop" not in reply.text
    assert rig.get("/health").json()["status"] == "ok"


def test_health_details_with_a_key(rig: OpsRig) -> None:
    sync = rig.get("/health/sync", rig.key).json()
    assert sync["status"] == "degraded"  # one parked record
    (row,) = sync["tenants"]
    assert row["tenant"] == "shop" and row["parked"] == 1 and row["last_seen_at"]

    zoho = rig.get("/health/zoho", rig.key).json()
    assert zoho["status"] == "degraded" and zoho["tenants"][0]["credentials"] == "missing"

    assert rig.get("/health/qbo", rig.key).json() == {"status": "ok", "tenants": []}
    now = time.time()
    store = SqliteQboConnectionStore(rig.db)
    store.connect(
        QboConnection(
            "shop",
            "9130",
            access_expires_at=now + 3000,
            refresh_expires_at=now + 90 * 86400,
            refresh_hard_expires_at=now + 400 * 86400,
            connected_at=now - 86400,
            last_success_at=now - 60,
        )
    )
    qbo = rig.get("/health/qbo", rig.key).json()
    assert qbo["status"] == "ok"
    (conn,) = qbo["tenants"]
    assert conn["status"] == "connected" and conn["days_to_hard_expiry"] == pytest.approx(400, 0.01)
    assert conn["days_to_reconnect"] == pytest.approx(90, 0.01) and conn["warning"] is None
    store.mark("shop", NEEDS_RECONNECT, "invalid_grant")
    assert rig.get("/health/qbo").json() == {"status": "degraded"}
    assert rig.get("/health/qbo", rig.key).json()["tenants"][0]["status"] == NEEDS_RECONNECT


def test_parked_rows_are_what_the_status_core_reads(rig: OpsRig) -> None:
    # The API's parked list is the mapping store's, not a copy.
    (m,) = rig.data.mappings.list("shop", DeliveryStatus.PARKED, 10)
    listed = rig.get("/api/v1/failures", rig.key).json()["parked"]
    assert [x["source_id"] for x in listed] == [m.source_id]
