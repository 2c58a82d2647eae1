"""The fake ZOHO's update by id: a unique field (the relay's external id) cannot take a value
another record holds (DUPLICATE_DATA naming it), and a missing id is INVALID_DATA on ``id``."""

from __future__ import annotations

import io
import json
from typing import Any

from sim.fake_zoho import FakeZoho
from tests.unit.test_fake_zoho_random_faults import _fake


def _update(fake: FakeZoho, token: str, records: list[dict[str, Any]]) -> tuple[int, list[Any]]:
    raw = json.dumps({"data": records, "trigger": []}).encode()
    environ = {
        "REQUEST_METHOD": "PUT",
        "PATH_INFO": "/crm/v8/Accounts",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(raw),
        "HTTP_AUTHORIZATION": f"Zoho-oauthtoken {token}",
    }
    status: list[str] = []
    body = fake(environ, lambda s, headers: status.append(s))
    return int(status[0].split()[0]), json.loads(b"".join(body))["data"]


def test_an_update_may_not_take_a_unique_value_another_record_holds() -> None:
    fake, token = _fake()
    a, b = fake.add_records("Accounts", [{"Account_Name": "A", "QB_ListID": "80-1"}, {}])
    status, data = _update(
        fake, token, [{"id": b, "QB_ListID": "80-1"}, {"id": a, "QB_ListID": "80-1", "Phone": "1"}]
    )
    assert status == 207
    assert data[0]["code"] == "DUPLICATE_DATA" and data[0]["details"]["api_name"] == "QB_ListID"
    assert data[0]["details"]["duplicate_record"] == {"id": a}
    assert "QB_ListID" not in fake.records["Accounts"][b]
    assert data[1]["code"] == "SUCCESS" and fake.records["Accounts"][a]["Phone"] == "1"
    status, data = _update(fake, token, [{"id": "999", "Phone": "2"}])
    assert status == 400 and data[0]["code"] == "INVALID_DATA"
    assert data[0]["details"]["api_name"] == "id"
