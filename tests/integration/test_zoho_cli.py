"""``qbrelay zoho …`` and the demo's ZOHO leg, against the fake ZOHO CRM on loopback."""

from __future__ import annotations

import io
import json
import math
import stat

import pytest

from lambdas.local.cli import main
from lambdas.local.demo import run_demo
from lambdas.local.demo_zoho import DemoTargetError
from lambdas.store.ports import QueueMessage
from lambdas.store.sqlite import SqliteDatabase, SqliteRecordQueue
from sim.fake_company import FakeCompany
from sim.fake_zoho import FakeZoho, FakeZohoServer, standard_modules
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv, customer, message


def set_credentials(monkeypatch, data_dir, url: str, tenant: str = "acme") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SECRET}\n{REFRESH}\n"))
    return main(
        [
            "zoho",
            "set-credentials",
            "--tenant",
            tenant,
            "--data-centre",
            "eu",
            "--client-id",
            CLIENT_ID,
            "--accounts-url",
            url,
            "--data-dir",
            str(data_dir),
        ]
    )


def test_set_credentials_reads_secrets_from_stdin_only(monkeypatch, tmp_path, capsys) -> None:
    assert set_credentials(monkeypatch, tmp_path, "http://127.0.0.1:9") == 0
    out = capsys.readouterr().out
    assert SECRET not in out and REFRESH not in out and "data centre eu" in out
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())["zoho/acme"]
    assert stored == {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "refresh_token": REFRESH,
        "data_centre": "eu",
        "accounts_url": "http://127.0.0.1:9",
    }
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{SECRET}\n"))
    with pytest.raises(SystemExit, match="refresh token"):
        main(
            [
                "zoho",
                "set-credentials",
                "--tenant",
                "b",
                "--data-centre",
                "ca",
                "--client-id",
                "x",
                "--data-dir",
                str(tmp_path),
            ]
        )
    with pytest.raises(SystemExit, match="https"):
        main(
            [
                "zoho",
                "set-credentials",
                "--tenant",
                "b",
                "--data-centre",
                "ca",
                "--client-id",
                "x",
                "--accounts-url",
                "http://zoho.example.com",
                "--data-dir",
                str(tmp_path),
            ]
        )


def test_check_passes_on_a_prepared_organisation(zoho: ZohoEnv, monkeypatch, tmp_path, capsys):
    set_credentials(monkeypatch, tmp_path, zoho.url)
    capsys.readouterr()
    assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ok      credentials" in out and "MISSING" not in out and "Ready" in out
    assert "ok      field Invoices.QB_TxnID" in out


def test_check_says_what_to_create(monkeypatch, tmp_path, capsys) -> None:
    fake = FakeZoho(modules=standard_modules(with_qb_fields=False, inventory=False))
    fake.add_client(CLIENT_ID, SECRET, REFRESH)
    with FakeZohoServer(fake) as server:
        set_credentials(monkeypatch, tmp_path, server.url)
        capsys.readouterr()
        assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "MISSING module Invoices" in out and "MISSING module Sales_Orders" in out
    assert '{"entities": {"Invoice": null}}' in out
    line = next(x for x in out.splitlines() if "MISSING field Accounts.QB_ListID" in x)
    assert "Single Line" in line and "'QB ListID'" in line and "Set External field" in line
    line = next(x for x in out.splitlines() if "MISSING field Accounts.QB_Active" in x)
    assert "Checkbox" in line
    assert (
        "MISSING field Products.QB_ListID" in out and "ok      field Products.Product_Name" in out
    )


def test_check_reports_bad_credentials(zoho: ZohoEnv, monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("wrong\nwrong\n"))
    main(
        [
            "zoho",
            "set-credentials",
            "--tenant",
            "acme",
            "--data-centre",
            "com",
            "--client-id",
            CLIENT_ID,
            "--accounts-url",
            zoho.url,
            "--data-dir",
            str(tmp_path),
        ]
    )
    assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "MISSING credentials" in out and "invalid_client_secret" in out
    with pytest.raises(SystemExit, match="set-credentials"):
        main(["zoho", "check", "--tenant", "nobody", "--data-dir", str(tmp_path)])


def test_mapping_files_are_validated_before_they_are_stored(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"entities": {"Item": {"module": "Produkte"}}}))
    with pytest.raises(SystemExit, match="'Produkte'"):
        main(
            [
                "zoho",
                "set-mapping",
                "--tenant",
                "acme",
                "--file",
                str(bad),
                "--data-dir",
                str(tmp_path),
            ]
        )
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"entities": {"Item": None}}))
    assert (
        main(
            [
                "zoho",
                "set-mapping",
                "--tenant",
                "acme",
                "--file",
                str(good),
                "--data-dir",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert (
        main(["zoho", "set-mapping", "--tenant", "acme", "--clear", "--data-dir", str(tmp_path)])
        == 0
    )


def test_forward_status_and_resume(zoho: ZohoEnv, monkeypatch, tmp_path, capsys) -> None:
    set_credentials(monkeypatch, tmp_path, zoho.url)
    queue = SqliteRecordQueue(SqliteDatabase.in_dir(tmp_path))
    records = [customer(1), customer(2, phone="5" * 40)]
    queue.send([QueueMessage("acme", message(r), str(i)) for i, r in enumerate(records)])
    capsys.readouterr()
    assert main(["zoho", "forward", "--json", "--data-dir", str(tmp_path)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["applied"], result["parked"], result["zoho_calls"]) == (1, 1, 2)
    assert result["zoho_token_calls"] == 1
    assert main(["zoho", "status", "--tenant", "acme", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Forwarding is running" in out and "INVALID_DATA" in out and "Parked messages" in out
    assert main(["zoho", "resume", "--tenant", "acme", "--data-dir", str(tmp_path)]) == 0


def customers_only(n: int) -> dict[str, int]:
    """Demo counts for a company of ``n`` customers and nothing else."""
    none = ("items", "invoices", "sales_orders", "estimates", "sales_receipts", "payments")
    return {"customers": n, **dict.fromkeys(none, 0), "credit_memos": 0}


def test_demo_forwards_every_record_once_to_the_fake(tmp_path) -> None:
    first = run_demo(tmp_path, **customers_only(150)).to_json()
    assert first["records_queued"] == 150
    assert first["zoho_records"] == 150 and first["zoho_duplicates"] == 0
    assert first["zoho_modules"] == {"Accounts": 150, "Contacts": 150}
    # The token, then Accounts and Contacts in full calls of 100: the jobs (one level or more
    # below their parents) fill the calls their parents leave part full.
    levels = {c.list_id: c.parent_id for c in FakeCompany(**customers_only(150)).customer_list}
    assert any(levels.values())  # there are jobs
    assert first["zoho_calls"] == 1 + 2 * math.ceil(150 / 100)
    assert first["zoho_parked"] == 0 and first["queue_depth"] == 0
    again = run_demo(tmp_path, **customers_only(150)).to_json()
    assert again["zoho_calls"] == 0 and again["zoho_records"] == 150
    # The relay itself holds back unchanged records: nothing reaches the forwarder.
    assert again["records_queued"] == 0 and again["zoho_unchanged"] == 0


def test_demo_through_the_real_client_to_an_endpoint(tmp_path, monkeypatch, zoho: ZohoEnv):
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH)
    result = run_demo(tmp_path / "real", **customers_only(20), zoho_accounts_url=zoho.url).to_json()
    assert result["zoho_target"] == zoho.url and result["zoho_records"] == 20
    assert len(zoho.fake.all("Accounts")) == 20
    with pytest.raises(DemoTargetError, match="already holds"):
        run_demo(tmp_path / "real", **customers_only(20))
    with pytest.raises(DemoTargetError, match="https"):
        run_demo(
            tmp_path / "other", **customers_only(1), zoho_accounts_url="http://zoho.example.com"
        )
    monkeypatch.delenv("ZOHO_REFRESH_TOKEN")
    with pytest.raises(DemoTargetError, match="ZOHO_REFRESH_TOKEN"):
        run_demo(tmp_path / "third", **customers_only(1), zoho_accounts_url=zoho.url)
