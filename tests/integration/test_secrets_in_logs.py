"""No secret reaches a log line, stdout or stderr, with every logger at DEBUG.

Swept: the demo end to end (``qbrelay --log-level DEBUG demo --json`` as a subprocess, and
``run_demo`` in process), the local pipeline (relay over HTTP on 127.0.0.1, fake Web
Connector, forwarder worker into a fake ZOHO) with wrong passwords, a ZOHO 401 INVALID_TOKEN,
a token-endpoint 500 and bad SOAP envelopes, ``qbrelay zoho set-credentials`` / ``zoho check``,
and the Lambda relay handler under moto with passwords in SOAP bodies.

What counts as a secret: every Web Connector password the relay was asked to check, every
ticket it issued, every ZOHO client secret and refresh token registered with a fake ZOHO,
every access token a fake ZOHO issued, and any ``Authorization`` header or its
``Zoho-oauthtoken`` value. They are learnt by wrapping ``QbwcRelay.authenticate``,
``FakeZoho.add_client`` and ``FakeZoho._token`` (in the subprocess too, through a
``sitecustomize`` on its ``PYTHONPATH``), so the demo's own random secrets are known.

Tickets: the relay names a session by the first 8 hex characters of its ticket in some
messages (``session 1a2b3c4d… changed concurrently``). That is 32 of the ticket's 160 bits,
leaving 128 unknown: not enough to take over the session, so it is allowed. Any 9 consecutive
characters of a ticket anywhere else in the output count as a leak.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from lambdas.handlers import qbwc_api
from lambdas.handlers.runtime import WIRE_LOGGERS, quiet_wire_loggers
from lambdas.local.cli import main
from lambdas.local.demo import DemoCompany, run_demo
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import QbwcRelay
from lambdas.store.ports import Tenant
from lambdas.store.sqlite import SqliteDatabase
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector, envelope
from sim.fake_zoho import FakeZoho, FakeZohoServer
from tests.aws_tables import relay_on_moto
from tests.integration.integrity_rig import PASSWORD, USER, company, local_rig
from tests.integration.zoho_helpers import CLIENT_ID, ZohoEnv
from tests.lambda_context import LambdaContext

LOGGERS = ("", "lambdas", "qbxml", "sim", "urllib3", "requests", "waitress", "botocore", "spyne")
ROOT = Path(__file__).resolve().parents[2]
TICKET_WINDOW = 9  # more than the 8-character prefix the relay may show
AUTH_HEADER = re.compile(r"authorization['\"]?\s*[:=]|zoho-oauthtoken", re.IGNORECASE)
STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
SMALL = {
    "customers": 12,
    "items": 4,
    "invoices": 10,
    "sales_orders": 2,
    "estimates": 2,
    "payments": 4,
}

# Loaded by the demo subprocess: appends every secret it handles to $SWEEP_SECRETS_FILE.
SITECUSTOMIZE = '''
"""Record the secrets the demo subprocess handles, for the log sweep."""
import json
import os

from lambdas.qbwc.relay import QbwcRelay
from sim.fake_zoho import FakeZoho

_PATH = os.environ["SWEEP_SECRETS_FILE"]


def _note(kind, value):
    with open(_PATH, "a", encoding="utf-8") as f:
        f.write(json.dumps([kind, value]) + "\\n")


_authenticate, _add_client, _token = QbwcRelay.authenticate, FakeZoho.add_client, FakeZoho._token


def authenticate(self, user, password, client=None):
    _note("password", password)
    reply = _authenticate(self, user, password, client)
    _note("ticket", reply[0])
    return reply


def add_client(self, client_id, secret, refresh_token, scopes=()):
    _note("secret", secret)
    _note("secret", refresh_token)
    return _add_client(self, client_id, secret, refresh_token, scopes)


def token(self, form, fault):
    reply = _token(self, form, fault)
    if isinstance(reply.body, dict) and "access_token" in reply.body:
        _note("secret", reply.body["access_token"])
    return reply


QbwcRelay.authenticate, FakeZoho.add_client, FakeZoho._token = authenticate, add_client, token
'''


@dataclass
class Sweep:
    """The secrets seen so far and every line of output to check against them."""

    secrets: set[str] = field(default_factory=set)
    tickets: set[str] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)
    lines: int = 0
    records: int = 0

    def add_records(self, records: list[logging.LogRecord]) -> None:
        """Every part of each record a handler could write: message, args, extras, traceback."""
        for r in records:
            self.records += 1
            try:
                parts = [r.getMessage()]
            except Exception:  # a record whose args do not fit its message: keep both raw
                parts = [str(r.msg)]
            parts += [str(r.msg), repr(r.args)]
            parts += [repr(v) for k, v in vars(r).items() if k not in STANDARD_ATTRS]
            if r.exc_info and r.exc_info[1] is not None:
                parts.append("".join(traceback.format_exception(*r.exc_info)))
            parts += [r.exc_text or "", r.stack_info or ""]
            self.add_text("\n".join(parts), count_lines=False)
            self.lines += 1

    def add_text(self, text: str, count_lines: bool = True) -> None:
        """Output (stdout, stderr) to check."""
        self.texts.append(text)
        if count_lines:
            self.lines += len(text.splitlines())

    def check(self) -> None:
        """Fail naming the first leak found (the secret is shown only by its length)."""
        blob = "\n".join(self.texts)
        for value in self.secrets - {""}:
            assert value not in blob, f"a secret of {len(value)} chars leaked"
        for ticket in self.tickets:
            for i in range(len(ticket) - TICKET_WINDOW + 1):
                at = blob.find(ticket[i : i + TICKET_WINDOW])
                assert at < 0, f"ticket chars {i}+ leaked: ...{blob[max(0, at - 160) : at + 60]}"
        match = AUTH_HEADER.search(blob)
        assert match is None, f"an Authorization header leaked: {blob[match.start() - 40 :][:80]}"
        assert self.records or self.lines, "nothing was captured"


@pytest.fixture
def sweep(caplog, monkeypatch) -> Iterator[Sweep]:
    """DEBUG on every logger, and the in-process secrets recorded as they are handled."""
    found = Sweep()
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)
    authenticate, add_client, token = QbwcRelay.authenticate, FakeZoho.add_client, FakeZoho._token

    def noted_authenticate(self, user, password, client=None):
        found.secrets.add(password)
        reply = authenticate(self, user, password, client)
        if reply and reply[0]:
            found.tickets.add(reply[0])
        return reply

    def noted_add_client(self, client_id, secret, refresh_token, scopes=()):
        found.secrets.update((secret, refresh_token))
        return add_client(self, client_id, secret, refresh_token, scopes)

    def noted_token(self, form, fault):
        reply = token(self, form, fault)
        if isinstance(reply.body, dict) and "access_token" in reply.body:
            found.secrets.add(reply.body["access_token"])
        return reply

    monkeypatch.setattr(QbwcRelay, "authenticate", noted_authenticate)
    monkeypatch.setattr(FakeZoho, "add_client", noted_add_client)
    monkeypatch.setattr(FakeZoho, "_token", noted_token)
    yield found


def finish(sweep: Sweep, caplog: Any, capfd: Any, *outputs: str) -> None:
    """Add what this test logged and printed, then check it all."""
    sweep.add_records(caplog.records)
    out, err = capfd.readouterr()
    for text in (out, err, *outputs):
        sweep.add_text(text)
    sweep.check()
    print(f"swept {sweep.records} log records, {sweep.lines} lines", file=sys.__stderr__)


@dataclass
class RandomZohoEnv(ZohoEnv):
    """A ZohoEnv whose client secret and refresh token are fresh random strings."""

    secret: str = ""
    refresh: str = ""

    def credentials(self, **kw: Any):
        """The env's credentials with this run's random secret and refresh token."""
        return super().credentials(
            **{"client_secret": self.secret, "refresh_token": self.refresh, **kw}
        )


@pytest.fixture
def random_zoho(tmp_path, sweep) -> Iterator[RandomZohoEnv]:
    """A fake ZOHO on 127.0.0.1 with random credentials (noted by ``sweep``)."""
    secret, refresh = secrets.token_urlsafe(24), "1000." + secrets.token_hex(24)
    fake = FakeZoho(timeout_delay=0.3)
    fake.add_client(CLIENT_ID, secret, refresh)
    server = FakeZohoServer(fake).start()
    env = RandomZohoEnv(
        fake, server.url, SqliteDatabase.in_dir(tmp_path / "store"), secret=secret, refresh=refresh
    )
    try:
        yield env
    finally:
        for s in env.sessions:
            s.close()
        server.stop()


def test_demo_subprocess_at_debug(tmp_path) -> None:
    """``qbrelay --log-level DEBUG demo --json``: stdout and stderr hold none of its secrets."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    noted = tmp_path / "secrets.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(hook), str(ROOT)]),
        "SWEEP_SECRETS_FILE": str(noted),
    }
    counts = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL.items()]
    args = ["--log-level", "DEBUG", "demo", "--json", "--data-dir", str(tmp_path / "d"), *counts]
    done = subprocess.run(
        [sys.executable, "-m", "lambdas.local.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["zoho_records"] > 0
    assert "DEBUG" in done.stderr  # the run really logged at DEBUG
    sweep = Sweep()
    for line in noted.read_text(encoding="utf-8").splitlines():
        kind, value = json.loads(line)
        (sweep.tickets if kind == "ticket" else sweep.secrets).add(value)
    assert len(sweep.tickets) == 1 and len(sweep.secrets) >= 4  # password, secret, refresh, token
    sweep.add_text(done.stdout)
    sweep.add_text(done.stderr)
    sweep.check()


def test_demo_in_process(sweep, caplog, capfd, tmp_path, monkeypatch, random_zoho) -> None:
    """``run_demo`` with its own fake ZOHO, then through the real client to a fake ZOHO whose
    credentials come from the environment."""
    first = run_demo(tmp_path / "own", DemoCompany(**SMALL))
    assert first.session.last_error is None and first.zoho.records > 0
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", random_zoho.secret)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", random_zoho.refresh)
    random_zoho.fake.inject("invalid_token", times=1)
    second = run_demo(tmp_path / "real", DemoCompany(**SMALL), zoho_accounts_url=random_zoho.url)
    assert second.session.last_error is None and second.zoho.records > 0
    assert random_zoho.fake.token_calls >= 2  # the 401 made the client refresh
    assert len(sweep.tickets) == 2
    finish(sweep, caplog, capfd, json.dumps(first.to_json()), json.dumps(second.to_json()))


def bad_envelopes(password: str) -> list[bytes]:
    """SOAP bodies the relay refuses, each carrying the password somewhere."""
    good = envelope("authenticate", [("strUserName", USER), ("strPassword", password)])
    return [
        good[: len(good) // 2 + 40],  # cut off inside the envelope
        good.replace(b"authenticate", b"authenticat3"),  # unknown operation
        b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY p '" + password.encode() + b"'>]>" + good,
        good.replace(b"<soap:Body>", b"<soap:Body><junk>" + password.encode() + b"</junk>"),
        good.replace(b"strPassword", b"strPassw\xff\xfeord"),  # not UTF-8
        password.encode(),  # not XML at all
        good.replace(b"soap:Envelope", b"soap:Envelop"),  # mismatched tags
    ]


def test_local_pipeline_faults(sweep, caplog, capfd, tmp_path, random_zoho) -> None:
    """Wrong passwords, bad envelopes, INVALID_TOKEN and a token-endpoint 500, end to end."""
    books = company(customers=8, items=3, invoices=6, payments=2)
    with local_rig(random_zoho, books, tmp_path) as rig:
        qbwc = FakeWebConnector(rig.url, owner_id=books.owner_id)
        try:
            for wrong in (PASSWORD + "x", "Wrong-password-" + secrets.token_hex(6), ""):
                result = qbwc.run_session(USER, wrong, books)
                assert result.auth_status == "nvu"
            result = qbwc.run_session("nobody-" + secrets.token_hex(4), PASSWORD, books)
            assert result.auth_status == "nvu"
            faults = 0
            for body in bad_envelopes(PASSWORD):
                reply = requests.post(
                    rig.url, data=body, headers={"Content-Type": "text/xml"}, timeout=10
                )
                faults += reply.status_code == 500
            assert faults == len(bad_envelopes(PASSWORD))
        finally:
            qbwc.close()
        random_zoho.fake.inject("invalid_token", times=1)
        rig.session()
        rig.settle()
        for sid in sorted(books.snapshot("Customer").records)[:3]:
            books.modify("Customer", sid, phone="555-0199")
        random_zoho.fake.expire_tokens()
        random_zoho.fake.inject("token_500", times=2, path="/oauth/")
        rig.session()
        rig.deliver(rounds=3)
    assert random_zoho.fake.token_calls >= 3 and random_zoho.fake.faults_left() == 0
    assert PASSWORD in sweep.secrets and len(sweep.tickets) >= 2
    finish(sweep, caplog, capfd)


def test_zoho_commands_at_debug(sweep, caplog, capfd, tmp_path, monkeypatch, random_zoho) -> None:
    """``qbrelay --log-level DEBUG zoho set-credentials`` then ``zoho check``, good and bad."""

    def set_credentials(secret: str, refresh: str, tenant: str) -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{secret}\n{refresh}\n"))
        return main(
            [
                "--log-level",
                "DEBUG",
                "zoho",
                "set-credentials",
                "--tenant",
                tenant,
                "--data-centre",
                "eu",
                "--client-id",
                CLIENT_ID,
                "--accounts-url",
                random_zoho.url,
                "--data-dir",
                str(tmp_path),
            ]
        )

    assert set_credentials(random_zoho.secret, random_zoho.refresh, "acme") == 0
    check = ["--log-level", "DEBUG", "zoho", "check", "--data-dir", str(tmp_path), "--tenant"]
    assert main([*check, "acme"]) == 0
    random_zoho.fake.expire_tokens()
    random_zoho.fake.inject("token_500", times=5, path="/oauth/")
    main([*check, "acme"])
    random_zoho.fake.clear_faults()
    wrong_secret, wrong_refresh = secrets.token_urlsafe(24), "1000." + secrets.token_hex(24)
    sweep.secrets.update((wrong_secret, wrong_refresh))
    assert set_credentials(wrong_secret, random_zoho.refresh, "bad-secret") == 0
    assert main([*check, "bad-secret"]) == 1
    assert set_credentials(random_zoho.secret, wrong_refresh, "bad-refresh") == 0
    assert main([*check, "bad-refresh"]) == 1
    finish(sweep, caplog, capfd)


@pytest.fixture
def aws(monkeypatch) -> Iterator[str]:
    """moto's DynamoDB and SQS with one tenant, as the Lambda handler is configured."""
    qbwc_api.endpoint.cache_clear()
    tenant = Tenant(name="acme", qbwc_user=USER, password_hash=hash_password(PASSWORD))
    with relay_on_moto(monkeypatch, tenant) as url:
        quiet_wire_loggers()  # as at the handler's import (the sweep fixture forced DEBUG)
        yield url
    qbwc_api.endpoint.cache_clear()


def rest_event(body: bytes) -> dict[str, Any]:
    """An API Gateway (REST v1) POST /qbwc event."""
    return {
        "resource": "/qbwc",
        "path": "/qbwc",
        "httpMethod": "POST",
        "headers": {
            "Host": "abc123.execute-api.us-east-1.amazonaws.com",
            "Content-Type": "text/xml; charset=utf-8",
        },
        "queryStringParameters": None,
        "requestContext": {
            "stage": "prod",
            "path": "/prod/qbwc",
            "requestId": "r-1",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        },
        "body": body.decode("latin-1"),
        "isBase64Encoded": False,
    }


def test_lambda_handler_with_passwords_in_the_body(sweep, caplog, capfd, aws) -> None:
    """The relay Lambda, good and wrong passwords and bad envelopes: its EMF lines and logs.

    botocore's own DEBUG wire log prints DynamoDB request bodies, session tickets included, so
    the handler's start (``quiet_wire_loggers``) keeps botocore at INFO: it is swept at that
    level here (the one a DEBUG run of the function really has), every other logger at DEBUG.
    """
    for name in WIRE_LOGGERS:
        assert logging.getLogger(name).level == logging.INFO
        caplog.set_level(logging.INFO, logger=name)
    company_file = FakeCompany(customers=5)
    replies = []
    for password in (PASSWORD, PASSWORD + "-wrong", "Other-" + secrets.token_hex(8)):
        body = envelope("authenticate", [("strUserName", USER), ("strPassword", password)])
        replies.append(qbwc_api.handler(rest_event(body), LambdaContext()))
    assert [r["statusCode"] for r in replies] == [200, 200, 200]
    ticket = next(t for t in sweep.tickets if t in replies[0]["body"])
    request = envelope(
        "sendRequestXML",
        [
            ("ticket", ticket),
            ("strHCPResponse", company_file.hcp_response()),
            ("strCompanyFileName", ""),
            ("qbXMLCountry", "US"),
            ("qbXMLMajorVers", 13),
            ("qbXMLMinorVers", 0),
        ],
    )
    assert qbwc_api.handler(rest_event(request), LambdaContext())["statusCode"] == 200
    close = envelope("closeConnection", [("ticket", ticket)])
    assert qbwc_api.handler(rest_event(close), LambdaContext())["statusCode"] == 200
    for body in bad_envelopes(PASSWORD):
        reply = qbwc_api.handler(rest_event(body), LambdaContext())
        assert reply["statusCode"] in (400, 500)
    sweep.secrets.add(PASSWORD)
    finish(sweep, caplog, capfd)
