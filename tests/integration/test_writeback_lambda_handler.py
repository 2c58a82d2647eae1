"""Desktop write-back through the relay's Lambda handler over moto's DynamoDB and SQS: an
operation in the WriteBack table becomes a QuickBooks customer in one Web Connector session,
and a session that dies after QuickBooks applied it is reconciled without a second one."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import qbwc_api
from lambdas.qbwc.passwords import hash_password
from lambdas.store.dynamo import DynamoTenantStore, DynamoWriteBackStore
from lambdas.store.ports import Tenant
from lambdas.writeback.model import ACCOUNTS, ADD, CUSTOMER, OpStatus, WriteOp, op_id
from sim.fake_company import FakeCompany
from tests.aws_tables import create_relay_tables
from tests.integration.test_lambda_handler import TNS, call


@pytest.fixture
def aws(monkeypatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        ddb = boto3.client("dynamodb")
        for env, table in create_relay_tables(ddb).items():
            monkeypatch.setenv(env, table)
        url = boto3.client("sqs").create_queue(QueueName="records")["QueueUrl"]
        monkeypatch.setenv("QBRELAY_RECORD_QUEUE_URL", url)
        monkeypatch.delenv("QBRELAY_PUBLIC_URL", raising=False)
        monkeypatch.delenv("QBRELAY_CAPTURE_FUNCTION", raising=False)
        qbwc_api.endpoint.cache_clear()
        qbwc_api.writeback_store.cache_clear()
        DynamoTenantStore(ddb, "tenants").create(
            Tenant(
                name="acme",
                qbwc_user="acme-qbwc",
                password_hash=hash_password("pw"),
                enabled_entities=("Customer",),
                writeback=True,
            )
        )
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
