"""The operator's view of write-back: ``qbrelay tenant set --writeback ...``, ``qbrelay
writeback list|show``, the ``writeback`` key of status, and purge; on a data dir and on a
deployment (moto)."""

from __future__ import annotations

import json
import time
from typing import Any

from lambdas.writeback.model import ACCOUNTS, Conflict, OpStatus, WriteOp, op_id
from tests.integration.test_onboarding_commands import run
from tests.integration.test_tenant_purge_commands import Target, add_tenant

# The local and moto targets of the tenant commands (a fixture).
from tests.integration.test_tenant_purge_commands import target as target


def _op(zoho_id: str, seq: int) -> WriteOp:
    return WriteOp(
        tenant="shop",
        op_id=op_id(ACCOUNTS, zoho_id, "v1"),
        seq=seq,
        kind="customer",
        action="add",
        edition="qbd",
        zoho_module=ACCOUNTS,
        zoho_id=zoho_id,
        zoho_version="v1",
        fields={"name": f"Customer {zoho_id}"},
        created_at=1.0,
    )


def test_tenant_set_turns_write_back_on_with_its_settings(capsys: Any, target: Target) -> None:
    add_tenant(capsys, target)
    before = time.time()
    code, out, err = run(
        capsys,
        "tenant",
        "set",
        "shop",
        "--writeback",
        "on",
        "--conflict-policy",
        "zoho_wins",
        "--won-stage",
        "Won",
        "--invoice-item",
        "Services",
        *target.argv,
    )
    assert code == 0, err
    assert "writeback=on" in out and "conflict_policy=zoho_wins" in out
    t = target.data.tenants.get("shop")
    assert (t.writeback, t.conflict_policy, t.won_stage, t.invoice_item) == (
        True,
        "zoho_wins",
        "Won",
        "Services",
    )
    assert before <= t.writeback_since <= time.time()
    since = t.writeback_since
    # Off and on again: the start stays (the capture's cursors carry on from there).
    assert run(capsys, "tenant", "set", "shop", "--writeback", "off", *target.argv)[0] == 0
    assert target.data.tenants.get("shop").writeback is False
    assert run(capsys, "tenant", "set", "shop", "--writeback", "on", *target.argv)[0] == 0
    assert target.data.tenants.get("shop").writeback_since == since
    code, out, _ = run(capsys, "tenant", "list", *target.argv)
    assert "writeback=on" in out and "won_stage='Won'" in out and "invoice_item=Services" in out


def test_tenant_set_refuses_bad_write_back_values_and_changes_nothing(
    capsys: Any, target: Target
) -> None:
    add_tenant(capsys, target)
    for flags, says in (
        (["--conflict-policy", "loudest_wins"], "qb_wins, zoho_wins, newest_wins"),
        (["--won-stage", "  "], "--won-stage"),
        (["--invoice-item", "x" * 160], "--invoice-item"),
    ):
        code, _, err = run(
            capsys, "tenant", "set", "shop", "--writeback", "on", *flags, *target.argv
        )
        assert code != 0 and says in err, (flags, err)
    t = target.data.tenants.get("shop")
    assert (t.writeback, t.writeback_since, t.conflict_policy) == (False, None, "qb_wins")


def test_writeback_list_show_status_and_purge(capsys: Any, target: Target) -> None:
    add_tenant(capsys, target)
    assert run(capsys, "tenant", "set", "shop", "--writeback", "on", *target.argv)[0] == 0
    store = target.data.writeback
    first, second, third = _op("1", 10), _op("2", 20), _op("3", 30)
    for op in (first, second, third):
        store.enqueue(op)
    store.mark("shop", first.op_id, [OpStatus.PENDING], OpStatus.SENT, attempts=1)
    store.mark(
        "shop",
        first.op_id,
        [OpStatus.SENT],
        OpStatus.APPLIED,
        outcome_at=time.time(),
        qb_id="80000001-1",
        conflicts=(Conflict("phone", "555-1", "555-2", "qb"),),
    )
    store.mark(
        "shop",
        second.op_id,
        [OpStatus.PENDING],
        OpStatus.NOT_APPLIED,
        outcome_at=time.time(),
        error_code="WB_INVALID",
        error="name longer than 41 characters",
    )

    code, out, err = run(capsys, "writeback", "list", "shop", "--json", *target.argv)
    assert code == 0, err
    listed = json.loads(out)["ops"]
    assert [o["zoho_id"] for o in listed] == ["3", "2", "1"]
    code, out, _ = run(capsys, "writeback", "list", "shop", "--status", "applied", *target.argv)
    assert code == 0 and first.op_id in out and second.op_id not in out
    code, out, _ = run(capsys, "writeback", "list", "shop", *target.argv)
    assert "name longer than 41 characters" in out
    code, out, _ = run(capsys, "writeback", "show", "shop", first.op_id, "--json", *target.argv)
    shown = json.loads(out)
    assert (shown["status"], shown["qb_id"], shown["fields"]) == (
        "applied",
        "80000001-1",
        {"name": "Customer 1"},
    )
    assert shown["conflicts"] == [{"field": "phone", "qb": "555-1", "zoho": "555-2", "kept": "qb"}]
    code, out, _ = run(capsys, "writeback", "show", "shop", first.op_id, *target.argv)
    assert "conflict phone" in out and "kept qb" in out
    code, _, err = run(capsys, "writeback", "show", "shop", "wb-a-nope", *target.argv)
    assert code != 0 and "no write-back operation" in err

    code, out, err = run(capsys, "status", "--tenant", "shop", "--json", *target.argv)
    assert code == 0, err
    wb = json.loads(out)["tenants"][0]["writeback"]
    assert wb["enabled"] is True and wb["policy"] == "qb_wins" and wb["available"] is True
    assert wb["counts"] == {
        "pending": 1,
        "sent": 0,
        "unknown": 0,
        "applied": 1,
        "not_applied": 1,
    }
    # Which fields conflicted and which side was kept; not the customer's values.
    assert wb["recent_conflicts"] == [
        {
            "op_id": first.op_id,
            "zoho_module": "Accounts",
            "zoho_id": "1",
            "at": shown["outcome_at"],
            "fields": [{"field": "phone", "kept": "qb"}],
        }
    ]
    assert "555-1" not in out
    code, out, _ = run(capsys, "status", "--tenant", "shop", *target.argv)
    assert "Write-back on (policy qb_wins)" in out and "phone kept qb" in out

    code, out, err = run(capsys, "tenant", "remove", "shop", "--yes", "--purge", *target.argv)
    assert code == 0, err
    assert "3 write-back operations" in out
    assert store.counts("shop") == dict.fromkeys(
        ("pending", "sent", "unknown", "applied", "not_applied"), 0
    )
