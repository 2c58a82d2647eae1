"""A generated .qwc file drives a real session, and its AppSupport page answers 200.

Locally through ``qbrelay serve`` over HTTP on loopback, and through the Lambda handler under moto.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from lxml import etree
from moto import mock_aws

from lambdas.handlers import qbwc_api
from lambdas.store.dynamo import DynamoTenantStore
from lambdas.store.ports import Tenant
from lambdas.store.sqlite import SqliteDatabase, SqliteTenantStore
from qwc import new_guid
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from tests.aws_tables import create_pk_table
from tests.lambda_context import LambdaContext
from tests.relay_process import Served, qbrelay, served_with_tenant

PASSWORD = "Round-trip-password-1"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = served_with_tenant(tmp_path / "relay", PASSWORD)
    yield server
    server.stop()


def _loopback(url: str) -> str:
    # The file names localhost (QBWC accepts plain http only there); the test talks to 127.0.0.1.
    return url.replace("://localhost:", "://127.0.0.1:", 1)


def test_qwc_file_round_trips_through_authenticate(served: Served, tmp_path: Path) -> None:
    out = tmp_path / "acme.qwc"
    made = qbrelay(
        "qwc",
        "--tenant",
        "acme",
        "--url",
        f"http://localhost:{served.port}/qbwc",
        "--out",
        str(out),
        "--data-dir",
        str(served.data_dir),
    )
    assert made.returncode == 0, made.stderr
    qwc = etree.fromstring(out.read_bytes(), etree.XMLParser(resolve_entities=False))

    # OwnerID and FileID in the file are the stored ones (what the HCP check compares with).
    store = SqliteTenantStore(SqliteDatabase.in_dir(served.data_dir))
    tenant = store.get("acme")
    assert qwc.findtext("OwnerID") == store.deployment_owner_id()
    assert qwc.findtext("FileID") == tenant.file_id

    # The Web Connector authenticates with the file's UserName and syncs a company file that
    # carries the file's FileID under its OwnerID (QBWC stamps it on import): the HCP check
    # recognises it. Another .qwc's FileID in those books is refused.
    owner, file_id = qwc.findtext("OwnerID"), qwc.findtext("FileID")
    books = FakeCompany(customers=30, owner_id=owner, file_id=file_id)
    connector = FakeWebConnector(_loopback(qwc.findtext("AppURL")), owner_id=owner)
    try:
        result = connector.run_session(qwc.findtext("UserName"), PASSWORD, books)
        wrong = connector.run_session(qwc.findtext("UserName"), "not-the-password", FakeCompany())
        books.file_id = new_guid()
        other = connector.run_session(qwc.findtext("UserName"), PASSWORD, books)
    finally:
        connector.close()
    assert result.auth_status == "" and result.last_error is None
    assert result.close_message == "Synced 30 customers"
    assert wrong.auth_status == "nvu"
    assert other.exchanges == 0 and "belongs to another .qwc" in (other.last_error or "")

    # AppSupport answers 200 with the tenant's last sync, and nothing secret.
    page = requests.get(_loopback(qwc.findtext("AppSupport")), timeout=5)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    synced = store.get("acme").last_sync_at
    assert synced is not None and "Last completed sync" in page.text and "never" not in page.text
    assert tenant.password_hash not in page.text and "scrypt" not in page.text


def test_support_routes_over_http(served: Served) -> None:
    store = SqliteTenantStore(SqliteDatabase.in_dir(served.data_dir))
    tenant = store.get("acme")
    tenant.last_summary = 'Synced 3 customers <script>alert("x")</script>'
    store.update(tenant)
    general = requests.get(served.base + "/support", timeout=5)
    assert general.status_code == 200 and "acme" not in general.text
    page = requests.get(f"{served.base}/support/{tenant.file_id[1:-1].lower()}", timeout=5)
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert html.escape(tenant.last_summary) in page.text
    for path in (f"/support/{new_guid()[1:-1]}", "/support/not-a-guid", "/support/a/b"):
        assert requests.get(served.base + path, timeout=5).status_code == 404, path
    refused = requests.post(served.base + "/support", data=b"x", timeout=5)
    assert refused.status_code == 405


# --- the Lambda handler --------------------------------------------------------------------


@pytest.fixture
def tenants(monkeypatch) -> Iterator[DynamoTenantStore]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # The support pages need the tenants table only.
    for name in ("QBRELAY_SESSIONS_TABLE", "QBRELAY_RECORD_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QBRELAY_TENANTS_TABLE", "tenants")
    with mock_aws():
        ddb = boto3.client("dynamodb")
        create_pk_table(ddb, "tenants")
        qbwc_api.tenant_store.cache_clear()
        qbwc_api.endpoint.cache_clear()
        yield DynamoTenantStore(ddb, "tenants")
        qbwc_api.tenant_store.cache_clear()


def event(method: str, path: str, resource: str) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "queryStringParameters": None,
        "requestContext": {"stage": "prod", "path": "/prod" + path, "requestId": "r-1"},
        "body": None,
        "isBase64Encoded": False,
    }


def test_support_pages_through_the_handler(tenants: DynamoTenantStore) -> None:
    tenant = Tenant(
        name="acme",
        qbwc_user="acme-qbwc",
        password_hash="scrypt$secret-hash",
        company_file=r"C:\Users\bob\Acme.QBW",
        last_sync_at=1_767_225_600.0,
        last_summary="Synced 1,204 customers & 3 <errors>",
        file_id=new_guid(),
    )
    tenants.create(tenant)
    bare = tenant.file_id[1:-1]

    reply = qbwc_api.handler(
        event("GET", f"/support/{bare}", "/support/{file_id}"), LambdaContext()
    )
    assert reply["statusCode"] == 200
    assert reply["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert reply["headers"]["Cache-Control"] == "no-store"
    body = reply["body"]
    assert "Synced 1,204 customers &amp; 3 &lt;errors&gt;" in body
    assert "2026-01-01 00:00 UTC" in body
    assert "secret-hash" not in body and "bob" not in body

    general = qbwc_api.handler(event("GET", "/support", "/support"), LambdaContext())
    assert general["statusCode"] == 200 and "acme" not in general["body"]
    unknown = event("GET", f"/support/{new_guid()[1:-1]}", "/support/{file_id}")
    assert qbwc_api.handler(unknown, LambdaContext())["statusCode"] == 404
    junk = event("GET", "/support/..%2F", "/support/{file_id}")
    assert qbwc_api.handler(junk, LambdaContext())["statusCode"] == 404
    posted = qbwc_api.handler(event("POST", "/support", "/support"), LambdaContext())
    assert posted["statusCode"] == 405
