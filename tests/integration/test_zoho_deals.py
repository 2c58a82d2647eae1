"""Deals in the fake ZOHO through the real client: the Products related list, who modified a
record (Modified_By) and when (Modified_Time on every write), COQL by Modified_Time."""

from __future__ import annotations

import pytest

from lambdas.zoho.client import RELATED_PER_PAGE
from lambdas.zoho.errors import ZohoRequestError
from sim.fake_zoho import ADMIN
from tests.integration.zoho_helpers import CLIENT_ID, ZohoEnv


class Clock:
    def __init__(self, at: float = 1_780_000_000.0) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


def test_a_deals_products_are_read_page_by_page(zoho: ZohoEnv) -> None:
    products = zoho.fake.add_records(
        "Products", [{"Product_Name": f"Widget {n}", "Unit_Price": n} for n in range(450)]
    )
    (deal,) = zoho.fake.add_records("Deals", [{"Deal_Name": "Big one", "Stage": "Closed Won"}])
    (empty,) = zoho.fake.add_records("Deals", [{"Deal_Name": "Nothing yet"}])
    zoho.fake.relate("Deals", deal, "Products", products)
    zoho.fake.relate("Deals", deal, "Products", products[:3])  # related once each
    client = zoho.client()
    calls = zoho.fake.calls
    rows = client.related_records("Deals", deal, "Products", ["Product_Name", "Unit_Price"])
    assert [r["id"] for r in rows] == products
    assert rows[7] == {"id": products[7], "Product_Name": "Widget 7", "Unit_Price": 7}
    assert zoho.fake.calls - calls == -(-450 // RELATED_PER_PAGE)
    assert client.related_records("Deals", empty, "Products", ["Product_Name"]) == []
    with pytest.raises(ZohoRequestError, match="LIMIT_EXCEEDED"):
        client.related_records("Deals", deal, "Products", ["Product_Name"], max_pages=2)
    with pytest.raises(ZohoRequestError, match="INVALID_DATA"):
        client.related_records("Deals", "123", "Products", ["Product_Name"])
    with pytest.raises(ValueError, match="API name"):
        client.related_records("Deals", deal, "Products", ["Name, Secret"])


def test_related_reads_retry_like_every_call(zoho: ZohoEnv) -> None:
    products = zoho.fake.add_records("Products", [{"Product_Name": "Bolt"}])
    (deal,) = zoho.fake.add_records("Deals", [{"Deal_Name": "D"}])
    zoho.fake.relate("Deals", deal, "Products", products)
    zoho.fake.inject("429", times=1, path=f"/crm/v8/Deals/{deal}")
    zoho.fake.inject("503", times=1, path=f"/crm/v8/Deals/{deal}")
    rows = zoho.client().related_records("Deals", deal, "Products", ["Product_Name"])
    assert [r["Product_Name"] for r in rows] == ["Bolt"]
    assert len(zoho.sleeps) == 2 and zoho.fake.faults_left() == 0


def test_every_write_says_who_and_when(zoho: ZohoEnv) -> None:
    clock = Clock()
    zoho.fake.clock = clock
    relay = zoho.fake.add_client(CLIENT_ID, "ignored", "another-refresh-token")
    assert relay["name"] == f"API user {CLIENT_ID}" and relay["id"] != ADMIN["id"]
    client = zoho.client()
    (result,) = client.upsert(
        "Accounts", [{"Account_Name": "Acme", "QB_ListID": "80-1"}], ["QB_ListID"]
    )
    rid = result.zoho_id
    assert rid is not None
    stored = zoho.fake.records["Accounts"][rid]
    assert stored["Modified_By"] == relay and stored["Created_By"] == relay
    assert stored["Modified_Time"] == "2026-05-28T20:26:40+00:00"
    clock.at += 5
    zoho.fake.edit("Accounts", rid, {"Phone": "555"})
    assert stored["Modified_By"] == ADMIN and stored["Modified_Time"].endswith(":45+00:00")
    clock.at += 5
    (updated,) = client.update("Accounts", [{"id": rid, "QB_Sync_Status": "Synced"}])
    assert updated.ok
    assert stored["Modified_By"] == relay and stored["Modified_Time"].endswith(":50+00:00")


def test_coql_filters_and_orders_by_modified_time(zoho: ZohoEnv) -> None:
    clock = Clock()
    zoho.fake.clock = clock
    first = zoho.fake.add_records("Accounts", [{"Account_Name": f"A{n}"} for n in range(3)])
    clock.at += 60
    (late,) = zoho.fake.add_records("Accounts", [{"Account_Name": "Late"}])
    clock.at += 60
    zoho.fake.edit("Accounts", first[0], {"Phone": "1"})
    client = zoho.client()
    page = client.coql(
        "select Account_Name, Modified_Time, Modified_By from Accounts "
        "where Modified_Time >= '2026-05-28T20:27:40+00:00' order by Modified_Time, id limit 200"
    )
    assert [r["id"] for r in page.rows] == [late, first[0]]
    assert page.rows[1]["Modified_By"] == ADMIN
    # The same instant written with another offset is the same instant.
    same = client.coql(
        "select id from Accounts where Modified_Time > '2026-05-29T01:57:40+05:30' limit 200"
    )
    assert [r["id"] for r in same.rows] == [first[0]]
