"""``qbrelay demo --writeback N``: ZOHO CRM into QuickBooks, on the demo's own data.

N new accounts (each with its contact) and N/5 deals won for the first of them are seeded in
the fake ZOHO CRM, once: a data directory that has them seeds nothing more, so a second run
shows that nothing is written twice. Every other deal lists a product (one of the QuickBooks
items the demo synced to ZOHO); the others are one line of the deal's amount with the tenant's
invoice item. The demo tenant's write-back is on for the run (its conflict policy the
default). Then, as in production, the change capture reads ZOHO (Desktop: before the Web
Connector session's plan, which writes first; Online: the writer applies the operations
through the API), the forwarder writes the QuickBooks ids back to ZOHO, and a last capture
recognises the relay's own writes: it adds no operation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.fake_zoho import FakeZoho

from ..qbo.values import ID_PREFIX as QBO_PREFIX
from ..store.ports import Tenant, TenantStore
from ..store.writeback_ports import WriteBackStore
from ..writeback.model import ADD, CUSTOMER, INVOICE, OpStatus
from .demo_zoho import DEMO_TENANT, fake_crm
from .wiring import LocalRelay, build_local

DESKTOP_PREFIX = "CRM Demo Account"
ONLINE_PREFIX = "CRM Online Account"
WON = "Closed Won"


@dataclass(slots=True)
class WritebackResult:
    """What the write-back leg did in this run."""

    captured: int = 0  # operations the capture made before the writes
    added: int = 0  # QuickBooks customers created from ZOHO accounts
    linked: int = 0  # existing customers linked instead (name already in use)
    invoices: int = 0  # invoices created from won deals
    failed: int = 0  # operations QuickBooks refused or the capture found invalid
    echo_ops: int = 0  # operations the last capture made (the relay's own writes: 0)
    seeded: int = 0  # accounts seeded in ZOHO by this run (0 once they exist)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` keys of ``--writeback``."""
        return {
            "writeback_seeded": self.seeded,
            "writeback_captured": self.captured,
            "writeback_added": self.added,
            "writeback_linked": self.linked,
            "writeback_invoices": self.invoices,
            "writeback_failed": self.failed,
            "writeback_echo_ops": self.echo_ops,
        }


def seed_crm(fake: FakeZoho, n: int, prefix: str, online: bool = False) -> int:
    """N accounts named ``prefix NNNN`` with a contact each, and N/5 won deals for the first
    accounts, unless they exist already; how many accounts were added. A deal's product is
    one of the edition's items synced to ZOHO (``online``: QuickBooks Online's)."""
    existing = {r.get("Account_Name") for r in fake.all("Accounts")}
    names = [f"{prefix} {i:04d}" for i in range(1, n + 1)]
    new = [name for name in names if name not in existing]
    ids = fake.add_records(
        "Accounts",
        [
            {
                "Account_Name": name,
                "Phone": f"555-{i:04d}",
                "Billing_Street": f"{i} Market Street",
                "Billing_City": "Springfield",
                "Billing_State": "IL",
                "Billing_Code": "62701",
            }
            for i, name in enumerate(new, 1)
        ],
    )
    fake.add_records(
        "Contacts",
        [
            {
                "First_Name": "Pat",
                "Last_Name": f"Buyer {name[-4:]}",
                "Email": f"pat.{name[-4:]}@example.com",
                "Account_Name": {"id": rid, "name": name},
            }
            for rid, name in zip(ids, new, strict=True)
        ],
    )
    by_name = {r.get("Account_Name"): str(r["id"]) for r in fake.all("Accounts")}
    products = [
        str(p["id"])
        for p in fake.all("Products")
        if p.get("QB_ListID") and str(p["QB_ListID"]).startswith(QBO_PREFIX) == online
    ]
    for i, name in enumerate(names[: n // 5], 1):
        if name not in new:
            continue
        (deal,) = fake.add_records(
            "Deals",
            [
                {
                    "Deal_Name": f"{name}: first order",
                    "Stage": WON,
                    "Amount": 100.0 * i,
                    "Closing_Date": time.strftime("%Y-%m-%d", time.gmtime()),
                    "Account_Name": {"id": by_name[name], "name": name},
                }
            ],
        )
        if products and i % 2 == 0:
            fake.relate("Deals", deal, "Products", [products[i % len(products)]])
    return len(new)


def enable(tenants: TenantStore, name: str, on: bool, invoice_item: str = "") -> Tenant:
    """The demo tenant's write-back on (from now, if never on before) or off."""
    tenant = tenants.get(name)
    if tenant is None:
        raise ValueError(f"no tenant {name!r}")
    tenant.writeback = on
    if on:
        if tenant.writeback_since is None:
            # A second back, so records the seeding makes in this second are captured.
            tenant.writeback_since = time.time() - 1
        tenant.won_stage = WON
        tenant.invoice_item = invoice_item or tenant.invoice_item
    tenants.update(tenant)
    return tenant


def tally(store: WriteBackStore, tenant: str, since: float, result: WritebackResult) -> None:
    """Count the operations that ended from ``since`` on into ``result``."""
    for status in (OpStatus.APPLIED, OpStatus.NOT_APPLIED):
        for op in store.list(tenant, status, limit=100_000):
            if (op.outcome_at or 0.0) < since:
                continue
            if status == OpStatus.NOT_APPLIED:
                result.failed += 1
            elif op.kind == INVOICE:
                result.invoices += 1
            elif op.kind == CUSTOMER and op.action == ADD:
                if op.linked:
                    result.linked += 1
                else:
                    result.added += 1


def echo_capture(local: LocalRelay, data_dir: Path) -> int:
    """A capture after the forwarder wrote the QuickBooks ids back: the operations it made
    (the relay's own writes are echoes, so none)."""
    with fake_crm(data_dir) as (_fake, clients):
        wired = build_local(data_dir, zoho_clients=clients)
        tenant = wired.tenants.get(DEMO_TENANT)
        assert tenant is not None
        return wired.capture.run(tenant).ops_added
