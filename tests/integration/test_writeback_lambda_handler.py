"""Desktop write-back through the relay's Lambda handler over moto's DynamoDB and SQS: an
operation in the WriteBack table becomes a QuickBooks customer in one Web Connector session,
and a session that dies after QuickBooks applied it is reconciled without a second one."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from lambdas.handlers import qbwc_api
from lambdas.qbwc.passwords import hash_password
from lambdas.store.dynamo import DynamoWriteBackStore
from lambdas.store.ports import Tenant
from lambdas.writeback.model import ACCOUNTS, ADD, CUSTOMER, OpStatus, WriteOp, op_id
from sim.fake_company import FakeCompany
from tests.aws_tables import relay_on_moto
from tests.integration.test_lambda_handler import TNS, call


@pytest.fixture
def aws(monkeypatch) -> Iterator[str]:
    qbwc_api.endpoint.cache_clear()
    qbwc_api.writeback_store.cache_clear()
    tenant = Tenant(
        name="acme",
        qbwc_user="acme-qbwc",
        password_hash=hash_password("pw"),
        enabled_entities=("Customer",),
        writeback=True,
    )
    with relay_on_moto(monkeypatch, tenant) as url:
        yield url
    qbwc_api.endpoint.cache_clear()
    qbwc_api.writeback_store.cache_clear()


def store() -> DynamoWriteBackStore:
    return DynamoWriteBackStore(boto3.client("dynamodb"), "writeback")


def add_op(zoho_id: str, name: str) -> WriteOp:
    version = "2024-05-01T10:00:00+00:00"
    return WriteOp(
        tenant="acme",
        op_id=op_id(ACCOUNTS, zoho_id, version),
        seq=1,
        kind=CUSTOMER,
        action=ADD,
        edition="qbd",
        zoho_module=ACCOUNTS,
        zoho_id=zoho_id,
        zoho_version=version,
        fields={"name": name, "phone": "555-0101"},
    )


def session(company: FakeCompany, lose_at: int | None = None) -> tuple[list[int], list[str]]:
    """One Web Connector update through the handler; ``lose_at``: QuickBooks processes that
    request and the Web Connector dies before posting its answer."""
    auth = call("authenticate", [("strUserName", "acme-qbwc"), ("strPassword", "pw")])
    ticket, status = [s.text or "" for s in auth.iter(f"{TNS}string")][:2]
    assert status not in ("nvu", "none", "busy"), status
    percents: list[int] = []
    sent: list[str] = []
    for n in range(1, 30):
        request = call(
            "sendRequestXML",
            [
                ("ticket", ticket),
                ("strHCPResponse", company.hcp_response() if n == 1 else ""),
                ("strCompanyFileName", ""),
                ("qbXMLCountry", "US"),
                ("qbXMLMajorVers", 13),
                ("qbXMLMinorVers", 0),
            ],
        ).findtext(f".//{TNS}sendRequestXMLResult")
        if not request:
            break
        sent.append(request)
        response = company.process(request)
        if n == lose_at:
            company.end_session()
            return percents, sent
        percent = int(
            call(
                "receiveResponseXML",
                [("ticket", ticket), ("response", response), ("hresult", ""), ("message", "")],
            ).findtext(f".//{TNS}receiveResponseXMLResult")
        )
        percents.append(percent)
        if percent >= 100:
            break
    call("closeConnection", [("ticket", ticket)])
    company.end_session()
    return percents, sent


def queued(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    out: list[dict[str, Any]] = []
    for _ in range(20):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        out.extend(json.loads(m["Body"]) for m in got)
    return out


def test_an_operation_in_the_dynamodb_table_becomes_one_customer(aws: str) -> None:
    company = FakeCompany(customers=2, seed=3)
    op = add_op("z-1", "Northwind Traders")
    assert store().enqueue(op)
    percents, _ = session(company)
    assert percents[-1] == 100
    (customer,) = [c for c in company.data.customers.values() if c.name == "Northwind Traders"]
    stored = store().get("acme", op.op_id)
    assert stored is not None and stored.status == OpStatus.APPLIED
    assert stored.qb_id == customer.list_id and stored.expires_at is not None
    messages = queued(aws)
    assert [m["id"] for m in messages if m.get("link") == "Accounts/z-1"] == [customer.list_id]
    assert any(m["entity"] == "ZohoUpdate" for m in messages)
    _, again = session(company)
    assert not any("CustomerAddRq" in r for r in again)


def test_a_session_lost_after_the_add_is_reconciled_through_the_handler(aws: str) -> None:
    company = FakeCompany(customers=2, seed=3)
    op = add_op("z-2", "Contoso Ltd")
    store().enqueue(op)
    _, sent = session(company, lose_at=1)
    assert "CustomerAddRq" in sent[0]
    assert store().get("acme", op.op_id).status == OpStatus.SENT
    # The abandoned session's lease runs out before the Web Connector's next update.
    relay = qbwc_api.endpoint()._app.relay
    relay.clock = lambda: time.time() + 3600
    percents, sent = session(company)
    assert percents[-1] == 100
    assert not any("CustomerAddRq" in r for r in sent)
    assert any('oldMessageSetID="' in r for r in sent)
    assert len([c for c in company.data.customers.values() if c.name == "Contoso Ltd"]) == 1
    assert store().get("acme", op.op_id).status == OpStatus.APPLIED


class DynamoCalls:
    """Every DynamoDB action a client made, as IAM authorizes it: (table, index, action)."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        name = model.name
        if name == "BatchGetItem":
            self.seen.update((t, "", name) for t in params["RequestItems"])
        elif name == "TransactWriteItems":
            for item in params["TransactItems"]:
                for kind, action in (("Put", "PutItem"), ("Update", "UpdateItem")):
                    if kind in item:
                        self.seen.add((item[kind]["TableName"], "", action))
                if "ConditionCheck" in item:
                    self.seen.add((item["ConditionCheck"]["TableName"], "", "ConditionCheck"))
        else:
            self.seen.add((params.get("TableName", ""), params.get("IndexName", ""), name))


# What infra/stack.py grants the relay on its tables and indexes (the synthesized policy is
# checked against the same in tests/infrastructure/test_least_privilege.py).
RELAY_INDEXES = {("mappings", "by_tenant"), ("mappings", "by_zoho"), ("writeback", "open")}
RELAY_INDEXES |= {("writeback", "by_status")}


def test_the_writers_calls_are_within_the_relays_grants(aws: str, monkeypatch) -> None:
    from tests.infrastructure.test_least_privilege import EXPECTED_TABLES

    calls = DynamoCalls()
    real = boto3.client

    def recorded(service: str, *args: Any, **kwargs: Any) -> Any:
        client = real(service, *args, **kwargs)
        if service == "dynamodb":
            client.meta.events.register("before-parameter-build.dynamodb", calls)
        return client

    monkeypatch.setattr(boto3, "client", recorded)
    qbwc_api.endpoint.cache_clear()
    qbwc_api.writeback_store.cache_clear()
    company = FakeCompany(customers=3, seed=3)
    existing, other = list(company.data.customers.values())[:2]
    ops = store()
    # A name in use (3100: the customer is found by name, then checked for another account),
    # an edit whose EditSequence is unknown (queried first), and a plain Add.
    ops.enqueue(add_op("z-3", existing.name))
    ops.enqueue(add_op("z-4", "Fabrikam Inc").with_(seq=2))
    mod = add_op("z-5", other.name).with_(
        op_id="wb-mod-z-5", seq=3, action="mod", qb_id=other.list_id, base={"name": other.name}
    )
    ops.enqueue(mod)
    percents, _ = session(company)
    assert percents[-1] == 100
    assert ops.get("acme", add_op("z-3", existing.name).op_id).linked
    tables = {os.environ[env]: env for env in os.environ if env.endswith("_TABLE")}
    short = {
        "QBRELAY_TENANTS_TABLE": "tenants",
        "QBRELAY_SESSIONS_TABLE": "sessions",
        "QBRELAY_STATE_TABLE": "state",
        "QBRELAY_MAPPINGS_TABLE": "mappings",
        "QBRELAY_RUNS_TABLE": "runs",
        "QBRELAY_WRITEBACK_TABLE": "writeback",
    }
    granted = EXPECTED_TABLES["relay"]
    outside = set()
    for table, index, action in calls.seen:
        name = short.get(tables.get(table, ""), table)
        if index:
            if (name, index) not in RELAY_INDEXES or action != "Query":
                outside.add((name, index, action))
        elif action not in granted.get(name, set()):
            outside.add((name, "", action))
    assert not outside
