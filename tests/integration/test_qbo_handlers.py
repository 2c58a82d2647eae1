"""The three QuickBooks Online Lambda handlers (qbo_api, qbo_sync, qbo_cdc) as Lambda runs them:
API Gateway, SQS FIFO and scheduled events in; DynamoDB, SQS, EventBridge and Secrets Manager
under moto; the fake Intuit on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import qbo_cdc, qbo_sync
from lambdas.metrics import NoMetrics
from lambdas.ops.api_keys import HEADER, create_key
from lambdas.qbo.connections import CONNECTED, NEEDS_RECONNECT
from lambdas.qbo.tokens import secret_name
from lambdas.store.dynamo import (
    DynamoApiKeyStore,
    DynamoQboConnectionStore,
    DynamoTenantStore,
    SecretsManagerSecretStore,
)
from lambdas.store.ports import Tenant
from sim.fake_qbo import FakeQbo
from sim.fake_qbo_faults import Fault
from sim.fake_qbo_server import LoopbackServer
from sim.fake_qbo_webhooks import WebhookSender, sign
from tests.aws_tables import create_relay_tables
from tests.integration.qbo_aws_helpers import (
    BUS,
    CLIENT_ID,
    CLIENT_SECRET,
    PREFIX,
    REDIRECT_URI,
    VERIFIER,
    QboAws,
    clear_caches,
    emitted,
    query_of,
    rest_event,
)
from tests.lambda_context import LambdaContext

ACME, BETA, GAMMA = "9341452017110001", "9341452017110002", "9341452017110003"
SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "time": "2026-03-01T12:00:00Z",
    "resources": ["arn:aws:events:us-east-1:123456789012:rule/qbo-catch-up"],
    "detail": {},
}


@pytest.fixture
def aws(monkeypatch) -> Iterator[QboAws]:
    fake = FakeQbo()
    fake.add_app(CLIENT_ID, CLIENT_SECRET, (REDIRECT_URI,))
    server = LoopbackServer(fake, name="fake-qbo").start()
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "QBO_CLIENT_ID": CLIENT_ID,
        "QBO_REDIRECT_URI": REDIRECT_URI,
        "QBO_ENVIRONMENT": "sandbox",
        "QBO_AUTH_BASE_URL": server.url,
        "QBO_API_BASE_URL": server.url,
        "QBRELAY_SECRETS_PREFIX": PREFIX,
        "QBRELAY_EVENT_BUS": BUS,
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    for name in ("QBO_CLIENT_SECRET", "QBO_WEBHOOK_VERIFIER_TOKEN", "QBRELAY_PAYLOAD_BUCKET"):
        monkeypatch.delenv(name, raising=False)
    try:
        with mock_aws():
            ddb = boto3.client("dynamodb")
            for var, table in create_relay_tables(ddb).items():
                monkeypatch.setenv(var, table)
            sqs = boto3.client("sqs")
            changes = sqs.create_queue(
                QueueName="qbo-changes.fifo", Attributes={"FifoQueue": "true"}
            )["QueueUrl"]
            records = sqs.create_queue(QueueName="records")["QueueUrl"]
            monkeypatch.setenv("QBRELAY_QBO_CHANGE_QUEUE_URL", changes)
            monkeypatch.setenv("QBRELAY_RECORD_QUEUE_URL", records)
            seen = _bus_to_queue(sqs)
            sm = boto3.client("secretsmanager")
            sm.create_secret(
                Name=PREFIX + "qbo-app",
                SecretString=json.dumps(
                    {"client_secret": CLIENT_SECRET, "webhook_verifier_token": VERIFIER}
                ),
            )
            tenants = DynamoTenantStore(ddb, "tenants")
            for name in ("acme", "beta", "gamma"):
                tenants.create(Tenant(name=name, qbwc_user=f"{name}-qbwc", password_hash="x"))
            key, _ = create_key(DynamoApiKeyStore(ddb, "tenants"), "tests", time.time())
            clear_caches()
            yield QboAws(fake, sqs, ddb, sm, changes, records, seen, key)
    finally:
        clear_caches()
        server.stop()


def _bus_to_queue(sqs) -> str:
    """The relay's event bus, with a rule that copies every relay event to a queue."""
    events = boto3.client("events")
    events.create_event_bus(Name=BUS)
    url = sqs.create_queue(QueueName="seen-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(
        Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["qbxml-relay"]})
    )
    events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    return url


def _connections(aws: QboAws) -> DynamoQboConnectionStore:
    return DynamoQboConnectionStore(aws.ddb, "state")


def _secret(aws: QboAws, tenant: str) -> dict | None:
    return SecretsManagerSecretStore(aws.secretsmanager, PREFIX).get(secret_name(tenant))


def _sender() -> WebhookSender:
    # Only its payload builder is used: the body goes to the handler as an API Gateway event.
    return WebhookSender("http://127.0.0.1:9/unused", VERIFIER)


# --- qbo_api: connect, callback, disconnect ----------------------------------------------


def test_connect_needs_the_api_key_and_a_known_tenant(aws: QboAws) -> None:
    bare = aws.api(rest_event("GET", "/qbo/connect", {"tenant": "acme"}))
    assert bare["statusCode"] == 401
    wrong = aws.api(
        rest_event("GET", "/qbo/connect", {"tenant": "acme"}, {HEADER: aws.api_key + "x"})
    )
    assert wrong["statusCode"] == 401
    nobody = aws.api(rest_event("GET", "/qbo/connect", {"tenant": "zed"}, {HEADER: aws.api_key}))
    assert nobody["statusCode"] == 404
    ok = aws.api(rest_event("GET", "/qbo/connect", {"tenant": "acme"}, {HEADER: aws.api_key}))
    assert ok["statusCode"] == 302
    location = ok["headers"]["Location"]
    assert location.startswith(aws.fake.base_url + "/connect/oauth2?")
    assert f"client_id={CLIENT_ID}" in location and "state=" in location
    assert aws.fake.calls["token"] == 0


def test_the_callback_stores_tokens_in_secrets_manager_and_refuses_a_replay(aws: QboAws) -> None:
    start = aws.api(rest_event("GET", "/qbo/connect", {"tenant": "acme"}, {HEADER: aws.api_key}))
    back = aws.fake.approve(start["headers"]["Location"], ACME)
    done = aws.api(rest_event("GET", "/qbo/callback", query_of(back)))
    assert done["statusCode"] == 200 and "connected" in done["body"], done["body"]
    assert done["headers"]["Referrer-Policy"] == "no-referrer"
    stored = _secret(aws, "acme")
    assert stored is not None and stored["realm_id"] == ACME
    assert stored["refresh_token"] in aws.fake.oauth.live_refresh_tokens(ACME)
    conn = _connections(aws).get("acme")
    assert conn.status == CONNECTED and conn.realm_id == ACME
    assert conn.refresh_hard_expires_at and conn.refresh_expires_at and conn.access_expires_at
    assert stored["refresh_token"] not in done["body"]
    replay = aws.api(rest_event("GET", "/qbo/callback", query_of(back)))
    assert replay["statusCode"] == 400 and "was used already" in replay["body"]
    forged = aws.api(
        rest_event("GET", "/qbo/callback", {**query_of(back), "state": "forged-state"})
    )
    assert forged["statusCode"] == 400
    assert aws.fake.calls["token"] == 1


def test_disconnect_through_the_function_revokes_and_deletes(aws: QboAws) -> None:
    assert aws.connect("acme", ACME)["statusCode"] == 200
    refused = aws.api(rest_event("POST", "/qbo/disconnect", {"tenant": "acme"}))
    assert refused["statusCode"] == 401 and _secret(aws, "acme") is not None
    done = aws.api(rest_event("POST", "/qbo/disconnect", {"tenant": "acme"}, {HEADER: aws.api_key}))
    assert done["statusCode"] == 200 and json.loads(done["body"])["disconnected"] is True
    assert _secret(aws, "acme") is None
    assert aws.fake.oauth.live_refresh_tokens(ACME) == []
    assert _connections(aws).get("acme").status == "disconnected"


# --- qbo_api: webhooks ---------------------------------------------------------------------


def test_a_signed_webhook_is_200_and_lands_on_the_fifo_queue_by_realm(aws: QboAws, capsys) -> None:
    aws.connect("acme", ACME)
    company = aws.fake.companies[ACME]
    company.edit("Customer", "1", CompanyName="Acme Renamed")
    company.edit("Item", "1", Description="new description")
    body = _sender().payload(company.events[-2:])
    reply = aws.signed_webhook(body)
    assert reply["statusCode"] == 200, reply["body"]
    assert json.loads(reply["body"])["queued"] == 2
    (message,) = aws.change_messages()
    assert message["attributes"]["MessageGroupId"] == ACME
    assert message["messageAttributes"]["realm"]["stringValue"] == ACME
    notices = json.loads(message["body"])
    assert "Customer" in json.dumps(notices) and "Item" in json.dumps(notices)
    # Intuit delivers again (no answer in time, say): answered 200, nothing queued twice.
    again = aws.signed_webhook(body)
    assert again["statusCode"] == 200 and json.loads(again["body"])["duplicates"] == 2
    assert aws.change_messages() == []
    assert aws.fake.api_calls() == 0  # no QuickBooks call inside the request
    metrics = emitted(capsys.readouterr().out)
    assert metrics["QboWebhooks"] == 2 and "QboWebhookSignatureFailures" not in metrics


@pytest.mark.parametrize("mode", ["wrong-key", "altered", "missing"])
def test_a_badly_signed_webhook_is_401_and_queues_nothing(aws: QboAws, mode, capsys) -> None:
    aws.connect("acme", ACME)
    company = aws.fake.companies[ACME]
    company.edit("Customer", "1", CompanyName="Forged")
    body = _sender().payload(company.events[-1:])
    if mode == "wrong-key":
        reply = aws.webhook(body, sign(body, VERIFIER + "x"))
    elif mode == "altered":
        reply = aws.webhook(body + b" ", sign(body, VERIFIER))
    else:
        reply = aws.webhook(body, None)
    assert reply["statusCode"] == 401
    assert aws.change_messages() == []
    assert emitted(capsys.readouterr().out)["QboWebhookSignatureFailures"] == 1
    # The genuine delivery is not taken for a duplicate of the refused one.
    assert json.loads(aws.signed_webhook(body)["body"])["queued"] == 1


# --- qbo_sync -------------------------------------------------------------------------------


def _sync(records: list[dict]) -> dict:
    return qbo_sync.handler({"Records": records}, LambdaContext("qbo-sync", 512))


def test_the_sync_function_queues_records_and_fails_only_the_refusing_realm(
    aws: QboAws, capsys
) -> None:
    aws.connect("acme", ACME)
    aws.connect("beta", BETA)
    for realm, name in ((ACME, "Acme Changed"), (BETA, "Beta Changed")):
        company = aws.fake.companies[realm]
        company.edit("Customer", "2", CompanyName=name)
        assert aws.signed_webhook(_sender().payload(company.events[-1:]))["statusCode"] == 200
    messages = aws.change_messages()
    assert sorted(m["attributes"]["MessageGroupId"] for m in messages) == [ACME, BETA]
    beta_ids = [m["messageId"] for m in messages if m["attributes"]["MessageGroupId"] == BETA]
    # Beta's admin disconnects the app inside QuickBooks; every access token is stale.
    aws.fake.oauth.revoke_realm(BETA)
    aws.fake.oauth.expire_access_tokens()
    result = _sync(messages)
    assert result == {"batchItemFailures": [{"itemIdentifier": i} for i in beta_ids]}
    (record,) = aws.records()
    assert record["tenant"] == "acme" and record["source"] == "qbo"
    assert record["record"]["entity"] == "Customer" and "Acme Changed" in json.dumps(record)
    conns = _connections(aws)
    assert conns.get("acme").status == CONNECTED and conns.get("acme").last_success_at
    beta = conns.get("beta")
    assert beta.status == NEEDS_RECONNECT and "qbrelay qbo connect --tenant beta" in beta.message
    assert beta.last_success_at is None
    (event,) = aws.published()
    assert event["detail-type"] == "qbo.needs_reconnect" and event["detail"]["tenant"] == "beta"
    metrics = emitted(capsys.readouterr().out)
    assert metrics["QboRecordsQueued"] == 1 and metrics["QboNeedsReconnect"] == 1
    assert metrics["QboSyncFailures"] == 1
    # SQS delivers beta's message again: still a failure, no call to Intuit, no second event.
    calls = (aws.fake.calls["token"], aws.fake.api_calls(BETA))
    redelivered = [
        dict(m, attributes={**m["attributes"], "ApproximateReceiveCount": "2"})
        for m in messages
        if m["messageId"] in beta_ids
    ]
    assert _sync(redelivered)["batchItemFailures"] == [{"itemIdentifier": i} for i in beta_ids]
    assert (aws.fake.calls["token"], aws.fake.api_calls(BETA)) == calls
    assert aws.published() == [] and aws.records() == []


def test_a_second_401_after_a_fresh_refresh_marks_needs_reconnect_once(aws: QboAws) -> None:
    aws.connect("acme", ACME)
    company = aws.fake.companies[ACME]
    company.edit("Customer", "3", CompanyName="Acme Three")
    aws.signed_webhook(_sender().payload(company.events[-1:]))
    messages = aws.change_messages()
    tokens_before = aws.fake.calls["token"]
    # Intuit refuses the token, and the freshly refreshed one too.
    aws.fake.inject("query", Fault(401, "3200", casing="fault"), times=2)
    failed = _sync(messages)["batchItemFailures"]
    assert failed == [{"itemIdentifier": messages[0]["messageId"]}]
    assert aws.fake.calls["token"] == tokens_before + 1  # one refresh, then it gave up
    assert aws.fake.calls["query"] == 2
    conn = _connections(aws).get("acme")
    assert conn.status == NEEDS_RECONNECT and "freshly refreshed token" in conn.message
    events = aws.published()
    assert [e["detail-type"] for e in events] == ["qbo.needs_reconnect"]
    assert events[0]["detail"]["data"]["realm_id"] == ACME
    assert _sync(messages)["batchItemFailures"] == failed
    assert aws.fake.calls["query"] == 2 and aws.published() == []


# --- qbo_cdc --------------------------------------------------------------------------------


def test_the_scheduled_catch_up_loads_connected_tenants_and_reports_reconnects(
    aws: QboAws, capsys
) -> None:
    for tenant, realm in (("acme", ACME), ("beta", BETA), ("gamma", GAMMA)):
        assert aws.connect(tenant, realm)["statusCode"] == 200
    tenants = DynamoTenantStore(aws.ddb, "tenants")
    beta = tenants.get("beta")
    beta.paused, beta.paused_reason = True, "month-end close"
    tenants.update(beta)
    aws.fake.oauth.revoke_realm(GAMMA)
    aws.fake.oauth.expire_access_tokens()
    answer = qbo_cdc.handler(SCHEDULED, LambdaContext("qbo-cdc", 512))
    by_tenant = {t["tenant"]: t for t in answer["tenants"]}
    assert set(by_tenant) == {"acme", "gamma"}  # beta is paused
    assert by_tenant["acme"]["error"] == "" and by_tenant["acme"]["queued"] > 0
    assert "reconnect" in by_tenant["gamma"]["error"].lower()
    assert answer["needs_reconnect"] == ["gamma"]
    assert 99 <= answer["min_days_left"] <= 101  # Intuit's rolling 100 days
    loaded = aws.records()
    assert {r["tenant"] for r in loaded} == {"acme"} and len(loaded) == by_tenant["acme"]["queued"]
    assert aws.fake.api_calls(BETA) == 0
    assert [e["detail"]["tenant"] for e in aws.published()] == ["gamma"]
    metrics = emitted(capsys.readouterr().out)
    assert metrics["QboNeedsReconnectTenants"] == 1
    assert 99 <= metrics["QboReconnectDaysLeft"] <= answer["min_days_left"]
    assert metrics["QboRecordsQueued"] == len(loaded)
    # A change nobody announced: the next scheduled run brings it, and only it.
    aws.fake.companies[ACME].edit("Customer", "4", CompanyName="Missed by webhooks")
    again = qbo_cdc.handler(SCHEDULED, LambdaContext("qbo-cdc", 512))
    assert {t["tenant"]: t["queued"] for t in again["tenants"]} == {"acme": 1}
    (record,) = aws.records()
    assert "Missed by webhooks" in json.dumps(record)
    assert aws.published() == []  # gamma is known to need a reconnect: not announced again


def test_the_scheduled_run_applies_the_write_back_of_tenants_that_have_it_on(aws: QboAws) -> None:
    from lambdas.store.dynamo import DynamoWriteBackStore
    from lambdas.writeback.model import ACCOUNTS, ADD, CUSTOMER, OpStatus, WriteOp, op_id

    for tenant, realm in (("acme", ACME), ("beta", BETA)):
        assert aws.connect(tenant, realm)["statusCode"] == 200
    tenants = DynamoTenantStore(aws.ddb, "tenants")
    acme = tenants.get("acme")
    acme.writeback = True
    tenants.update(acme)
    store = DynamoWriteBackStore(aws.ddb, "writeback")
    ops = {}
    for tenant in ("acme", "beta"):  # beta has write-back off: its operation waits
        ops[tenant] = WriteOp(
            tenant,
            op_id(ACCOUNTS, "z1", "v1"),
            1,
            CUSTOMER,
            ADD,
            "qbo",
            ACCOUNTS,
            "z1",
            "v1",
            fields={"name": f"Written Back {tenant}"},
        )
        assert store.enqueue(ops[tenant])
    answer = qbo_cdc.handler(SCHEDULED, LambdaContext("qbo-cdc", 512))
    assert [(w["tenant"], w["applied"]) for w in answer["writeback"]] == [("acme", 1)]
    assert store.get("acme", ops["acme"].op_id).status == OpStatus.APPLIED
    assert store.get("beta", ops["beta"].op_id).status == OpStatus.PENDING
    made = [
        c
        for c in aws.fake.companies[ACME].all("Customer")
        if c["DisplayName"] == "Written Back acme"
    ]
    assert len(made) == 1
    bodies = [r for r in aws.records() if r["tenant"] == "acme"]
    linked = [r for r in bodies if r.get("link") == "Accounts/z1"]
    assert [r["id"] for r in linked] == [f"qbo:{made[0]['Id']}"]
    assert [r["entity"] for r in bodies].count("ZohoUpdate") == 1


# --- two Lambda instances refreshing at once -----------------------------------------------


def test_two_sync_instances_refreshing_at_once_make_one_token_call(
    aws: QboAws, monkeypatch
) -> None:
    from lambdas.handlers import qbo_aws
    from tests.aws_tables import SerialClient

    # moto is not thread-safe (an item can be read half written); DynamoDB applies each
    # request atomically, so the instances' calls are serialized as requests.
    serial = cache(lambda: SerialClient(boto3.client("dynamodb")))
    monkeypatch.setattr(qbo_aws, "dynamodb", serial)
    aws.connect("acme", ACME)
    aws.fake.oauth.expire_access_tokens()
    aws.fake.latency = 0.3  # slow token answers: both instances are mid-refresh together
    before = aws.fake.calls["token"]
    barrier = threading.Barrier(2)

    def instance() -> int:
        # What one sync invocation builds: its own runtime, hence its own token holder.
        client = qbo_sync.runtime(NoMetrics()).client("acme")
        barrier.wait()
        return len(client.read_by_ids("Customer", ["1", "2"]))

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(lambda _: instance(), range(2))) == [2, 2]
    assert aws.fake.calls["token"] - before == 1
    stored = _secret(aws, "acme")
    assert aws.fake.oauth.live_refresh_tokens(ACME) == [stored["refresh_token"]]


def test_the_write_back_of_the_scheduled_run_calls_only_what_its_role_grants(
    aws: QboAws,
) -> None:
    """moto enforces no IAM: the DynamoDB calls QboCdc makes are compared with its grants
    (tests/infrastructure/test_qbo_stack.py), through a name in use (a link), an invoice."""
    from lambdas.handlers import qbo_aws
    from lambdas.store.dynamo import DynamoWriteBackStore
    from lambdas.writeback.model import (
        ACCOUNTS,
        ADD,
        CUSTOMER,
        DEALS,
        INVOICE,
        OpStatus,
        WriteOp,
        op_id,
    )
    from tests.infrastructure.test_qbo_stack import EXPECTED_TABLES

    assert aws.connect("acme", ACME)["statusCode"] == 200
    tenants = DynamoTenantStore(aws.ddb, "tenants")
    acme = tenants.get("acme")
    acme.writeback, acme.invoice_item = True, "Widget 1"
    tenants.update(acme)
    taken = aws.fake.companies[ACME].all("Customer")[0]["DisplayName"]
    store = DynamoWriteBackStore(aws.ddb, "writeback")
    account = WriteOp(
        "acme",
        op_id(ACCOUNTS, "z1", "v1"),
        1,
        CUSTOMER,
        ADD,
        "qbo",
        ACCOUNTS,
        "z1",
        "v1",
        fields={"name": taken},
    )
    deal = WriteOp(
        "acme",
        op_id(DEALS, "d1", "invoice"),
        2,
        INVOICE,
        ADD,
        "qbo",
        DEALS,
        "d1",
        "v1",
        fields={"amount": "10.00", "memo": "Won"},
        customer_zoho_id="z1",
        depends_on=account.op_id,
    )
    assert store.enqueue(account) and store.enqueue(deal)
    calls: set[tuple[str, str]] = set()

    def record(params, model, **_):
        table = params.get("TableName", "")
        if model.name == "BatchGetItem":
            calls.update((model.name, t) for t in params["RequestItems"])
        elif "IndexName" in params:
            calls.add((model.name, f"{table}/index/{params['IndexName']}"))
        else:
            calls.add((model.name, table))

    qbo_aws.dynamodb().meta.events.register("provide-client-params.dynamodb", record)
    qbo_cdc.handler(SCHEDULED, LambdaContext("qbo-cdc", 512))
    assert store.get("acme", account.op_id).status == OpStatus.APPLIED
    assert store.get("acme", account.op_id).linked
    assert store.get("acme", deal.op_id).status == OpStatus.APPLIED
    granted = {(a, t) for t, actions in EXPECTED_TABLES["cdc"].items() for a in actions}
    granted |= {("Query", "mappings/index/by_tenant"), ("Query", "mappings/index/by_zoho")}
    granted |= {("Query", "writeback/index/open")}
    assert calls - granted == set()
