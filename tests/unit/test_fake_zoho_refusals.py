"""The fake ZOHO's ``refuse_next``: per-record errors in ``data[]``, positional, counted, used up,
the other records of the request written."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from sim.fake_zoho import FakeZoho
from tests.unit.test_fake_zoho_random_faults import _fake


def _upsert(fake: FakeZoho, token: str, records: list[dict[str, Any]]) -> tuple[int, list[Any]]:
    raw = json.dumps({"data": records, "duplicate_check_fields": ["QB_TxnID"]}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/crm/v8/Quotes/upsert",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(raw),
        "HTTP_AUTHORIZATION": f"Zoho-oauthtoken {token}",
    }
    status: list[str] = []
    body = fake(environ, lambda s, headers: status.append(s))
    return int(status[0].split()[0]), json.loads(b"".join(body))["data"]


def _quote(n: int) -> dict[str, Any]:
    line = {"Product_Name": {"id": "1"}, "Quantity": 1}
    return {"Subject": f"Estimate {n}", "QB_TxnID": f"T{n}", "Quoted_Items": [line]}


def test_the_next_records_are_refused_in_place_and_the_rest_written() -> None:
    fake, token = _fake()
    (product,) = fake.add_records("Products", [{"Product_Name": "P"}])
    records = [_quote(n) for n in range(3)]
    for r in records:
        r["Quoted_Items"][0]["Product_Name"] = {"id": product}
    fake.refuse_next("Quotes", 2)
    status, data = _upsert(fake, token, records)
    assert status == 207
    assert [d["code"] for d in data] == ["MANDATORY_NOT_FOUND", "MANDATORY_NOT_FOUND", "SUCCESS"]
    assert data[0]["status"] == "error" and data[0]["message"] == "required field not found"
    # A field the record lacks, named as ZOHO names it.
    missing = data[1]["details"]["api_name"]
    assert missing not in records[1] and data[1]["details"]["json_path"] == f"$.data[1].{missing}"
    assert [r["QB_TxnID"] for r in fake.all("Quotes")] == ["T2"] and fake.refused == 2
    # Used up: the same records again are written.
    status, data = _upsert(fake, token, records[:2])
    assert status == 201 and {d["code"] for d in data} == {"SUCCESS"}

    fake.refuse_next("Quotes", 1, "INVALID_DATA", api_name="Subject")
    status, data = _upsert(fake, token, [_quote(9) | {"Quoted_Items": records[0]["Quoted_Items"]}])
    assert status == 400 and data[0]["code"] == "INVALID_DATA"
    assert data[0]["details"]["api_name"] == "Subject" and fake.refused == 3


def test_refusals_are_checked_when_asked_for() -> None:
    fake, _ = _fake()
    with pytest.raises(ValueError, match="refusal code"):
        fake.refuse_next("Quotes", 1, "DUPLICATE_DATA")
    with pytest.raises(ValueError, match="module"):
        fake.refuse_next("Campaigns", 1)
