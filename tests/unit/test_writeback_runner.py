"""Running the capture: which tenants, their failures, and the edition each writes to."""

from __future__ import annotations

from types import SimpleNamespace

from lambdas.store.ports import StoreError, Tenant
from lambdas.writeback.capture import CaptureReport
from lambdas.writeback.runner import capture_tenants, editions


class Capture:
    def __init__(self, fail: set[str]) -> None:
        self.fail, self.ran = fail, []

    def run(self, tenant: Tenant) -> CaptureReport:
        self.ran.append(tenant.name)
        if tenant.name in self.fail:
            raise StoreError("the store is down")
        return CaptureReport(ops_added=2)


def test_only_write_back_tenants_not_paused_are_captured_and_failures_stay_theirs() -> None:
    tenants = [
        Tenant("a", "a", "h", writeback=True),
        Tenant("b", "b", "h", writeback=False),
        Tenant("c", "c", "h", writeback=True, paused=True),
        Tenant("d", "d", "h", writeback=True),
    ]
    capture = Capture(fail={"a"})
    run = capture_tenants(tenants, capture)  # type: ignore[arg-type]
    assert capture.ran == ["a", "d"]
    assert list(run.reports) == ["d"] and run.ops_added == 2
    assert run.failed == {"a": "StoreError: the store is down"}


def test_a_connected_online_company_makes_the_tenant_write_to_online() -> None:
    rows = {
        "online": SimpleNamespace(status="connected"),
        "lapsed": SimpleNamespace(status="needs_reconnect"),
        "gone": SimpleNamespace(status="disconnected"),
    }
    edition = editions(SimpleNamespace(get=rows.get))  # type: ignore[arg-type]
    assert [edition(t) for t in ("online", "lapsed", "gone", "desktop")] == [
        "qbo",
        "qbo",
        "qbd",
        "qbd",
    ]
    assert editions(None)("any") == "qbd"
