"""The fake ZOHO's Create Custom Fields API: ZOHO's validation rules and error codes."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from sim.fake_fields import api_name_of, create, metadata
from sim.fake_zoho import standard_modules


@pytest.fixture
def modules() -> dict[str, Any]:
    return {m.api_name: m for m in standard_modules(with_qb_fields=False)}


def post(modules, fields: Any, module: str | None = "Accounts") -> tuple[int, dict[str, Any]]:
    ids = itertools.count(100)
    query = {"module": module} if module else {}
    return create(modules, query, {"fields": fields}, lambda: next(ids))


def code_of(answer: tuple[int, dict[str, Any]]) -> str:
    body = answer[1]
    return body["fields"][0]["code"] if "fields" in body else body["code"]


def test_a_text_field_is_created_under_the_api_name_its_label_gives(modules) -> None:
    status, body = post(modules, [{"field_label": "QB ListID", "data_type": "text", "length": 40}])
    assert status == 201
    assert body == {
        "fields": [
            {
                "code": "SUCCESS",
                "details": {"id": "100"},
                "message": "field created",
                "status": "success",
            }
        ]
    }
    made = modules["Accounts"].fields["QB_ListID"]
    assert (made.length, made.custom, made.field_label, made.unique) == (
        40,
        True,
        "QB ListID",
        False,
    )
    meta = metadata("Accounts", made)
    assert meta["id"] == "100" and meta["custom_field"] is True and "external" not in meta
    assert api_name_of(" Net Terms (days) ") == "Net_Terms_days"


def test_request_level_errors(modules) -> None:
    assert post(modules, [{"field_label": "A", "data_type": "text"}], module=None)[1]["code"] == (
        "REQUIRED_PARAM_MISSING"
    )
    assert code_of(post(modules, [{"field_label": "A", "data_type": "text"}], "Nope")) == (
        "INVALID_MODULE"
    )
    assert code_of(post(modules, [])) == "INVALID_DATA"
    six = [{"field_label": f"F{i}", "data_type": "text"} for i in range(6)]
    status, body = post(modules, six)
    assert (status, body["code"]) == (400, "LIMIT_EXCEEDED")
    assert not any(f.custom for f in modules["Accounts"].fields.values())


@pytest.mark.parametrize(
    ("field", "code", "key"),
    [
        ({"data_type": "text"}, "MANDATORY_NOT_FOUND", "field_label"),
        ({"field_label": "X"}, "MANDATORY_NOT_FOUND", "data_type"),
        ({"field_label": "X", "data_type": "blob"}, "INVALID_DATA", "data_type"),
        ({"field_label": "Phone", "data_type": "text"}, "DUPLICATE_DATA", "field_label"),
        ({"field_label": "X", "data_type": "text", "length": 256}, "DEPENDENT_MISMATCH", "length"),
        ({"field_label": "X", "data_type": "phone", "length": 31}, "DEPENDENT_MISMATCH", "length"),
        ({"field_label": "X", "data_type": "boolean", "length": 1}, "DEPENDENT_MISMATCH", "length"),
        ({"field_label": "X", "data_type": "textarea"}, "DEPENDENT_FIELD_MISSING", "textarea"),
        ({"field_label": "X", "data_type": "currency"}, "DEPENDENT_FIELD_MISSING", "currency"),
        (
            {"field_label": "X", "data_type": "double", "length": 4, "decimal_place": 4},
            "DEPENDENT_MISMATCH",
            "decimal_place",
        ),
        (
            {"field_label": "X", "data_type": "picklist"},
            "EXPECTED_DEPENDENT_FIELD_MISSING",
            "pick_list_values",
        ),
        (
            {"field_label": "X", "data_type": "email", "external": {"type": "org"}},
            "NOT_ALLOWED",
            "external",
        ),
        (
            {"field_label": "X", "data_type": "text", "external": {"type": "x"}},
            "INVALID_DATA",
            "external",
        ),
    ],
)
def test_field_errors_name_the_key(modules, field, code, key) -> None:
    status, body = post(modules, [field])
    (answer,) = body["fields"]
    assert status == 400 and answer["code"] == code and answer["status"] == "error"
    assert answer["details"] == {"api_name": key, "json_path": f"$.fields[0].{key}"}


def test_some_fields_fail_others_are_created(modules) -> None:
    status, body = post(
        modules,
        [
            {"field_label": "QB Active", "data_type": "boolean"},
            {"field_label": "QB Active", "data_type": "boolean"},  # now a duplicate label
        ],
    )
    assert status == 207 and [r["code"] for r in body["fields"]] == ["SUCCESS", "DUPLICATE_DATA"]


def test_two_unique_fields_per_module(modules) -> None:
    ext = {"data_type": "text", "external": {"type": "org"}}
    status, body = post(
        modules,
        [{"field_label": "A", **ext}, {"field_label": "B", **ext}, {"field_label": "C", **ext}],
    )
    assert status == 207 and [r["code"] for r in body["fields"]][2] == "LIMIT_EXCEEDED"
    made = modules["Accounts"].fields["A"]
    assert made.unique and made.external == "org"
    assert metadata("Accounts", made)["external"]["type"] == "org"


def test_picklist_values_and_textarea_sizes(modules) -> None:
    status, _ = post(
        modules,
        [
            {
                "field_label": "Pay Status",
                "data_type": "picklist",
                "pick_list_values": [
                    {"display_value": "Paid", "actual_value": "Paid"},
                    {"display_value": "Due", "actual_value": "Pending"},
                ],
            },
            {"field_label": "Notes X", "data_type": "textarea", "textarea": {"type": "small"}},
        ],
    )
    assert status == 201
    fields = modules["Accounts"].fields
    assert fields["Pay_Status"].picklist == ("Paid", "Pending")
    assert fields["Notes_X"].length == 2000
