"""The fake ZOHO's COQL parser and evaluator, without HTTP."""

from __future__ import annotations

import pytest

from sim.fake_coql import CoqlError, execute, parse

TYPES = {"Name": "text", "Price": "currency", "Active": "boolean", "Owner_Account": "lookup"}
RECORDS = [
    {"id": "12", "Name": "Bolt", "Price": 1.5, "Active": True, "Owner_Account": {"id": "7"}},
    {"id": "5", "Name": 'Say "hi"', "Price": 3, "Active": False},
    {"id": "100", "Name": "", "Price": None},
]


def ids(query: str) -> list[str]:
    rows, _ = execute(parse(query), TYPES, RECORDS)
    return [r["id"] for r in rows]


def test_comparators_and_literals() -> None:
    q = "SELECT Name FROM Things WHERE "
    assert ids(q + "Price between 1 and 3") == ["5", "12"]
    assert ids(q + "Price <> 3") == ["12"]
    assert ids(q + 'Name = "Say \\"hi\\""') == ["5"]
    assert ids(q + "Name not like '%o%'") == ["5"]
    assert ids(q + "Name is null") == ["100"]  # an empty string is no value
    assert ids(q + "Owner_Account = '7'") == ["12"]
    assert ids(q + "'Name' = 'Bolt'") == ["12"]  # a quoted column, as for reserved words
    assert ids(q + "(Price > 1 and (Active = false or Name = 'Bolt'))") == ["5", "12"]
    assert ids("select 'Name' from Things order by Price desc") == ["5", "12", "100"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("select id from T limit 0", "INVALID_QUERY"),
        ("select id from T limit 10 offset", "SYNTAX_ERROR"),
        ("select id from T where Name = 'open", "SYNTAX_ERROR"),
        ("select id from T where Name = 'a' or", "SYNTAX_ERROR"),
        ("select from T", "SYNTAX_ERROR"),
        ("select id from T order by id, id", "DUPLICATE_DATA"),
        ("select id from T order by " + ", ".join(f"F{i}" for i in range(11)), "LIMIT_EXCEEDED"),
        ("select id from T where (id = 1 and (id = 2 and id = 3 or id = 4))", "SYNTAX_ERROR"),
    ],
)
def test_parse_errors(query: str, code: str) -> None:
    with pytest.raises(CoqlError) as err:
        parse(query)
    assert err.value.code == code


def test_at_most_25_criteria() -> None:
    def nested(n: int) -> str:
        text = "id = 1"
        for _ in range(n - 1):
            text = f"({text} and id = 1)"
        return text

    parse(f"select id from T where {nested(25)}")
    with pytest.raises(CoqlError) as err:
        parse(f"select id from T where {nested(26)}")
    assert err.value.code == "LIMIT_EXCEEDED" and err.value.details["maximum"] == 25


def test_type_errors_come_before_any_record_is_read() -> None:
    with pytest.raises(CoqlError) as err:
        execute(parse("select id from T where Price > 'cheap'"), TYPES, [])
    assert err.value.code == "INVALID_QUERY" and err.value.details["column_name"] == "Price"
    with pytest.raises(CoqlError, match="INVALID_QUERY"):
        execute(parse("select id from T where Price like '1%'"), TYPES, [])
