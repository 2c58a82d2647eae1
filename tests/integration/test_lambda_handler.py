"""The API Gateway (REST v1) Lambda handler against moto's DynamoDB and SQS."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from lxml import etree

from lambdas.handlers import qbwc_api
from lambdas.handlers.runtime import ConfigurationError
from lambdas.qbwc.passwords import hash_password
from lambdas.store.dynamo import DynamoTenantStore
from lambdas.store.ports import Tenant
from qwc import new_guid
from sim.fake_company import FakeCompany
from sim.fake_qbwc import envelope
from tests.aws_tables import relay_on_moto
from tests.lambda_context import LambdaContext

TNS = "{http://developer.intuit.com/}"


@pytest.fixture
def aws(monkeypatch) -> Iterator[Any]:
    qbwc_api.endpoint.cache_clear()
    tenant = Tenant(name="acme", qbwc_user="acme-qbwc", password_hash=hash_password("pw"))
    with relay_on_moto(monkeypatch, tenant) as url:
        yield url
    qbwc_api.endpoint.cache_clear()


def rest_event(method: str, body: bytes = b"", b64: bool = False, query=None) -> dict[str, Any]:
    return {
        "resource": "/qbwc",
        "path": "/qbwc",
        "httpMethod": method,
        "headers": {
            "Host": "abc123.execute-api.us-east-1.amazonaws.com",
            "Content-Type": "text/xml; charset=utf-8",
        },
        "queryStringParameters": query,
        "requestContext": {
            "stage": "prod",
            "path": "/prod/qbwc",
            "requestId": "r-1",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
        },
        "body": base64.b64encode(body).decode() if b64 else body.decode(),
        "isBase64Encoded": b64,
    }


def call(op: str, params: list, b64: bool = False) -> etree._Element:
    reply = qbwc_api.handler(rest_event("POST", envelope(op, params), b64), LambdaContext())
    assert reply["statusCode"] == 200, reply["body"]
    return etree.fromstring(reply["body"].encode())


def emitted_metrics(output: str) -> dict[tuple[str, str | None], float]:
    """Sum of each (metric, entity) in the embedded-metric-format lines a handler printed."""
    totals: dict[tuple[str, str | None], float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "QbxmlRelay"
            for metric in directive["Metrics"]:
                name = metric["Name"]
                value = doc[name]
                value = sum(value) if isinstance(value, list) else value
                key = (name, doc.get("entity"))
                totals[key] = totals.get(key, 0) + value
    return totals


def test_session_through_the_handler_reaches_sqs(aws, capsys) -> None:
    company = FakeCompany(customers=250)
    auth = call("authenticate", [("strUserName", "acme-qbwc"), ("strPassword", "pw")])
    ticket, status = [s.text or "" for s in auth.iter(f"{TNS}string")]
    assert status == ""
    first = True
    for _ in range(10):
        request = call(
            "sendRequestXML",
            [
                ("ticket", ticket),
                ("strHCPResponse", company.hcp_response() if first else ""),
                ("strCompanyFileName", ""),
                ("qbXMLCountry", "US"),
                ("qbXMLMajorVers", 13),
                ("qbXMLMinorVers", 0),
            ],
        ).findtext(f".//{TNS}sendRequestXMLResult")
        first = False
        percent = int(
            call(
                "receiveResponseXML",
                [
                    ("ticket", ticket),
                    ("response", company.process(request)),
                    ("hresult", ""),
                    ("message", ""),
                ],
                b64=True,
            ).findtext(f".//{TNS}receiveResponseXMLResult")
        )
        if percent == 100:
            break
    assert percent == 100
    summary = call("closeConnection", [("ticket", ticket)]).findtext(
        f".//{TNS}closeConnectionResult"
    )
    assert summary == "Synced 250 customers"
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=aws, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "250"
    counts = emitted_metrics(capsys.readouterr().out)
    assert counts[("SessionsStarted", None)] == 1
    assert counts[("SessionsCompleted", None)] == 1
    assert counts[("RecordsReceived", "Customer")] == 250
    assert counts[("RecordsQueued", "Customer")] == 250
    assert counts[("SoapCalls", None)] >= 4


def test_wsdl_follows_the_stage(aws) -> None:
    reply = qbwc_api.handler(rest_event("GET", query={"wsdl": ""}), LambdaContext())
    assert reply["statusCode"] == 200
    assert (
        'location="https://abc123.execute-api.us-east-1.amazonaws.com/prod/qbwc"' in reply["body"]
    )


def test_wsdl_uses_configured_public_url(aws, monkeypatch) -> None:
    monkeypatch.setenv("QBRELAY_PUBLIC_URL", "https://qb.example.com/qbwc")
    reply = qbwc_api.handler(rest_event("GET", query={"WSDL": None}), LambdaContext())
    assert 'location="https://qb.example.com/qbwc"' in reply["body"]


def test_bad_input_is_a_fault(aws) -> None:
    for event in (rest_event("POST", b"<oops"), rest_event("POST", b"")):
        reply = qbwc_api.handler(event, LambdaContext())
        assert reply["statusCode"] == 500 and "<faultstring>" in reply["body"]
    broken = rest_event("POST")
    broken.update(body="***", isBase64Encoded=True)
    assert qbwc_api.handler(broken, LambdaContext())["statusCode"] == 500


def test_health(aws) -> None:
    event = rest_event("GET")
    event["resource"] = event["path"] = "/health"
    event["requestContext"]["path"] = "/prod/health"
    reply = qbwc_api.handler(event, LambdaContext())
    assert reply["statusCode"] == 200 and json.loads(reply["body"])["status"] == "ok"


def support_event(file_id: str) -> dict[str, Any]:
    """GET /support/<file_id> exactly as API Gateway's REST API (Lambda proxy, payload 1.0)
    hands it over: the route template in ``resource``, the id in ``pathParameters``."""
    host = "abc123.execute-api.us-east-1.amazonaws.com"
    headers = {
        "Accept": "text/html,application/xhtml+xml,*/*",
        "Host": host,
        "User-Agent": "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 10.0)",
        "X-Forwarded-For": "198.51.100.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": "/support/{file_id}",
        "path": f"/support/{file_id}",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"file_id": file_id},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "k2v7qe",
            "resourcePath": "/support/{file_id}",
            "httpMethod": "GET",
            "extendedRequestId": "Qm1xYHkFoAMEb8Q=",
            "requestTime": "01/Jan/2026:03:00:00 +0000",
            "path": f"/prod/support/{file_id}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abc123",
            "requestTimeEpoch": 1767236400000,
            "requestId": "5b0d3c1e-2f4a-4d7b-9e8f-0a1b2c3d4e5f",
            "identity": {"sourceIp": "198.51.100.7", "userAgent": headers["User-Agent"]},
            "domainName": host,
            "deploymentId": "d1x2y3",
            "apiId": "abc123",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def test_support_page_for_the_exact_api_gateway_event(aws) -> None:
    store = DynamoTenantStore(boto3.client("dynamodb"), "tenants")
    qbwc_api.tenant_store.cache_clear()
    for name in ("globex", "initech"):
        store.create(
            Tenant(
                name=name,
                qbwc_user=f"{name}-qbwc",
                password_hash=hash_password("pw"),
                last_summary=f"Synced 12 customers for {name}",
                file_id=new_guid(),
            )
        )
    globex = store.get("globex")
    assert globex is not None

    reply = qbwc_api.handler(support_event(globex.file_id[1:-1]), LambdaContext())
    assert reply["statusCode"] == 200, reply["body"]
    assert reply["headers"]["Content-Type"].startswith("text/html")
    assert reply["headers"]["Cache-Control"] == "no-store"
    assert "Synced 12 customers for globex" in reply["body"]
    assert "initech" not in reply["body"] and "acme" not in reply["body"]
    # QBWC or a browser may lower-case the id; it is the same page.
    lower = qbwc_api.handler(support_event(globex.file_id[1:-1].lower()), LambdaContext())
    assert lower["statusCode"] == 200 and "globex" in lower["body"]

    for unknown in (new_guid()[1:-1], "not-a-guid"):
        missing = qbwc_api.handler(support_event(unknown), LambdaContext())
        assert missing["statusCode"] == 404
        assert not any(n in missing["body"] for n in ("globex", "initech", "acme", "Synced"))
    qbwc_api.tenant_store.cache_clear()


def soap_event(operation: str, params: list, source_ip: str, forwarded_for: str) -> dict[str, Any]:
    """POST /qbwc exactly as API Gateway's REST API (Lambda proxy, payload 1.0) hands it over.

    ``X-Forwarded-For`` is what the client sent with API Gateway's own entry appended; the
    caller's address API Gateway vouches for is ``requestContext.identity.sourceIp``.
    """
    host = "abc123.execute-api.us-east-1.amazonaws.com"
    headers = {
        "Content-Type": "text/xml; charset=utf-8",
        "Host": host,
        "SOAPAction": f'"http://developer.intuit.com/{operation}"',
        "User-Agent": "Mozilla/4.0 (compatible; MSIE 6.0; MS Web Services Client Protocol)",
        "X-Forwarded-For": forwarded_for,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": "/qbwc",
        "path": "/qbwc",
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "q8w9e0",
            "resourcePath": "/qbwc",
            "httpMethod": "POST",
            "extendedRequestId": "Qm1xYHkFoAMEb9Q=",
            "requestTime": "01/Jan/2026:03:00:00 +0000",
            "path": "/prod/qbwc",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abc123",
            "requestTimeEpoch": 1767236400000,
            "requestId": "6c1e4d2f-3a5b-4e8c-8f90-1b2c3d4e5f60",
            "identity": {"sourceIp": source_ip, "userAgent": headers["User-Agent"]},
            "domainName": host,
            "deploymentId": "d1x2y3",
            "apiId": "abc123",
        },
        "body": envelope(operation, params).decode(),
        "isBase64Encoded": False,
    }


def test_the_web_connector_version_follows_source_ip_across_instances(aws) -> None:
    store = DynamoTenantStore(boto3.client("dynamodb"), "tenants")
    login = [("strUserName", "acme-qbwc"), ("strPassword", "pw")]

    def soap(op: str, params: list, source_ip: str, forwarded_for: str) -> etree._Element:
        # Each call on a fresh execution environment: only DynamoDB links them.
        qbwc_api.endpoint.cache_clear()
        event = soap_event(op, params, source_ip, forwarded_for)
        reply = qbwc_api.handler(event, LambdaContext())
        assert reply["statusCode"] == 200, reply["body"]
        return etree.fromstring(reply["body"].encode())

    answer = soap("clientVersion", [("strVersion", "2.3.0.215")], "198.51.100.7", "198.51.100.7")
    assert answer.findtext(f".//{TNS}clientVersionResult") in ("", None)
    # Another caller claims that address in X-Forwarded-For: API Gateway's sourceIp decides.
    auth = soap("authenticate", login, "192.0.2.10", "198.51.100.7, 192.0.2.10")
    assert [s.text or "" for s in auth.iter(f"{TNS}string")][1] == ""
    assert store.get("acme").qbwc_version == ""
    # The Web Connector that announced it authenticates (the tenant is busy: it still counts).
    auth = soap("authenticate", login, "198.51.100.7", "10.1.2.3, 198.51.100.7")
    assert [s.text or "" for s in auth.iter(f"{TNS}string")][1] == "busy"
    assert store.get("acme").qbwc_version == "2.3.0.215"
    # The support page shows it.
    qbwc_api.tenant_store.cache_clear()
    file_id = store.ensure_file_id("acme")
    page = qbwc_api.handler(support_event(file_id[1:-1]), LambdaContext())
    assert page["statusCode"] == 200 and "2.3.0.215" in page["body"]
    qbwc_api.tenant_store.cache_clear()


def test_missing_configuration_is_clear(monkeypatch) -> None:
    qbwc_api.endpoint.cache_clear()
    monkeypatch.delenv("QBRELAY_TENANTS_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="QBRELAY_TENANTS_TABLE"):
        qbwc_api.endpoint()
    qbwc_api.endpoint.cache_clear()


def test_in_lambda_a_bad_environment_fails_the_init_phase(monkeypatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "qbwc")
    for name in qbwc_api.REQUIRED_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match="QBRELAY_STATE_TABLE"):
        importlib.reload(qbwc_api)
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME")
    importlib.reload(qbwc_api)
