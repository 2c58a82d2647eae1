"""The fake QuickBooks Online's company and query language (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sim.fake_qbo_company import QboCompany, parse_time
from sim.fake_qbo_query import QueryError, parse, run
from sim.fake_qbo_webhooks import cloud_events, legacy_notifications, sign

NOW = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def _company() -> tuple[QboCompany, list[datetime]]:
    now = [NOW]
    company = QboCompany("123", lambda: now[0])
    company.generate(seed=5, customers=6, items=4, invoices=10)
    return company, now


def test_generated_objects_are_shaped_like_intuits() -> None:
    company, _ = _company()
    customer = company.get("Customer", "1")
    assert customer["SyncToken"] == "0" and customer["BillAddr"]["Country"] == "USA"
    assert customer["MetaData"]["CreateTime"] == "2026-09-01T05:00:00-07:00"
    invoice = company.all("Invoice")[0]
    subtotal = invoice["Line"][-1]
    assert subtotal["DetailType"] == "SubTotalLineDetail"
    assert subtotal["Amount"] == invoice["TotalAmt"]
    assert company.count("Payment") >= 1
    paid = company.get("Invoice", company.all("Payment")[0]["Line"][0]["LinkedTxn"][0]["TxnId"])
    assert paid["Balance"] == 0 and paid["SyncToken"] == "1"


def test_edits_deletions_merges_and_voids_show_in_cdc_and_events() -> None:
    company, now = _company()
    since = NOW + timedelta(minutes=1)
    now[0] = NOW + timedelta(minutes=5)
    company.edit("Customer", "1", DisplayName="New Name")
    company.delete("Customer", "2")  # names are only made inactive
    company.merge("Customer", "3", "4")
    invoice = company.all("Invoice")[0]["Id"]
    company.void("Invoice", invoice)
    changed = {c["Id"]: c for c in company.changed_since("Customer", since)}
    assert changed["1"]["SyncToken"] == "1" and changed["2"]["Active"] is False
    assert changed["3"] == {
        "Id": "3",
        "status": "Deleted",
        "domain": "QBO",
        "MetaData": {"LastUpdatedTime": "2026-09-01T05:05:00-07:00"},
    }
    assert company.get("Customer", "3") is None
    assert company.get("Invoice", invoice)["TotalAmt"] == 0
    ops = [(e.entity, e.id, e.operation) for e in company.events[-4:]]
    assert ("Customer", "3", "Merge") in ops and ("Invoice", invoice, "Void") in ops


def test_queries_filter_order_and_page_like_qbo() -> None:
    company, now = _company()
    now[0] = NOW + timedelta(hours=1)
    company.edit("Customer", "5", Notes="x")
    objects = company.all("Customer")
    q = parse("SELECT * FROM Customer WHERE Metadata.LastUpdatedTime > '2026-09-01T05:30:00-07:00'")
    assert [c["Id"] for c in run(q, objects)["Customer"]] == ["5"]
    q = parse("select * from Customer where Id in ('1', '3', '77') orderby Id desc")
    assert [c["Id"] for c in run(q, objects)["Customer"]] == ["3", "1"]
    q = parse("select * from Customer startposition 3 maxresults 2")
    answer = run(q, objects)
    assert [c["Id"] for c in answer["Customer"]] == ["3", "4"] and answer["startPosition"] == 3
    assert run(parse("select * from Customer startposition 99"), objects) == {}
    assert run(parse("select count(*) from Customer"), objects) == {"totalCount": 6}
    name = objects[0]["DisplayName"].replace("'", "\\'")
    q = parse(f"select * from Customer where DisplayName = '{name}' and Active = true")
    assert len(run(q, objects)["Customer"]) == 1
    assert parse("select * from Item maxresults 5000").max_results == 1000
    q = parse("select * from Customer where DisplayName like '%Supply%'")
    assert all("Supply" in c["DisplayName"] for c in run(q, objects).get("Customer", []))


@pytest.mark.parametrize(
    "bad",
    [
        "select Id from Customer",
        "select * from Vendor",
        "select * from Customer where Id = 1 or Id = 2",
        "select * from Customer where",
        "delete from Customer",
    ],
)
def test_the_parser_refuses_what_qbo_refuses(bad) -> None:
    with pytest.raises(QueryError):
        parse(bad)


def test_webhook_shapes_and_signature() -> None:
    company, _ = _company()
    events = company.events[:2]
    cloud = cloud_events(events)
    assert cloud[0]["type"] == "qbo.customer.created.v1" and cloud[0]["intuitaccountid"] == "123"
    assert cloud[0]["intuitentityid"] == events[0].id and cloud[0]["id"] != cloud[1]["id"]
    legacy = legacy_notifications(events)["eventNotifications"][0]
    assert legacy["realmId"] == "123"
    assert legacy["dataChangeEvent"]["entities"][0]["operation"] == "Create"
    # base64 of the raw HMAC-SHA256 digest, as computed by `openssl dgst -sha256 -hmac token`.
    assert sign(b"{}", "token") == "XIiql8QmhU+4+U3rWh8gKlN4kc7Zua6cmbwdMyPSfVM="
    assert parse_time("2026-09-01").tzinfo is not None


def test_api_writes_check_names_references_and_number_invoices() -> None:
    import json

    from sim.fake_qbo_writes import write

    company, _ = _company()

    def create(entity: str, body: dict) -> tuple[int, dict]:
        reply = write("create", entity, company, json.dumps(body).encode(), "t")
        return reply.status, reply.body

    taken = company.get("Customer", "1")["DisplayName"]
    status, body = create("Customer", {"DisplayName": taken})
    assert status == 400 and body["Fault"]["Error"][0]["code"] == "6240"
    company.other_names["Vendor Co"] = "Vendor"
    assert (
        create("Customer", {"DisplayName": "Vendor Co"})[1]["Fault"]["Error"][0]["code"] == "6240"
    )
    status, body = create("Customer", {"DisplayName": "Fresh"})
    made = body["Customer"]
    assert status == 200 and made["Active"] is True and made["FullyQualifiedName"] == "Fresh"
    assert company.changed_since("Customer", NOW)[-1]["Id"] == made["Id"]
    assert company.events[-1].operation == "Create"
    line = {"DetailType": "SalesItemLineDetail", "Amount": 5}
    bad_item = {**line, "SalesItemLineDetail": {"ItemRef": {"value": "999"}, "Qty": 1}}
    status, body = create("Invoice", {"CustomerRef": {"value": made["Id"]}, "Line": [bad_item]})
    assert status == 400 and "Item 999" in body["Fault"]["Error"][0]["Detail"]
    good = {**line, "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 5}}
    numbers = [int(i["DocNumber"]) for i in company.all("Invoice")]
    status, body = create("Invoice", {"CustomerRef": {"value": made["Id"]}, "Line": [good]})
    assert status == 200 and body["Invoice"]["DocNumber"] == str(max(numbers) + 1)
    hits = run(
        parse(f"select * from Invoice where CustomerRef = '{made['Id']}'"), company.all("Invoice")
    )
    assert [i["Id"] for i in hits["Invoice"]] == [body["Invoice"]["Id"]]
