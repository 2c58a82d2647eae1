"""The fake ZOHO's random-failure mode: seeded, bounded to its path, counted, switched off."""

from __future__ import annotations

import io
import json
from collections import Counter
from typing import Any

import pytest

from sim.fake_zoho import RANDOM_KINDS, FakeZoho

CLIENT, SECRET, REFRESH = "1000.UNIT", "unit-secret", "1000.unit-refresh"


def _call(fake: FakeZoho, method: str, path: str, body: Any = None, token: str = "") -> int:
    raw = json.dumps(body).encode() if body is not None else b""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(raw),
        "HTTP_AUTHORIZATION": f"Zoho-oauthtoken {token}",
    }
    status: list[str] = []
    fake(environ, lambda s, headers: status.append(s))
    return int(status[0].split()[0])


def _token(fake: FakeZoho) -> str:
    form = f"grant_type=refresh_token&client_id={CLIENT}&client_secret={SECRET}"
    raw = f"{form}&refresh_token={REFRESH}".encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/oauth/v2/token",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "wsgi.input": io.BytesIO(raw),
    }
    body = fake(environ, lambda s, headers: None)
    return json.loads(b"".join(body))["access_token"]


def _fake() -> tuple[FakeZoho, str]:
    fake = FakeZoho(timeout_delay=0.0)
    fake.add_client(CLIENT, SECRET, REFRESH)
    return fake, _token(fake)


def _statuses(seed: int, n: int = 200, rate: float = 0.3) -> list[int]:
    fake, token = _fake()
    fake.fail_randomly(rate, seed=seed)
    return [_call(fake, "GET", "/crm/v8/settings/modules", token=token) for _ in range(n)]


def test_a_seeded_rate_fails_about_that_share_with_every_kind_and_repeats() -> None:
    fake, token = _fake()
    faults = fake.fail_randomly(0.3, seed=11)
    got = Counter(_call(fake, "GET", "/crm/v8/settings/modules", token=token) for _ in range(400))
    assert faults.seen == 400
    failed = sum(faults.failed.values())
    assert 80 <= failed <= 160, failed
    assert set(faults.failed) == set(RANDOM_KINDS)
    # A "timeout" answers late but answers: only 429 and 5xx show as statuses.
    assert got[429] == faults.failed["429"]
    assert got[500] == faults.failed["500"] and got[503] == faults.failed["503"]
    assert got[200] == 400 - failed + faults.failed["timeout"]
    assert _statuses(5) == _statuses(5)
    assert _statuses(5) != _statuses(6)


def test_random_faults_stay_on_their_path_spare_coql_when_asked_and_stop_on_clear() -> None:
    fake, token = _fake()
    fake.fail_randomly(1.0, seed=1, kinds=["503"], coql=False)
    assert _call(fake, "GET", "/crm/v8/settings/modules", token=token) == 503
    query = {"select_query": "select id from Accounts where id is not null limit 1"}
    assert _call(fake, "POST", "/crm/v8/coql", query, token=token) == 204
    assert _token(fake)  # the accounts server is not under /crm/
    fake.clear_faults()
    assert _call(fake, "GET", "/crm/v8/settings/modules", token=token) == 200
    assert fake.random_faults.seen == 1 and fake.random_faults.failed == {"503": 1}
    with pytest.raises(ValueError):
        fake.fail_randomly(1.5)
