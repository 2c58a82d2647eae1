"""Progress of long local runs: a bar on a terminal, plain milestone lines otherwise."""

from __future__ import annotations

import io

from lambdas.local.progress import Progress, SessionProgressView, audit_view
from lambdas.qbwc.relay import SessionProgress


def test_plain_lines_one_per_milestone_without_carriage_returns() -> None:
    out = io.StringIO()
    task = Progress(out, bar=False).task("Forwarding", 1000, "records")
    for done in range(0, 1001, 25):  # 41 updates, a detail changing on each
        task.update(done, detail=f"{done} applied")
    task.close()
    text = out.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert lines[0] == "Forwarding: started"
    assert lines[-1] == "Forwarding: done, 1,000 of 1,000 records (100%)"
    assert len(lines) == 12  # started, each tenth crossed, done: not one per update
    assert lines[1] == "Forwarding: 100 of 1,000 records (10%), 100 applied"


def test_a_new_note_is_a_milestone() -> None:
    out = io.StringIO()
    task = Progress(out, bar=False).task("Audit", 3, "modules")
    view = audit_view(task)
    view(0, 3, "Accounts", 0)
    view(0, 3, "Accounts", 2000)  # rows within a module: no new line
    view(1, 3, "Contacts", 0)
    view(3, 3, "", 4100)
    task.close()
    assert out.getvalue().splitlines() == [
        "Audit: started",
        "Audit: 0 of 3 modules (0%), reading Accounts",
        "Audit: 1 of 3 modules (33%), reading Contacts",
        "Audit: 3 of 3 modules (100%), finished, 4,100 ZOHO records read",
        "Audit: done, 3 of 3 modules (100%)",
    ]


def test_a_bar_redraws_in_place() -> None:
    out = io.StringIO()
    task = Progress(out, bar=True).task("Forwarding", 10, "records")
    task.update(5, detail="5 applied")
    task.close("done")
    text = out.getvalue()
    assert "\r" in text and "Forwarding" in text and "10/10" not in text and "5/10" in text


def test_off_shows_nothing_and_json_output_gets_no_lines() -> None:
    out = io.StringIO()
    task = Progress(out, bar=False, enabled=False).task("X", 10)
    task.update(5, note="n")
    task.close()
    assert out.getvalue() == ""
    assert Progress.for_command(quiet=False, json_output=True).enabled is False  # not a tty here
    assert Progress.for_command(quiet=True).enabled is False


def report(ticket: str, percent: int, step: str | None, received: int, first: bool = True):
    return SessionProgress("acme", ticket, percent, step, received, first)


def test_sessions_are_tasks_and_routine_ones_can_stay_quiet() -> None:
    out = io.StringIO()
    view = SessionProgressView(Progress(out, bar=False), first_sync_only=True)
    view(report("t1", 10, "Customer", 200))
    view(report("t2", 50, "Invoice", 3, first=False))  # an incremental session: not shown
    view(report("t1", 60, "Invoice", 900))
    view(report("t1", 100, None, 1500))
    view(report("t3", 20, "Item", 10))
    view(report("t3", -1, "Item", 10))
    view.close()
    assert out.getvalue().splitlines() == [
        "QuickBooks first full sync of acme: started",
        "QuickBooks first full sync of acme: 10%, reading Customer, 200 records received",
        "QuickBooks first full sync of acme: 60%, reading Invoice, 900 records received",
        "QuickBooks first full sync of acme: 100%, 1,500 records received",
        "QuickBooks first full sync of acme: done, 100%; 1,500 records received",
        "QuickBooks first full sync of acme: started",
        "QuickBooks first full sync of acme: 20%, reading Item, 10 records received",
        "QuickBooks first full sync of acme: done, 20%; stopped on an error after 10 records "
        "received",
    ]
