"""Issue 16's done-when: ``qbrelay demo --writeback N`` and ``demo --qbo --writeback N`` write
N customers and N/5 invoices, none failed, and a second run over the same data writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lambdas.local import cli
from lambdas.local.demo_zoho import FAKE_STATE
from sim.fake_zoho import FakeZoho

SMALL = ["--customers", "8", "--items", "6", "--invoices", "5", "--sales-orders", "0"]
SMALL += ["--estimates", "0", "--payments", "2", "--json", "--no-progress"]
KEYS = ("writeback_added", "writeback_invoices", "writeback_failed")


def run(capsys, data: Path, *flags: str) -> dict:
    assert cli.main(["demo", "--data-dir", str(data), *flags, *SMALL]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("online", [False, True], ids=["desktop", "online"])
def test_demo_writes_back_once(tmp_path: Path, capsys, online: bool) -> None:
    data = tmp_path / "d"
    flags = ["--writeback", "10", *(["--qbo"] if online else [])]
    first = run(capsys, data, *flags)
    assert {k: first[k] for k in KEYS} == {
        "writeback_added": 10,
        "writeback_invoices": 2,
        "writeback_failed": 0,
    }
    assert first["writeback_seeded"] == 10 and first["writeback_echo_ops"] == 0
    assert first["zoho_duplicates"] == 0 and first["last_error"] is None
    # ZOHO holds the QuickBooks ids: each seeded account its customer's, each won deal its
    # invoice's TxnID and number, all marked Synced.
    fake = FakeZoho()
    fake.load(data / FAKE_STATE)
    prefix = "CRM Online Account" if online else "CRM Demo Account"
    seeded = [a for a in fake.all("Accounts") if str(a.get("Account_Name")).startswith(prefix)]
    assert len(seeded) == 10
    assert all(a.get("QB_ListID") and a.get("QB_Sync_Status") == "Synced" for a in seeded)
    deals = fake.all("Deals")
    assert len(deals) == 2
    assert all(d.get("QB_TxnID") and d.get("QB_RefNumber") for d in deals)
    assert all(d.get("QB_Sync_Status") == "Synced" for d in deals)

    second = run(capsys, data, *flags)
    assert {k: second[k] for k in KEYS} == dict.fromkeys(KEYS, 0)
    assert second["writeback_captured"] == 0 and second["writeback_seeded"] == 0
    again = FakeZoho()
    again.load(data / FAKE_STATE)
    assert len(again.all("Accounts")) == len(fake.all("Accounts"))
    assert len(again.all("Invoices")) == len(fake.all("Invoices"))


def test_a_demo_without_writeback_leaves_it_off(tmp_path: Path, capsys) -> None:
    out = run(capsys, tmp_path / "d")
    assert not [k for k in out if k.startswith("writeback_")]
