"""The AWS adapters raise StoreError (or ConcurrentUpdate), never a raw botocore error."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError
from moto import mock_aws

from lambdas.store.dynamo import (
    DynamoForwarderState,
    DynamoMappingStore,
    DynamoRunHistory,
    DynamoSessionStore,
    DynamoSyncStateStore,
    DynamoTenantStore,
    DynamoTokenCache,
    SecretsManagerSecretStore,
    SqsDeadLetterQueue,
    SqsRecordQueue,
)
from lambdas.store.dynamo.common import store_error
from lambdas.store.ports import (
    Claim,
    ConcurrentUpdate,
    DeadLetter,
    EntitySyncState,
    Handoff,
    QueueMessage,
    RunRecord,
    SessionRecord,
    StoreError,
    Tenant,
    ZohoToken,
)
from tests.aws_tables import create_pk_table


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield {
            "ddb": boto3.client("dynamodb", region_name="us-east-1"),
            "sqs": boto3.client("sqs", region_name="us-east-1"),
        }


def _session() -> SessionRecord:
    return SessionRecord(ticket="t" * 36, tenant="acme", expires_at=2e9)


# One call per adapter method that used to let a ClientError through, against a missing table.
DYNAMO_CALLS: list[tuple[str, Callable[[Any], Any]]] = [
    ("tenants.get", lambda c: DynamoTenantStore(c, "missing").get("acme")),
    ("tenants.find_by_user", lambda c: DynamoTenantStore(c, "missing").find_by_user("u")),
    ("tenants.list", lambda c: DynamoTenantStore(c, "missing").list()),
    ("tenants.find_by_file_id", lambda c: DynamoTenantStore(c, "missing").find_by_file_id("f")),
    ("tenants.ensure_file_id", lambda c: DynamoTenantStore(c, "missing").ensure_file_id("a")),
    (
        "tenants.deployment_owner_id",
        lambda c: DynamoTenantStore(c, "missing").deployment_owner_id(),
    ),
    (
        "tenants.create",
        lambda c: DynamoTenantStore(c, "missing").create(
            Tenant(name="acme", qbwc_user="u", password_hash="x")
        ),
    ),
    ("sessions.get", lambda c: DynamoSessionStore(c, "missing").get("t" * 36, 0.0)),
    ("sessions.create", lambda c: DynamoSessionStore(c, "missing").create(_session(), 0.0)),
    ("sessions.save", lambda c: DynamoSessionStore(c, "missing").save(_session())),
    ("mappings.get", lambda c: DynamoMappingStore(c, "missing").get("a", "qb", "Customer", "1")),
    (
        "mappings.record_handoffs",
        lambda c: DynamoMappingStore(c, "missing").record_handoffs(
            [Handoff("a", "qbd", "C", "1", "h", "1", 0.0)]
        ),
    ),
    (
        "mappings.claim",
        lambda c: DynamoMappingStore(c, "missing").claim(Claim("a", "qbd", "C", "1", "1", "t")),
    ),
    ("mappings.scan", lambda c: list(DynamoMappingStore(c, "missing").scan("a"))),
    ("sync_state.get_all", lambda c: DynamoSyncStateStore(c, "missing").get_all("acme")),
    (
        "sync_state.put",
        lambda c: DynamoSyncStateStore(c, "missing").put(EntitySyncState("acme", "Customer")),
    ),
    ("runs.recent", lambda c: DynamoRunHistory(c, "missing").recent("acme")),
    (
        "runs.add",
        lambda c: DynamoRunHistory(c, "missing").add(
            RunRecord(tenant="acme", ticket="t", started_at=1.0, ended_at=2.0, status="completed")
        ),
    ),
    ("tokens.load", lambda c: DynamoTokenCache(c, "missing").load("acme")),
    ("tokens.try_lease", lambda c: DynamoTokenCache(c, "missing").try_lease("a", "h", 0, 1)),
    ("tokens.save", lambda c: DynamoTokenCache(c, "missing").save("a", "h", ZohoToken("x"))),
    ("tokens.release", lambda c: DynamoTokenCache(c, "missing").release("a", "h")),
    ("forwarder.pause", lambda c: DynamoForwarderState(c, "missing").pause("a", 1.0, "r")),
    ("forwarder.paused", lambda c: DynamoForwarderState(c, "missing").paused("a", 0.0)),
    ("forwarder.resume", lambda c: DynamoForwarderState(c, "missing").resume("a")),
    ("forwarder.get_mapping", lambda c: DynamoForwarderState(c, "missing").get_mapping("a")),
    ("forwarder.put_mapping", lambda c: DynamoForwarderState(c, "missing").put_mapping("a", {})),
    ("forwarder.del_mapping", lambda c: DynamoForwarderState(c, "missing").put_mapping("a", None)),
]


@pytest.mark.parametrize("call", [c for _, c in DYNAMO_CALLS], ids=[n for n, _ in DYNAMO_CALLS])
def test_a_missing_table_raises_store_error(aws, call) -> None:
    with pytest.raises(StoreError) as caught:
        call(aws["ddb"])
    assert not isinstance(caught.value, (ClientError, BotoCoreError))
    assert "DynamoDB table missing" in str(caught.value)
    assert "ResourceNotFoundException" in str(caught.value)
    assert isinstance(caught.value.__cause__, ClientError)


def test_a_missing_queue_raises_store_error(aws) -> None:
    url = aws["sqs"].create_queue(QueueName="gone")["QueueUrl"]
    aws["sqs"].delete_queue(QueueUrl=url)
    queue = SqsRecordQueue(aws["sqs"], url)
    for call in (
        lambda: queue.receive(),
        lambda: queue.delete(["receipt"]),
        lambda: queue.send([QueueMessage(tenant="a", dedup_id="d", body="{}")]),
        lambda: SqsDeadLetterQueue(aws["sqs"], url).send([DeadLetter("a", "{}", "why")]),
    ):
        with pytest.raises(StoreError, match="gone") as caught:
            call()
        assert isinstance(caught.value.__cause__, ClientError)


def _client_error(code: str, reasons: list[str] | None = None) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "secret-ish"}}
    if reasons is not None:
        response["CancellationReasons"] = [{"Code": r} for r in reasons]
    return ClientError(response, "Op")


class _LockMovedOn:
    """A sessions table where the lock has moved on and the session changed meanwhile."""

    def transact_write_items(self, **kwargs: Any) -> None:
        raise _client_error("TransactionCanceledException", ["None", "ConditionalCheckFailed"])

    def put_item(self, **kwargs: Any) -> None:
        raise _client_error("ConditionalCheckFailedException")


def test_a_failed_condition_on_the_fallback_write_is_a_concurrent_update() -> None:
    # save() falls back to a plain conditional put when the lock moved on; a stale version
    # there used to escape as a raw ConditionalCheckFailedException.
    with pytest.raises(ConcurrentUpdate, match="changed concurrently"):
        DynamoSessionStore(_LockMovedOn(), "sessions").save(_session())


def test_a_stale_save_while_another_holds_the_lock_is_a_concurrent_update(aws) -> None:
    create_pk_table(aws["ddb"], "sessions")
    store = DynamoSessionStore(aws["ddb"], "sessions")
    session = _session()
    assert store.create(session, 0.0)
    aws["ddb"].put_item(
        TableName="sessions",
        Item={"pk": {"S": "@lock#acme"}, "holder": {"S": "other"}, "expires_at": {"N": "3e9"}},
    )
    stale = _session()
    store.save(session)
    with pytest.raises(ConcurrentUpdate):
        store.save(stale)


class _Unreachable:
    """A client whose every call fails before reaching AWS."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def call(**kwargs: Any) -> Any:
            raise EndpointConnectionError(endpoint_url="https://example.invalid")

        return call


def test_a_connection_failure_raises_store_error_without_the_sdk_text() -> None:
    client = _Unreachable()
    for call in (
        lambda: DynamoTenantStore(client, "tenants").list(),
        lambda: SqsRecordQueue(client, "https://sqs/123/records").receive(),
        lambda: SecretsManagerSecretStore(client, "qbrelay/").put("zoho/a", {"secret": "s3"}),
    ):
        with pytest.raises(StoreError, match="EndpointConnectionError") as caught:
            call()
        assert "example.invalid" not in str(caught.value)
        assert "s3" not in str(caught.value)


def test_store_error_maps_condition_codes_to_concurrent_update() -> None:
    assert type(store_error("t", _client_error("ConditionalCheckFailedException"))) is (
        ConcurrentUpdate
    )
    conflict = _client_error("TransactionCanceledException", ["None", "TransactionConflict"])
    assert type(store_error("t", conflict)) is ConcurrentUpdate
    invalid = _client_error("TransactionCanceledException", ["ValidationError"])
    assert type(store_error("t", invalid)) is StoreError
    throttled = store_error("DynamoDB table x", _client_error("ThrottlingException"))
    assert type(throttled) is StoreError
    assert str(throttled) == "DynamoDB table x: ThrottlingException"
