"""Write-back end to end on QuickBooks Desktop, as production runs it: a person's change in the
fake ZOHO CRM, the capture before the Web Connector session's plan, the writes first in the
session, and the forwarder draining the record queue *while* the session is still going.

Each test checks both sides afterwards: what the simulated company holds, and what ZOHO holds
(the QuickBooks ids written back, no duplicate, the status fields), and that the next capture
and session send nothing again (no echo).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.local.forwarder import build_local_forwarder, drain
from lambdas.local.server import RelayServer
from lambdas.local.wiring import LocalRelay, build_local
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.store.ports import Tenant
from lambdas.writeback.model import OpStatus
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector
from sim.fake_zoho import FakeZoho, FakeZohoServer
from tests.conftest import FIXED_PAGES, PASSWORD
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv

QB = "QB_ListID"
ITEM = "Consulting 1"


class Rig:
    """ZOHO, the relay (with its capture), the company, and a forwarder thread."""

    def __init__(self, tmp: Path, policy: str = "qb_wins") -> None:
        self.fake = FakeZoho()
        self.fake.add_client(CLIENT_ID, SECRET, REFRESH, user="relay")
        self.zoho = FakeZohoServer(self.fake).start()
        data = tmp / "data"
        self.local: LocalRelay = build_local(data, RelaySettings(), FIXED_PAGES)
        self.env = ZohoEnv(self.fake, self.zoho.url, self.local.db)
        self.local = build_local(
            data, RelaySettings(), FIXED_PAGES, zoho_clients=self.env.factory()
        )
        self.forwarder = build_local_forwarder(self.local.db, data, self.env.factory())
        self.company = FakeCompany(customers=4, items=3, invoices=0)
        owner = self.local.tenants.deployment_owner_id()
        self.local.tenants.create(
            Tenant(
                name="acme",
                qbwc_user="acme-qbwc",
                password_hash=hash_password(PASSWORD),
                enabled_entities=("Customer", "Item", "Invoice"),
                writeback=True,
                writeback_since=time.time() - 5,
                conflict_policy=policy,
                invoice_item=ITEM,
            )
        )
        self.company.owner_id = owner
        self.company.file_id = self.local.tenants.ensure_file_id("acme")
        self.server = RelayServer(RelayWsgiApp(self.local.endpoint), "127.0.0.1", 0, threads=2)
        self.server.start_in_thread()
        self.qbwc = FakeWebConnector(self.server.url + SOAP_PATH, owner_id=owner)
        self.offset = 0.0
        self.local.relay.clock = lambda: time.time() + self.offset
        self.sent: list[str] = []
        process = self.company.process

        def recorded(request: str) -> str:
            self.sent.append(request)
            return process(request)

        self.company.process = recorded  # type: ignore[method-assign]

    def session(self, **kw: Any):
        """One Web Connector update while the forwarder drains the queue beside it; then the
        forwarder drains what is left."""
        self.offset += 3600  # past the previous session's lease (an abandoned one's too)
        self.sent.clear()
        stop = threading.Event()
        errors: list[BaseException] = []

        def forward() -> None:
            try:
                while not stop.is_set():
                    drain(self.local.queue, self.forwarder, batch_size=50, max_batches=5)
                    stop.wait(0.01)
            except BaseException as exc:
                errors.append(exc)

        worker = threading.Thread(target=forward)
        worker.start()
        try:
            result = self.qbwc.run_session("acme-qbwc", PASSWORD, self.company, **kw)
        finally:
            stop.set()
            worker.join(30)
        assert not errors, errors
        drain(self.local.queue, self.forwarder)
        return result

    def account(self, name: str, **fields: Any) -> str:
        (rid,) = self.fake.add_records("Accounts", [{"Account_Name": name, **fields}])
        return rid

    def capture(self) -> int:
        tenant = self.local.tenants.get("acme")
        assert tenant is not None
        return self.local.capture.run(tenant).ops_added

    def customers(self, name: str) -> list:
        return [c for c in self.company.data.customers.values() if c.name == name]

    def accounts(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.fake.all("Accounts") if a.get("Account_Name") == name]

    def requests(self, tag: str) -> int:
        return sum(r.count(f"<{tag} ") + r.count(f"<{tag}>") for r in self.sent)

    def close(self) -> None:
        self.qbwc.close()
        self.server.stop()
        self.zoho.stop()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def test_an_account_made_in_zoho_is_one_customer_and_is_not_sent_again(rig: Rig) -> None:
    rid = rig.account("Harbor Supply", Phone="555-0100", Billing_City="Portland")
    result = rig.session()
    assert result.last_error is None
    (customer,) = rig.customers("Harbor Supply")
    assert customer.phone == "555-0100"
    (account,) = rig.accounts("Harbor Supply")
    assert account["id"] == rid and account[QB] == customer.list_id
    assert account["QB_Sync_Status"] == "Synced"
    assert rig.fake.duplicates("Accounts", QB) == 0
    # The relay's own writes to ZOHO are no change to write; the next session adds nothing.
    assert rig.capture() == 0
    rig.session()
    assert rig.requests("CustomerAddRq") == 0 and len(rig.customers("Harbor Supply")) == 1
    assert len(rig.accounts("Harbor Supply")) == 1


def test_an_edit_in_zoho_flows_as_a_modification(rig: Rig) -> None:
    rid = rig.account("Delta Marine", Phone="555-0200")
    rig.session()
    rig.fake.edit("Accounts", rid, {"Phone": "555-0299"})
    rig.session()
    assert rig.requests("CustomerModRq") == 1 and rig.requests("CustomerAddRq") == 0
    (customer,) = rig.customers("Delta Marine")
    assert customer.phone == "555-0299"
    (account,) = rig.accounts("Delta Marine")
    assert account["Phone"] == "555-0299" and account["QB_Sync_Status"] == "Synced"
    assert rig.capture() == 0


def test_a_won_deal_is_one_invoice_even_when_saved_again(rig: Rig) -> None:
    rid = rig.account("Orchard Foods")
    (deal,) = rig.fake.add_records(
        "Deals",
        [
            {
                "Deal_Name": "Orchard pilot",
                "Stage": "Closed Won",
                "Amount": 1250.0,
                "Closing_Date": "2026-11-30",
                "Account_Name": {"id": rid},
            }
        ],
    )
    rig.session()
    (customer,) = rig.customers("Orchard Foods")
    invoices = [
        t for t in rig.company.data.txns["Invoice"].values() if t.customer_id == customer.list_id
    ]
    assert len(invoices) == 1
    stored = rig.fake.records["Deals"][deal]
    assert stored["QB_TxnID"] == invoices[0].txn_id and stored["QB_RefNumber"]
    # Saved again and moved away and back to the won stage: still one invoice.
    rig.fake.edit("Deals", deal, {"Amount": 1300.0})
    rig.fake.edit("Deals", deal, {"Stage": "Negotiation/Review"})
    rig.fake.edit("Deals", deal, {"Stage": "Closed Won"})
    rig.session()
    again = [
        t for t in rig.company.data.txns["Invoice"].values() if t.customer_id == customer.list_id
    ]
    assert len(again) == 1 and rig.requests("InvoiceAddRq") == 0


def test_a_lost_answer_makes_no_second_customer(rig: Rig) -> None:
    rig.account("Summit Tools")
    # QuickBooks applies the CustomerAdd; the Web Connector dies before posting its answer.
    abandoned = rig.session(lose_response_at=1)
    assert abandoned.abandoned and len(rig.customers("Summit Tools")) == 1
    rig.session()
    (customer,) = rig.customers("Summit Tools")
    (account,) = rig.accounts("Summit Tools")
    assert account[QB] == customer.list_id and account["QB_Sync_Status"] == "Synced"
    assert rig.requests("CustomerAddRq") == 0
    assert rig.fake.duplicates("Accounts", QB) == 0


def test_a_name_in_use_in_quickbooks_links_instead_of_duplicating(rig: Rig) -> None:
    # A customer QuickBooks has, not in ZOHO yet (customers are read after the writes).
    existing = rig.company.add("Customer", name="Granite Works")
    rid = rig.account("Granite Works", Phone="555-0300")
    rig.session()
    assert [c.list_id for c in rig.customers("Granite Works")] == [existing]
    assert [a["id"] for a in rig.accounts("Granite Works")] == [rid]
    assert rig.fake.records["Accounts"][rid][QB] == existing
    (op,) = rig.local.writeback.list("acme", OpStatus.APPLIED)
    assert op.linked and op.qb_id == existing


def test_a_name_another_account_holds_is_refused_on_the_zoho_side(rig: Rig) -> None:
    rig.session()  # the company's customers reach ZOHO first
    known = next(iter(rig.company.data.customers.values()))
    (original,) = rig.accounts(known.name)
    copy = rig.account(known.name)
    rig.session()
    assert len(rig.customers(known.name)) == 1
    stored = rig.fake.records["Accounts"]
    assert stored[copy]["QB_Sync_Status"] == "Failed" and not stored[copy].get(QB)
    assert original["id"] in stored and "merge" in stored[copy]["QB_Sync_Message"]
    assert stored[original["id"]][QB] == known.list_id


def test_a_name_too_long_for_quickbooks_is_reported_on_the_account(rig: Rig) -> None:
    rid = rig.account("The Northern Hemisphere Industrial Fastener Company of America")
    rig.session()
    assert rig.requests("CustomerAddRq") == 0
    account = rig.fake.records["Accounts"][rid]
    assert account["QB_Sync_Status"] == "Failed"
    assert "41" in account["QB_Sync_Message"] and not account.get(QB)
    assert rig.capture() == 0  # the status written back is not a new change


@pytest.mark.parametrize(
    ("policy", "side", "kept"), [("qb_wins", "qb", "555-1111"), ("zoho_wins", "zoho", "555-2222")]
)
def test_a_field_changed_on_both_sides_goes_by_the_policy(
    tmp_path: Path, policy: str, side: str, kept: str
) -> None:
    rig = Rig(tmp_path, policy)
    try:
        rig.session()  # QuickBooks' customers reach ZOHO
        known = next(iter(rig.company.data.customers.values()))
        (account,) = rig.accounts(known.name)
        rig.company.modify("Customer", known.list_id, phone="555-1111")
        rig.fake.edit("Accounts", account["id"], {"Phone": "555-2222", "Fax": "555-3333"})
        rig.session()
        customer = rig.company.data.customers[known.list_id]
        assert customer.phone == kept
        (op,) = [o for o in rig.local.writeback.list("acme", OpStatus.APPLIED) if o.conflicts]
        assert [(c.field, c.kept) for c in op.conflicts] == [("phone", side)]
        assert customer.fax == "555-3333"  # changed in ZOHO only: written either way
        rig.session()  # the resolved customer flows back: both sides agree
        assert rig.fake.records["Accounts"][account["id"]]["Phone"] == kept
    finally:
        rig.close()


def test_nothing_is_written_to_another_tenants_company_file(rig: Rig) -> None:
    # QuickBooks opened a company file stamped for another .qwc: the session stops before any
    # write, so the accounts of this tenant's CRM never reach the wrong books.
    rig.company.file_id = "{6A1C3B6E-0000-4000-8000-000000000001}"
    rid = rig.account("Wrong Books Ltd")
    result = rig.session()
    assert rig.requests("CustomerAddRq") == 0 and not rig.customers("Wrong Books Ltd")
    assert "company file" in (result.last_error or "")
    (op,) = rig.local.writeback.open_ops("acme")
    assert op.zoho_id == rid and op.status == OpStatus.PENDING
