"""README's "Try it" walkthrough of a parked failure, step by step with the real CLI: a demo whose
fake ZOHO refuses three estimates, their status from ``qbrelay status``, ``failures list``, the
status API and the console of a real ``qbrelay serve --no-forward`` on loopback, a re-drive
through the API, and the next demo run delivering them.

The company is the demo's, smaller (README's 8080 is illustrative: the server takes port 0).
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from lambdas.http import console_session as cs
from lambdas.local.cli import main
from sim.fake_zoho import FakeZoho
from tests.integration.test_console import csrf_of, sign_in

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--customers", "30", "--items", "8", "--invoices", "12", "--sales-orders", "3"]
SMALL += ["--estimates", "6", "--payments", "5"]
SERVING = re.compile(r"serving SOAP at (http://127\.0\.0\.1:\d+)/qbwc")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """``qbrelay ARGV`` in this process; its standard output (exit 0 asserted)."""
    capsys.readouterr()
    assert main(list(argv)) == 0, argv
    return capsys.readouterr().out


def parked_column(status_out: str) -> str:
    """The PARKED cell of the demo tenant's row in ``qbrelay status``."""
    header, *rows = [line.split("  ") for line in status_out.splitlines() if line.strip()]
    cells = [[c.strip() for c in r if c.strip()] for r in (header, *rows)]
    (demo,) = [r for r in cells[1:] if r[0] == "demo"]
    return demo[cells[0].index("PARKED")]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[[Path], str]]:
    """Start ``qbrelay serve --data-dir D --no-forward`` on 127.0.0.1:0; stopped afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(folder: Path) -> str:
        flags = ["--host", "127.0.0.1", "--port", "0", "--no-forward", "--no-progress"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "lambdas.local.cli", "serve", "--data-dir", str(folder), *flags],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "QBRELAY_PUBLIC_URL": ""},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(proc)
        deadline = time.monotonic() + 20
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
                found = SERVING.search(line)
                if found:
                    return found.group(1)
                assert line, f"serve exited: {proc.stderr.read() if proc.stderr else ''}"
        raise AssertionError("qbrelay serve did not start within 20 s")

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_readme_walkthrough_parks_shows_and_redrives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], serve: Callable[[Path], str]
) -> None:
    folder = str(tmp_path / "qbrelay-park")
    d = ["--data-dir", folder]

    # qbrelay demo --data-dir D --reject 3: the fake ZOHO refuses three estimates.
    out = run(capsys, "demo", *SMALL, *d, "--reject", "3", "--no-progress")
    assert "3 parked" in out and "refused 3 estimate(s) with MANDATORY_NOT_FOUND" in out
    assert f"qbrelay failures redrive --data-dir {folder}" in out
    fake = FakeZoho()
    fake.load(Path(folder) / "fake-zoho.json")
    assert len(fake.all("Quotes")) == 6 - 3

    # qbrelay status: PARKED 3.
    assert parked_column(run(capsys, "status", *d)) == "3"

    # qbrelay failures list: the three estimates with ZOHO's code.
    listed = run(capsys, "failures", "list", *d)
    assert "Parked records (up to 100): 3" in listed and "Dead letters (up to 100): 3" in listed
    parked_ids = re.findall(r"demo Estimate (\S+): \[ZOHO_MANDATORY_NOT_FOUND\]", listed)
    assert len(parked_ids) == 3

    # qbrelay apikey create: the key, shown once, on its own line.
    created = run(capsys, "apikey", "create", "--name", "me", *d).splitlines()
    key = created[1].strip()
    assert created[0].startswith("Created API key") and key

    # qbrelay serve --no-forward, then the status API with and without the key.
    base = serve(Path(folder))
    bare = requests.get(base + "/api/v1/tenants", timeout=10)
    assert bare.status_code == 401 and "demo" not in bare.text
    wrong = requests.get(base + "/api/v1/failures", headers={"X-API-Key": key + "x"}, timeout=10)
    assert wrong.status_code == 401 and "Estimate" not in wrong.text
    auth = {"X-API-Key": key}
    tenants = requests.get(base + "/api/v1/tenants", headers=auth, timeout=10)
    assert tenants.status_code == 200
    (demo,) = [t for t in tenants.json()["tenants"] if t["tenant"] == "demo"]
    assert demo["counts"]["parked"] == 3
    failures = requests.get(base + "/api/v1/failures", headers=auth, timeout=10).json()
    assert sorted(m["source_id"] for m in failures["parked"]) == sorted(parked_ids)
    assert {m["error"]["code"] for m in failures["parked"]} == {"ZOHO_MANDATORY_NOT_FOUND"}

    # The console, signed in with the key: the parked records and a Re-drive button.
    login, cookie = sign_in(SimpleNamespace(base=base), key)
    assert login.status_code == 303 and cookie != f"{cs.SESSION_COOKIE}="
    page = requests.get(base + "/console", headers={"Cookie": cookie}, timeout=10)
    assert page.status_code == 200 and csrf_of(page.text)
    assert all(source_id in page.text for source_id in parked_ids)
    assert "Re-drive demo</button>" in page.text and "warning" in page.text

    # Re-drive through the API: the letters go back onto the record queue.
    redriven = requests.post(
        base + "/api/v1/failures/redrive", json={"tenant": "demo"}, headers=auth, timeout=10
    )
    assert redriven.status_code == 200 and redriven.json()["redriven"] == 3

    # qbrelay demo again: nothing new from QuickBooks, the three re-driven estimates delivered.
    again = json.loads(run(capsys, "demo", *SMALL, *d, "--json", "--no-progress"))
    assert (again["records_queued"], again["zoho_parked"], again["zoho_refused"]) == (0, 0, 0)
    assert again["zoho_unchanged"] == 0 and again["audit_missing"] == 0
    fake.load(Path(folder) / "fake-zoho.json")
    assert len(fake.all("Quotes")) == 6 and fake.duplicates("Quotes", "QB_TxnID") == 0
    assert parked_column(run(capsys, "status", *d)) == "0"
    assert "Parked records (up to 100): 0" in run(capsys, "failures", "list", *d)
