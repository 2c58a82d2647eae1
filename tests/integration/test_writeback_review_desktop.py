"""Adversarial review of Desktop write-back (issue 16): the interleavings production has (the
forwarder lagging behind the session, a Web Connector dying at each point), and odd data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.local.forwarder import drain
from lambdas.writeback.model import OpStatus
from tests.conftest import PASSWORD
from tests.integration.test_writeback_e2e import QB, Rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.close()


def lagging_session(rig: Rig, **kw: Any):
    """A session while the forwarder lags behind (its queue trigger batches): it drains only
    once the session is over."""
    rig.offset += 3600
    rig.sent.clear()
    result = rig.qbwc.run_session("acme-qbwc", PASSWORD, rig.company, **kw)
    drain(rig.local.queue, rig.forwarder)
    return result


def test_two_new_accounts_of_one_name_are_one_customer_while_the_forwarder_lags(
    rig: Rig,
) -> None:
    first = rig.account("Twin Peaks Lumber")
    second = rig.account("Twin Peaks Lumber")
    lagging_session(rig)
    (customer,) = rig.customers("Twin Peaks Lumber")
    ops = {o.zoho_id: o for o in rig.local.writeback.list("acme")}
    assert ops[first].status == OpStatus.APPLIED and ops[first].qb_id == customer.list_id
    # The second add met the name the first had just made (3100): never linked to it.
    assert ops[second].status == OpStatus.NOT_APPLIED and "merge" in ops[second].error
    stored = rig.fake.records["Accounts"]
    assert stored[first][QB] == customer.list_id and stored[first]["QB_Sync_Status"] == "Synced"
    assert not stored[second].get(QB) and stored[second]["QB_Sync_Status"] == "Failed"


def test_a_lost_add_verified_by_name_never_links_another_accounts_customer(rig: Rig) -> None:
    rig.session()  # the company's customers reach ZOHO first
    known = next(iter(rig.company.data.customers.values()))
    (original,) = rig.accounts(known.name)
    copy = rig.account(known.name)
    # QuickBooks answers the Add with 3100, keeps no saved status, and the Web Connector dies
    # before posting the answer: the next session can only verify by name.
    rig.company.message_sets.keep = False
    lost = rig.session(lose_response_at=1)
    assert lost.abandoned
    rig.session()
    assert len(rig.customers(known.name)) == 1
    (op,) = [o for o in rig.local.writeback.list("acme") if o.zoho_id == copy]
    assert op.status == OpStatus.NOT_APPLIED and "merge" in op.error
    stored = rig.fake.records["Accounts"]
    assert not stored[copy].get(QB) and stored[copy]["QB_Sync_Status"] == "Failed"
    assert stored[original["id"]][QB] == known.list_id


def test_an_edit_of_a_jobs_account_is_a_mod_though_its_full_name_has_a_colon(rig: Rig) -> None:
    parent = next(iter(rig.company.data.customers.values()))
    job = rig.company.add("Customer", name="Kitchen remodel", parent_id=parent.list_id)
    rig.session()  # the job reaches ZOHO as an account named by its full name
    full = f"{parent.name}:Kitchen remodel"
    (account,) = rig.accounts(full)
    assert rig.capture() == 0
    rig.fake.edit("Accounts", account["id"], {"Phone": "555-0404"})
    rig.session()
    assert rig.company.data.customers[job].phone == "555-0404"
    assert rig.company.data.customers[job].name == "Kitchen remodel"
    stored = rig.fake.records["Accounts"][account["id"]]
    assert stored["QB_Sync_Status"] == "Synced"


def test_a_deal_whose_account_failed_is_invoiced_once_the_account_is_fixed(rig: Rig) -> None:
    rid = rig.account("The Northern Hemisphere Industrial Fastener Company of America")
    (deal,) = rig.fake.add_records(
        "Deals",
        [
            {
                "Deal_Name": "Fastener pilot",
                "Stage": "Closed Won",
                "Amount": 400.0,
                "Closing_Date": "2026-11-30",
                "Account_Name": {"id": rid},
            }
        ],
    )
    rig.session()
    assert rig.fake.records["Deals"][deal]["QB_Sync_Status"] == "Failed"
    rig.session()  # the deal's own status written back is no news: still nothing
    assert rig.requests("InvoiceAddRq") == 0
    # The person shortens the name; the customer is made; then the deal is saved again.
    rig.fake.edit("Accounts", rid, {"Account_Name": "Northern Fastener Co"})
    rig.session()
    (customer,) = rig.customers("Northern Fastener Co")
    rig.fake.edit("Deals", deal, {"Description": "re-saved"})
    rig.session()
    rig.session()
    invoices = [
        t for t in rig.company.data.txns["Invoice"].values() if t.customer_id == customer.list_id
    ]
    assert len(invoices) == 1
    assert rig.fake.records["Deals"][deal]["QB_TxnID"] == invoices[0].txn_id


def test_hostile_names_at_the_length_boundary(rig: Rig) -> None:
    name = 'O\'Brien & "Sons" <Ltd> Café Ünited Wörks'
    name = name + "x" * (41 - len(name))
    assert len(name) == 41
    fits = rig.account(name, Phone=" 555-0505 ", Billing_Street="1 Rue & Co, Étage 3")
    over = rig.account(name + "y")
    rig.session()
    (customer,) = rig.customers(name)
    assert customer.phone == "555-0505"
    stored = rig.fake.records["Accounts"]
    assert stored[fits][QB] == customer.list_id and stored[fits]["QB_Sync_Status"] == "Synced"
    assert stored[over]["QB_Sync_Status"] == "Failed" and "41" in stored[over]["QB_Sync_Message"]
    assert rig.capture() == 0
    rig.session()
    assert rig.requests("CustomerAddRq") == 0 and rig.requests("CustomerModRq") == 0


def test_a_deal_with_too_many_products_never_blocks_the_deals_after_it(rig: Rig) -> None:
    rid = rig.account("Bulk Buyers")
    won = {"Stage": "Closed Won", "Amount": 10.0, "Account_Name": {"id": rid}}
    (huge,) = rig.fake.add_records("Deals", [{"Deal_Name": "Everything", **won}])
    products = rig.fake.add_records(
        "Products", [{"Product_Name": f"P{n}", "Unit_Price": 1.0} for n in range(2001)]
    )
    rig.fake.relate("Deals", huge, "Products", products)
    (small,) = rig.fake.add_records("Deals", [{"Deal_Name": "Just one", **won}])
    rig.session()
    rig.session()
    (customer,) = rig.customers("Bulk Buyers")
    invoices = [
        t for t in rig.company.data.txns["Invoice"].values() if t.customer_id == customer.list_id
    ]
    assert len(invoices) == 1
    deals = rig.fake.records["Deals"]
    assert deals[small]["QB_TxnID"] == invoices[0].txn_id
    assert (
        deals[huge]["QB_Sync_Status"] == "Failed" and "products" in deals[huge]["QB_Sync_Message"]
    )


def test_an_account_with_thousands_of_contacts_never_stops_the_capture(rig: Rig) -> None:
    crowded = rig.account("Crowded Corp")
    people = [{"Last_Name": f"P{n:04d}", "Account_Name": {"id": crowded}} for n in range(2001)]
    people[0]["First_Name"] = "Ada"
    rig.fake.add_records("Contacts", people)
    other = rig.account("Quiet Corp")
    rig.session()
    assert len(rig.customers("Crowded Corp")) == 1 and len(rig.customers("Quiet Corp")) == 1
    (customer,) = rig.customers("Crowded Corp")
    assert (customer.first_name, customer.last_name) == ("Ada", "P0000")
    assert rig.fake.records["Accounts"][other][QB]
