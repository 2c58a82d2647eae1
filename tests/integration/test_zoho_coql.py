"""COQL reads: the client's ``coql``/``select_all`` against the fake ZOHO's ``/crm/v8/coql``."""

from __future__ import annotations

import pytest

from lambdas.zoho.client import (
    CoqlError,
    CoqlTooManyRows,
    coql_credits,
    coql_string,
)
from lambdas.zoho.errors import ZohoConfigError, ZohoRequestError, ZohoUnavailable
from sim import fake_coql
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv

SCOPES = ("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.coql.READ")


@pytest.fixture
def env(zoho: ZohoEnv) -> ZohoEnv:
    """The fake ZOHO with a refresh token that may run COQL."""
    zoho.fake.add_client(CLIENT_ID, SECRET, REFRESH, scopes=SCOPES)
    return zoho


def seed_accounts(env: ZohoEnv, n: int) -> list[str]:
    """``n`` Accounts straight into the fake's store; every third inactive, every fifth unset."""
    return env.fake.add_records(
        "Accounts",
        (
            {
                "Account_Name": f"Customer {i}",
                "QB_ListID": f"8000{i:05d}-1",
                **({} if i % 5 == 0 else {"QB_Active": i % 3 != 0}),
            }
            for i in range(n)
        ),
    )


def test_select_all_pages_by_key_across_pages(env: ZohoEnv) -> None:
    ids = seed_accounts(env, 4500)
    client = env.client()
    rows = list(client.select_all("Accounts", ["QB_ListID", "QB_Active"]))
    assert [r["id"] for r in rows] == sorted(ids, key=int)
    assert rows[7] == {"id": ids[7], "QB_ListID": "800000007-1", "QB_Active": True}
    assert rows[5]["QB_Active"] is None  # an empty field comes back as null
    # 2000 + 2000 + 500: three calls at three credits each, as ZOHO charges a LIMIT of 2000.
    assert client.coql_calls == 3 and client.coql_credits == 9
    assert env.fake.credits_used == 9  # the fake charged the same
    first, second, third = env.fake.queries
    assert first == (
        "select id, QB_ListID, QB_Active from Accounts where id is not null "
        "order by id asc limit 2000"
    )
    assert f"where id > '{ids[1999]}' order by id asc limit 2000" in second
    assert f"id > '{ids[3999]}'" in third
    assert not any("offset" in q for q in env.fake.queries)


def test_key_paging_is_not_held_to_the_offset_cap(env: ZohoEnv, monkeypatch) -> None:
    # ZOHO stops OFFSET paging at 100,000 rows; a cap of 3,000 shows the same with fewer records.
    monkeypatch.setattr(fake_coql, "MAX_ROWS", 3000)
    seed_accounts(env, 4500)
    client = env.client()
    assert len(client.coql("select id from Accounts limit 2000").rows) == 2000
    with pytest.raises(CoqlError) as err:
        client.coql("select id from Accounts limit 2000, 2000")  # LIMIT offset, count
    assert err.value.code == "LIMIT_EXCEEDED" and err.value.details["clause"] == "offset"
    assert len(list(client.select_all("Accounts", ["QB_ListID"]))) == 4500


def test_select_all_with_where_and_an_empty_module(env: ZohoEnv) -> None:
    seed_accounts(env, 2100)
    client = env.client()
    inactive = list(client.select_all("Accounts", ["QB_ListID"], where="QB_Active = false"))
    # Inactive: i % 3 == 0 and not i % 5 == 0 (unset), among 0..2099.
    expected = [i for i in range(2100) if i % 3 == 0 and i % 5 != 0]
    assert [r["QB_ListID"] for r in inactive] == [f"8000{i:05d}-1" for i in expected]
    assert env.fake.queries[0].endswith("where (QB_Active = false) order by id asc limit 2000")
    small = list(client.select_all("Accounts", ["QB_ListID"], where="QB_Active is null", page=100))
    assert len(small) == 420 and client.coql_calls == 1 + 5
    assert "id > '" in env.fake.queries[-1] and "and (QB_Active is null)" in env.fake.queries[-1]
    assert list(client.select_all("Contacts", ["QB_ListID"])) == []  # 204: nothing there


def test_criteria_order_and_limits(env: ZohoEnv) -> None:
    env.fake.add_records(
        "Products",
        [
            {"Product_Name": "Bolt", "Unit_Price": 1.5, "Product_Active": True, "QB_ListID": "P1"},
            {"Product_Name": "Nut", "Unit_Price": 0.25, "Product_Active": False, "QB_ListID": "P2"},
            {"Product_Name": "Gear", "Unit_Price": 30, "Product_Active": True, "QB_ListID": "P3"},
            {"Product_Name": "Cog", "Product_Active": True},
        ],
    )
    client = env.client()

    def names(query: str) -> list[str]:
        return [r["Product_Name"] for r in client.coql(query).rows]

    q = "select Product_Name from Products where "
    assert names(q + "Unit_Price > 1") == ["Bolt", "Gear"]
    assert names(q + "Unit_Price <= 1.5 order by Unit_Price desc") == ["Bolt", "Nut"]
    assert names(q + "QB_ListID in ('P1', 'P3')") == ["Bolt", "Gear"]
    assert names(q + "QB_ListID not in ('P1', 'P3')") == ["Nut"]  # null matches neither
    assert names(q + "QB_ListID != 'P1'") == ["Nut", "Gear"]
    assert names(q + "QB_ListID is null") == ["Cog"]
    assert names(q + "((Product_Active = true and Unit_Price >= 2) or Product_Name = 'Nut')") == [
        "Nut",
        "Gear",
    ]
    assert names(q + "Product_Name like 'C%'") == ["Cog"]
    assert names(q + "id is not null order by Product_Name asc limit 1, 2") == ["Cog", "Gear"]
    page = client.coql(q + "id is not null order by Product_Name limit 2 offset 2")
    assert [r["Product_Name"] for r in page.rows] == ["Gear", "Nut"] and not page.more_records
    page = client.coql(q + "id is not null limit 3")
    assert len(page.rows) == 3 and page.more_records
    assert names("select Product_Name from Products where Product_Active = 'false'") == ["Nut"]


def test_ids_compare_as_numbers(env: ZohoEnv) -> None:
    store = env.fake.records["Accounts"]
    for rid in ("999", "10000", "1000"):
        store[rid] = {"id": rid, "Account_Name": f"A{rid}", "QB_ListID": rid}
    client = env.client()
    rows = client.coql("select QB_ListID from Accounts where id > '999'").rows
    assert [r["id"] for r in rows] == ["1000", "10000"]  # as strings "10000" < "999"
    assert [r["id"] for r in client.select_all("Accounts", [], page=1)] == ["999", "1000", "10000"]


def test_credits_follow_the_limit(env: ZohoEnv) -> None:
    seed_accounts(env, 5)
    client = env.client()
    client.modules()  # the token's first use
    before = env.fake.credits_used
    spent = []
    for tail in ("", " limit 200", " limit 201", " limit 1000", " limit 1001", " limit 0, 2000"):
        spent.append(client.coql(f"select id from Accounts where id is not null{tail}").credits)
    assert spent == [1, 1, 2, 2, 3, 3]
    assert client.coql_credits == 12 == env.fake.credits_used - before
    assert [coql_credits(n) for n in (1, 200, 201, 1000, 1001, 2000)] == [1, 1, 2, 2, 3, 3]


def test_nothing_matching_is_204(env: ZohoEnv) -> None:
    seed_accounts(env, 3)
    client = env.client()
    page = client.coql("select id from Accounts where QB_ListID = 'nobody' limit 1500")
    assert page.rows == [] and not page.more_records and page.credits == 3
    token = client.tokens.token()
    resp = client.session.post(
        f"{env.url}/crm/v8/coql",
        json={"select_query": "select id from Accounts where QB_ListID = 'nobody'"},
        headers={"Authorization": f"Zoho-oauthtoken {token.access_token}"},
    )
    assert resp.status_code == 204 and resp.content == b""


@pytest.mark.parametrize(
    ("query", "code", "details"),
    [
        ("select id Accounts", "SYNTAX_ERROR", {"near": "Accounts"}),
        ("select id from Accounts where", "SYNTAX_ERROR", {"near": "end of query"}),
        ("select * from Accounts", "SYNTAX_ERROR", {}),
        (
            "select id from Accounts where id is not null and QB_ListID = 'a' and QB_Active = true",
            "SYNTAX_ERROR",
            {},
        ),
        ("select id from Leads", "INVALID_QUERY", {"module": "Leads"}),
        (
            "select Nope from Accounts",
            "INVALID_QUERY",
            {"column_name": "Nope", "clause": "select"},
        ),
        (
            "select id from Accounts where Nope = 1",
            "INVALID_QUERY",
            {"column_name": "Nope", "clause": "where"},
        ),
        ("select id from Accounts where QB_Active != true", "INVALID_QUERY", {"operator": "!="}),
        ("select id from Accounts where id = 'abc'", "INVALID_QUERY", {"column_name": "id"}),
        ("select id from Accounts limit 2001", "LIMIT_EXCEEDED", {"clause": "limit"}),
        ("select id from Accounts limit 98001, 2000", "LIMIT_EXCEEDED", {"clause": "offset"}),
        (
            "select id from Accounts where QB_ListID in ("
            + ", ".join(f"'{i}'" for i in range(51))
            + ")",
            "LIMIT_EXCEEDED",
            {"operator": "in", "maximum": 50},
        ),
        (
            "select " + ", ".join(["id"] + [f"F{i}" for i in range(50)]) + " from Accounts",
            "LIMIT_EXCEEDED",
            {"clause": "select"},
        ),
        ("select id, id from Accounts", "DUPLICATE_DATA", {"column_name": "id"}),
    ],
)
def test_refused_queries_raise_with_zohos_code(env: ZohoEnv, query, code, details) -> None:
    client = env.client()
    with pytest.raises(CoqlError) as err:
        client.coql(query)
    assert isinstance(err.value, ZohoRequestError)
    assert err.value.code == code and err.value.query == query
    assert details.items() <= err.value.details.items()
    assert query[:40] in str(err.value)
    assert client.coql_calls == 1 and client.coql_credits == 0 and client.calls == 1


def test_values_are_quoted_safely(env: ZohoEnv) -> None:
    env.fake.add_records(
        "Accounts",
        [
            {"Account_Name": "O'Brien's Bar", "QB_ListID": "1"},
            {"Account_Name": 'The "Quoted" Co', "QB_ListID": "2"},
            {"Account_Name": "Back\\slash", "QB_ListID": "3"},
        ],
    )
    client = env.client()
    for name in ("O'Brien's Bar", 'The "Quoted" Co', "Back\\slash"):
        rows = list(
            client.select_all(
                "Accounts", ["Account_Name"], where=f"Account_Name = {coql_string(name)}"
            )
        )
        assert [r["Account_Name"] for r in rows] == [name]
    assert coql_string("O'Brien") == "'O''Brien'"
    # A value written to break out of its literal only ever matches itself.
    sly = "x' or QB_ListID is not null or Account_Name = 'y"
    assert (
        client.coql(f"select id from Accounts where Account_Name = {coql_string(sly)}").rows == []
    )
    with pytest.raises(TypeError):
        coql_string(5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="API name"):
        next(client.select_all("Accounts; drop", ["id"]))
    with pytest.raises(ValueError, match="API name"):
        next(client.select_all("Accounts", ["Account_Name from Contacts --"]))
    with pytest.raises(ValueError, match="page"):
        next(client.select_all("Accounts", ["id"], page=2001))


def test_429_and_5xx_are_retried(env: ZohoEnv) -> None:
    seed_accounts(env, 2500)
    client = env.client()
    client.modules()
    env.fake.inject("429", times=2, path="/crm/v8/coql")
    env.fake.inject("500", path="/crm/v8/coql")
    assert len(list(client.select_all("Accounts", ["QB_ListID"]))) == 2500
    assert client.coql_calls == 2 and client.calls == 1 + 2 + 3 and len(env.sleeps) == 3
    env.fake.inject("503", times=5, path="/crm/v8/coql")
    with pytest.raises(ZohoUnavailable, match="503"):
        client.coql("select id from Accounts")


def test_scopes_coql_and_the_module(env: ZohoEnv) -> None:
    # The relay's write scopes, without COQL.
    env.fake.add_client(
        CLIENT_ID, SECRET, REFRESH, scopes=["ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL"]
    )
    with pytest.raises(ZohoConfigError, match=r"ZohoCRM\.coql\.READ"):
        env.client().coql("select id from Accounts")
    env.fake.expire_tokens()
    env.fake.add_client(
        CLIENT_ID, SECRET, REFRESH, scopes=["ZohoCRM.coql.READ", "ZohoCRM.modules.accounts.READ"]
    )
    client = env.client()
    env.fake.add_records("Accounts", [{"Account_Name": "A"}])
    assert len(client.coql("select id from Accounts").rows) == 1
    with pytest.raises(ZohoConfigError, match="OAUTH_SCOPE_MISMATCH"):
        client.coql("select id from Contacts")


def test_max_rows_stops_a_runaway_read(env: ZohoEnv) -> None:
    seed_accounts(env, 2500)
    client = env.client()
    got = []
    with pytest.raises(CoqlTooManyRows, match="more than 2100"):
        for row in client.select_all("Accounts", ["QB_ListID"], max_rows=2100):
            got.append(row)
    assert len(got) == 2100
