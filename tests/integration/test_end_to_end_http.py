"""End to end over HTTP on loopback: the fake Web Connector against a real `qbrelay serve`."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector, SoapFaultError
from tests.relay_process import Served, qbrelay, served_with_tenant

PASSWORD = "E2e-password-1"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = served_with_tenant(tmp_path / "relay", PASSWORD)
    yield server
    server.stop()


def test_full_session_over_http(served: Served) -> None:
    health = requests.get(served.base + "/health", timeout=5)
    assert health.headers["Content-Type"] == "application/json"
    assert json.loads(health.text)["status"] == "ok"
    company = FakeCompany(customers=1000, seed=7)
    qbwc = FakeWebConnector(served.base + "/qbwc")
    try:
        result = qbwc.run_session("acme-qbwc", PASSWORD, company)
    finally:
        qbwc.close()
    assert result.auth_status == ""
    assert result.last_error is None
    assert result.percents[-1] == 100 and result.percents == sorted(result.percents)
    # Items (none) with the deletions; the first page of customers (200: it shows their bytes
    # per record); the rest of them, the adapted page, with the first pages of the transactions
    # (none); then payments, which wait until the invoices are read whole.
    assert result.exchanges == 4
    assert result.close_message == "Synced 1,000 customers"
    assert result.calls[:3] == ["serverVersion", "clientVersion", "authenticate"]
    assert result.calls[-1] == "closeConnection"
    # The next update asks every entity for its changes in a single message set.
    qbwc = FakeWebConnector(served.base + "/qbwc")
    try:
        again = qbwc.run_session("acme-qbwc", PASSWORD, company)
    finally:
        qbwc.close()
    assert again.exchanges == 1 and again.last_error is None
    reread = re.fullmatch(r"No changes; ([\d,]+) records? re-read", again.close_message)
    assert reread, again.close_message
    # One customer changed and one deleted: the summary names them, the re-read count stays.
    first = company.customer_list[0].list_id
    second = next(
        c.list_id for c in company.customer_list[1:] if not company.data.references(c.list_id)
    )
    company.modify("Customer", first, name="Renamed by the test")
    company.delete("Customer", second)
    qbwc = FakeWebConnector(served.base + "/qbwc")
    try:
        third = qbwc.run_session("acme-qbwc", PASSWORD, company)
    finally:
        qbwc.close()
    assert re.fullmatch(
        r"Synced 1 changed customer, 1 deletion; [\d,]+ re-read unchanged", third.close_message
    ), third.close_message


def test_wsdl_is_served(served: Served) -> None:
    reply = requests.get(served.base + "/qbwc?wsdl", timeout=5)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/xml")
    assert f'location="{served.base}/qbwc"' in reply.text
    assert 'soapAction="http://developer.intuit.com/authenticate"' in reply.text


def test_bad_requests_get_faults_and_server_keeps_serving(served: Served) -> None:
    for body in [
        b"",
        b"<not-xml",
        b'<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>',
    ]:
        reply = requests.post(
            served.base + "/qbwc",
            data=body,
            timeout=10,
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        assert reply.status_code == 500, body[:20]
        assert reply.headers["Content-Type"].startswith("text/xml")
        assert "<faultstring>" in reply.text and "Traceback" not in reply.text
    # Over the size limit: waitress answers 413 from Content-Length before reading the body
    # (the price of not reading it is a plain-text reply instead of a SOAP Fault).
    reply = requests.post(served.base + "/qbwc", data=b"x" * (3 * 1024 * 1024), timeout=10)
    assert reply.status_code == 413 and "Traceback" not in reply.text
    qbwc = FakeWebConnector(served.base + "/qbwc")
    assert qbwc.call("serverVersion")
    with pytest.raises(SoapFaultError, match="Unknown operation"):
        qbwc.call("frobnicate")
    qbwc.close()


def test_connection_error_path(served: Served) -> None:
    qbwc = FakeWebConnector(served.base + "/qbwc")
    result = qbwc.run_session(
        "acme-qbwc",
        PASSWORD,
        FakeCompany(customers=5),
        connection_failure=("0x80040408", "Could not start QuickBooks."),
    )
    qbwc.close()
    assert result.connection_error_reply == "done"
    assert "0x80040408" in result.last_error


def test_wrong_password_is_nvu(served: Served) -> None:
    qbwc = FakeWebConnector(served.base + "/qbwc")
    result = qbwc.run_session("acme-qbwc", "wrong", FakeCompany(customers=5))
    qbwc.close()
    assert result.auth_status == "nvu" and result.exchanges == 0


def test_tenants_and_sessions_survive_a_restart(served: Served) -> None:
    qbwc = FakeWebConnector(served.base + "/qbwc")
    company = FakeCompany(customers=600)
    # Items (none), then the first page of customers.
    first = qbwc.run_session("acme-qbwc", PASSWORD, company, abandon_after=2)
    assert first.abandoned
    served.stop()
    served.start()
    # The abandoned session is still live in the store after the restart: the tenant is busy.
    again = qbwc.run_session("acme-qbwc", PASSWORD, company)
    assert again.auth_status == "busy"
    # ...and its ticket still works against the restarted process.
    request = qbwc.call(
        "sendRequestXML",
        [
            ("ticket", first.ticket),
            ("strHCPResponse", ""),
            ("strCompanyFileName", ""),
            ("qbXMLCountry", "US"),
            ("qbXMLMajorVers", 13),
            ("qbXMLMinorVers", 0),
        ],
    )
    assert 'iterator="Continue"' in request
    qbwc.close()
    listed = qbrelay("tenant", "list", "--data-dir", str(served.data_dir))
    # The Web Connector's clientVersion, tied to the tenant by its address at authenticate.
    assert "acme" in listed.stdout and f"qbwc={qbwc.version}" in listed.stdout


def test_demo_json(tmp_path: Path) -> None:
    counts = ["--customers", "1000", "--items", "20", "--invoices", "300", "--sales-orders", "0"]
    counts += ["--estimates", "0", "--payments", "50"]
    demo = ["demo", *counts, "--data-dir", str(tmp_path / "d"), "--json"]
    proc = qbrelay(*demo)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    # The invoices the 50 payments touch are read again by id after them; unchanged, they are
    # not queued a second time.
    reread = out["records_received"] - 1370
    assert 0 < reread <= 50 and out["records_queued"] == 1370
    assert out["records_unchanged"] == reread and out["errors"] == 0
    # A real audit after forwarding: ZOHO holds exactly what QuickBooks has.
    assert (out["audit_missing"], out["audit_stale"], out["audit_unknown"]) == (0, 0, 0)
    assert out["audit_deleted_active"] == 0 and out["audit_credits"] > 0
    keys = {"exchanges", "records_received", "records_queued", "records_unchanged", "errors"}
    assert keys | {"seconds", "zoho_calls", "zoho_records"} <= set(out)
    # Every simulated record is in the fake ZOHO once; payments become invoice statuses.
    assert out["zoho_records"] == 1320 and out["zoho_duplicates"] == 0
    assert os.path.exists(tmp_path / "d" / "relay.sqlite3")
    # The same company again: nothing new is queued, and ZOHO is not called.
    again = json.loads(qbrelay(*demo).stdout)
    assert again["records_queued"] == 0 and again["zoho_calls"] == 0
    assert again["exchanges"] == 1 and again["zoho_records"] == 1320
    bad = qbrelay("demo", "--invoices", "-1", "--data-dir", str(tmp_path / "e"))
    assert bad.returncode != 0 and "--invoices must be 0 or more" in bad.stderr
