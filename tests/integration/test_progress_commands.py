"""Progress of ``qbrelay demo`` and ``qbrelay audit``: a bar on a terminal (a real pty), plain
lines otherwise, and ``demo --json`` still exactly one JSON object on standard output."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from lambdas.local.cli import main

SMALL = ["--customers", "40", "--invoices", "20", "--sales-orders", "5", "--estimates", "5"]
SMALL += ["--payments", "10", "--items", "10"]
ROOT = Path(__file__).resolve().parents[2]


def test_demo_json_is_clean_and_plain_progress_goes_to_stderr(tmp_path, capsys) -> None:
    assert main(["demo", *SMALL, "--json", "--data-dir", str(tmp_path / "a")]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["records_queued"] > 0 and out.count("\n") == 1
    assert err == ""  # not a terminal: a script reading --json gets no progress lines

    assert main(["demo", *SMALL, "--data-dir", str(tmp_path / "b")]) == 0
    out, err = capsys.readouterr()
    assert "\r" not in err
    lines = err.splitlines()
    assert lines[0] == "QuickBooks first full sync of demo: started"
    assert any(x.startswith("QuickBooks first full sync of demo: done, 100%") for x in lines)
    assert any(x.startswith("Forwarding to ZOHO: done") for x in lines)
    assert lines[-1].startswith("Audit: done, 6 of 6 modules (100%)")
    assert "Simulated QuickBooks company" in out and "started" not in out

    assert main(["demo", *SMALL, "--no-progress", "--data-dir", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().err == ""


def _run_on_pty(argv: list[str], columns: int) -> tuple[int, bytes, bytes]:
    """Run qbrelay with standard error on a pseudo-terminal; (code, stdout, what the pty got)."""
    controller, terminal = pty.openpty()
    if columns:
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lambdas.local.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=ROOT,
    )
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate(timeout=60)
    os.close(controller)
    return proc.returncode, out, seen


def test_demo_on_a_terminal_draws_bars_and_keeps_json_clean(tmp_path) -> None:
    for columns in (100, 0):  # a sized terminal, and one that reports no size
        code, out, seen = _run_on_pty(
            ["demo", *SMALL, "--json", "--data-dir", str(tmp_path / str(columns))], columns
        )
        assert code == 0
        assert json.loads(out)["zoho_records"] > 0  # stdout is still exactly the JSON object
        shown = seen.decode()
        assert "\r" in shown  # redrawn in place
        assert "QuickBooks first full sync of demo: 100%|" in shown
        assert "Forwarding to ZOHO: 100%|" in shown and "Audit: 100%|" in shown


def test_audit_shows_a_line_per_module(zoho, monkeypatch, tmp_path, capsys) -> None:
    from tests.integration.test_zoho_cli import set_credentials

    set_credentials(monkeypatch, tmp_path, zoho.url)
    zoho.fake.add_records("Accounts", [{"Account_Name": "Stray", "QB_ListID": "80-9"}])
    capsys.readouterr()
    assert main(["audit", "--tenant", "acme", "--data-dir", str(tmp_path)]) == 1  # one unknown
    out, err = capsys.readouterr()
    assert "ZOHO records with QuickBooks ids the relay does not know: 1" in out
    assert err.splitlines() == [
        "Audit of acme: started",
        "Audit of acme: 0 of 6 modules (0%), reading Accounts",
        "Audit of acme: 1 of 6 modules (16%), reading Contacts",
        "Audit of acme: 2 of 6 modules (33%), reading Products",
        "Audit of acme: 3 of 6 modules (50%), reading Quotes",
        "Audit of acme: 4 of 6 modules (66%), reading Sales_Orders",
        "Audit of acme: 5 of 6 modules (83%), reading Invoices",
        "Audit of acme: 6 of 6 modules (100%), finished, 1 ZOHO records read",
        "Audit of acme: done, 6 of 6 modules (100%)",
    ]
    assert main(["audit", "--tenant", "acme", "--json", "--data-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["audit_unknown"] == 1 and err == ""


def test_the_relay_tells_a_first_full_sync_from_a_routine_one(tmp_path) -> None:
    import io

    from lambdas.local.demo import DemoCompany, run_demo
    from lambdas.local.progress import Progress

    company = DemoCompany(customers=30, items=5, invoices=10, sales_orders=0, estimates=0)
    first, again = io.StringIO(), io.StringIO()
    run_demo(tmp_path, company, progress=Progress(first, bar=False))
    run_demo(tmp_path, company, progress=Progress(again, bar=False))
    assert first.getvalue().startswith("QuickBooks first full sync of demo: started")
    assert again.getvalue().startswith("QuickBooks sync of demo: started")  # serve hides these
