"""Two deployments of the whole pipeline for the integrity scenarios, and ZOHO's expected state.

``AwsRig``: the relay over DynamoDB, SQS and S3 (moto), where every queue send is followed at
once by the forwarder Lambda's handler on what SQS delivers, inside the relay's own call, as
the SQS event source mapping does on AWS; messages it leaves for later come back (visibility
timeout 0) on the next delivery round, and SQS's redrive policy moves one received past
maxReceiveCount to the dead-letter queue. ``LocalRig``: ``qbrelay serve``'s twin, the relay over
SQLite with the forwarder worker thread draining the queue while the session runs.

Both run real Web Connector sessions over HTTP on 127.0.0.1 against a simulated company and
forward to the fake ZOHO CRM; ``assert_zoho_matches`` compares ZOHO with the company record by
record.
"""

from __future__ import annotations

import json
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from lambdas.handlers import zoho_forwarder
from lambdas.local.forwarder import build_local_forwarder, drain
from lambdas.local.server import RelayServer
from lambdas.local.wiring import build_local
from lambdas.local.worker import ForwarderWorker
from lambdas.local.wsgi import SOAP_PATH, RelayWsgiApp
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import QbwcRelay
from lambdas.qbwc.soap_service import SoapEndpoint
from lambdas.store.dynamo import (
    DynamoMappingStore,
    DynamoRunHistory,
    DynamoSessionStore,
    DynamoSyncStateStore,
    DynamoTenantStore,
    SqsRecordQueue,
)
from lambdas.store.payloads import S3PayloadStore
from lambdas.store.ports import HandoffWindow, QueueMessage, Tenant
from lambdas.store.sqlite import (
    SqliteForwarderState,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteSyncStateStore,
)
from lambdas.sync.engine import SyncEngine, SyncSettings
from lambdas.zoho.audit import Auditor, AuditReport
from lambdas.zoho.client import ZohoClient
from lambdas.zoho.mapping import build_config, payment_status
from sim.fake_company import FakeCompany
from sim.fake_qbwc import FakeWebConnector, SessionResult
from tests.aws_tables import create_relay_tables
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv
from tests.lambda_context import LambdaContext

TENANT, USER, PASSWORD = "acme", "acme-qbwc", "Integrity-password-1"
ENTITIES = ("Item", "Customer", "Invoice", "ReceivePayment", "ListDeleted", "TxnDeleted")
MAX_RECEIVE_COUNT = 8
BUCKET = "payloads"


def today() -> date:
    """The forwarder's date (the tenant has no time zone: UTC)."""
    return datetime.now(UTC).date()


def company(**counts: Any) -> FakeCompany:
    """A simulated company with a little of everything the default mapping forwards."""
    base = {"customers": 30, "items": 10, "invoices": 40, "payments": 10, "lines_per_txn": 2}
    return FakeCompany(**{**base, **counts})


def assert_zoho_matches(fake: Any, books: FakeCompany) -> None:
    """ZOHO holds every customer, item and invoice as QuickBooks has it now, once each."""
    for entity, module, id_field, active, name_field in (
        ("Customer", "Accounts", "QB_ListID", "QB_Active", "Account_Name"),
        ("Item", "Products", "QB_ListID", "Product_Active", "Product_Name"),
        ("Invoice", "Invoices", "QB_TxnID", "QB_Active", None),
    ):
        snap = books.snapshot(entity)
        held: dict[str, dict[str, Any]] = {}
        for r in fake.all(module):
            key = r.get(id_field)
            assert key not in held, f"{module}: {key} twice"
            held[key] = r
        for sid, facts in snap.records.items():
            assert sid in held, f"{entity} {sid} is missing in ZOHO"
            record = held[sid]
            assert record[active] is facts.is_active, f"{entity} {sid}: {active}"
            if name_field:
                assert record[name_field] == facts.name, f"{entity} {sid}: {name_field}"
            if entity == "Invoice":
                due = books.record("Invoice", sid).due_date
                want = payment_status(
                    {
                        "balance_remaining": str(facts.balance_remaining),
                        "due_date": due.isoformat() if due else None,
                    },
                    today(),
                )
                assert record["Status"] == want, f"invoice {sid}: {record['Status']} != {want}"
        for sid in snap.deleted:
            if sid in held:
                assert held[sid][active] is False, f"{entity} {sid} deleted but active in ZOHO"
        assert set(held) <= set(snap.records) | set(snap.deleted), f"{module}: unknown records"
        if entity == "Customer":
            phones = {sid: books.record("Customer", sid).phone for sid in snap.records}
            for sid, phone in phones.items():
                assert held[sid].get("Phone") == (phone or None), f"customer {sid}: phone"


@dataclass
class Pipeline(ABC):
    """What a scenario drives: sessions, deliveries, the failure commands, the audit."""

    zoho: ZohoEnv
    books: FakeCompany
    url: str = ""
    sessions: list[SessionResult] = field(default_factory=list)

    def session(self) -> SessionResult:
        """One Web Connector update against the company, over HTTP."""
        qbwc = FakeWebConnector(self.url, owner_id=self.books.owner_id)
        try:
            result = qbwc.run_session(USER, PASSWORD, self.books)
        finally:
            qbwc.close()
        assert result.last_error is None, result.last_error
        self.sessions.append(result)
        self.settle()
        return result

    @abstractmethod
    def settle(self) -> None:
        """Let the forwarder catch up with what the session queued."""

    @abstractmethod
    def audit(self, repair: bool = False) -> AuditReport:
        """The tenant's audit: ZOHO against the mapping store."""

    @abstractmethod
    def dead_letters(self) -> list[tuple[str, str]]:
        """(tenant, reason) of every dead letter."""

    @abstractmethod
    def rereads(self) -> dict[str, list[str]]:
        """Re-reads requested of the relay and not done yet (the next session does them)."""

    @abstractmethod
    def handoff_window(self) -> HandoffWindow:
        """What the relay handed off for the tenant in the last 24 hours."""

    def redrive(self) -> None:
        """``qbrelay failures redrive``: parked letters back onto the record queue."""
        from lambdas.local.cli import main

        assert main(["failures", "redrive", "--tenant", TENANT, *self.target_args()]) == 0

    def resume(self) -> None:
        """``qbrelay zoho resume``: the operator lifts the tenant's forwarding pause."""
        from lambdas.local.cli import main

        assert main(["zoho", "resume", "--tenant", TENANT, *self.target_args()]) == 0

    @abstractmethod
    def target_args(self) -> list[str]:
        """The CLI arguments naming this deployment."""

    @abstractmethod
    def depth(self) -> int:
        """Messages on the record queue, visible or in flight."""

    @abstractmethod
    def deliver(self, rounds: int) -> int:
        """Run ``rounds`` more delivery rounds (redeliveries included); messages handled."""

    @abstractmethod
    def claim_checks(self) -> int:
        """Records kept in the payload store (too large for a queue message)."""


def _tenant(tenants: Any, books: FakeCompany) -> None:
    tenants.create(
        Tenant(
            name=TENANT,
            qbwc_user=USER,
            password_hash=hash_password(PASSWORD),
            enabled_entities=ENTITIES,
        )
    )
    books.owner_id = tenants.deployment_owner_id()
    books.file_id = tenants.ensure_file_id(TENANT)


class InlineForwardingQueue(SqsRecordQueue):
    """The record queue as the relay sees it on AWS, with SQS's event source mapping attached:
    right after a send, the forwarder handler runs on what SQS delivers, before send returns."""

    def __init__(self, sqs: Any, url: str) -> None:
        super().__init__(sqs, url)
        self.sqs, self.url = sqs, url
        self.rounds = 0

    def send(self, messages: list[QueueMessage]) -> None:  # type: ignore[override]
        super().send(messages)
        self.deliver(rounds=1)

    def deliver(self, rounds: int) -> int:
        """Up to ``rounds`` delivery rounds (each drains what is visible); messages handled."""
        handled = 0
        for _ in range(rounds):
            got = 0
            for _batch in range(1000):
                reply = self.sqs.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=10,
                    AttributeNames=["ApproximateReceiveCount"],
                    MessageAttributeNames=["All"],
                    VisibilityTimeout=30,
                )
                messages = reply.get("Messages", [])
                if not messages:
                    break
                got += len(messages)
                self._invoke(messages)
            handled += got
            self.rounds += 1
            # What this round left for later is visible again for the next round.
            if not got:
                break
        return handled

    def _invoke(self, messages: list[dict[str, Any]]) -> None:
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {
                        "ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"]
                    },
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:records",
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }
        result = zoho_forwarder.handler(event, LambdaContext("forwarder", 512))
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        done = [m for m in messages if m["MessageId"] not in failed]
        later = [m for m in messages if m["MessageId"] in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        if later:
            # As the event source mapping does with batch item failures: they come back.
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(later)
                ],
            )


@dataclass
class AwsRig(Pipeline):
    """The relay on DynamoDB/SQS/S3 with the forwarder Lambda racing it (see the module doc)."""

    clients: dict[str, Any] = field(default_factory=dict)
    queue: InlineForwardingQueue | None = None
    env: dict[str, str] = field(default_factory=dict)

    def settle(self) -> None:
        assert self.queue is not None
        self.queue.deliver(rounds=3)

    def deliver(self, rounds: int) -> int:
        assert self.queue is not None
        return self.queue.deliver(rounds)

    def claim_checks(self) -> int:
        """Records kept in the payload store (too large for a queue message)."""
        listed = self.clients["s3"].list_objects_v2(Bucket=BUCKET)
        return len(listed.get("Contents", []))

    def depth(self) -> int:
        attrs = self.clients["sqs"].get_queue_attributes(
            QueueUrl=self.env["QBRELAY_RECORD_QUEUE_URL"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(v) for v in attrs.values())

    def audit(self, repair: bool = False) -> AuditReport:
        ddb = self.clients["ddb"]
        auditor = Auditor(
            DynamoMappingStore(ddb, "mappings"), DynamoSyncStateStore(ddb, "state"), time.time
        )
        return auditor.audit(TENANT, build_config(), self.zoho.client(TENANT), repair=repair)

    def rereads(self) -> dict[str, list[str]]:
        state = DynamoSyncStateStore(self.clients["ddb"], "state")
        return {e: ids for e, ids in state.pending_refetch(TENANT, "qbd").items() if ids}

    def handoff_window(self) -> HandoffWindow:
        return DynamoSyncStateStore(self.clients["ddb"], "state").handoff_window(
            TENANT, time.time()
        )

    def dead_letters(self) -> list[tuple[str, str]]:
        sqs, url = self.clients["sqs"], self.env["QBRELAY_DLQ_URL"]
        out, receipts = [], []
        for _ in range(100):
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not got:
                break
            for m in got:
                attrs = m.get("MessageAttributes", {})
                out.append(
                    (
                        attrs.get("tenant", {}).get("StringValue", ""),
                        attrs.get("reason", {}).get("StringValue", ""),
                    )
                )
                receipts.append(m["ReceiptHandle"])
        for i in range(0, len(receipts), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(j), "ReceiptHandle": r, "VisibilityTimeout": 0}
                    for j, r in enumerate(receipts[i : i + 10])
                ],
            )
        return out

    def target_args(self) -> list[str]:
        """The CLI arguments naming this deployment."""
        return ["--aws", "--env", "dev"]


SQS_LIMIT = 256 * 1024


def _sqs_size(entry: dict[str, Any]) -> int:
    size = len(entry.get("MessageBody", "").encode())
    for name, attr in (entry.get("MessageAttributes") or {}).items():
        size += (
            len(name) + len(attr.get("DataType", "")) + len(attr.get("StringValue", "").encode())
        )
    return size


def _refuse(code: str, message: str) -> None:
    raise ClientError({"Error": {"Code": code, "Message": message}}, "SendMessageBatch")


def enforce_sqs_limits(session: Any) -> None:
    """Make SQS calls of ``session``'s clients refuse what real SQS refuses (moto accepts it):
    a message over 256 KiB, a batch over 256 KiB in all."""

    def check_batch(params: dict[str, Any], **_: Any) -> None:
        sizes = [_sqs_size(e) for e in params.get("Entries", [])]
        if any(n > SQS_LIMIT for n in sizes):
            _refuse("InvalidParameterValue", "One or more parameters are invalid: message size")
        if sum(sizes) > SQS_LIMIT:
            _refuse("AWS.SimpleQueueService.BatchRequestTooLong", "Batch requests too long")

    def check_one(params: dict[str, Any], **_: Any) -> None:
        if _sqs_size(params) > SQS_LIMIT:
            _refuse("InvalidParameterValue", "One or more parameters are invalid: message size")

    session.events.register("before-parameter-build.sqs.SendMessageBatch", check_batch)
    session.events.register("before-parameter-build.sqs.SendMessage", check_one)


@contextmanager
def aws_rig(zoho: ZohoEnv, books: FakeCompany, monkeypatch: Any) -> Iterator[AwsRig]:
    """The AWS-shaped pipeline under moto, its relay served on 127.0.0.1."""
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "QBRELAY_SECRETS_PREFIX": "qbxml-relay/dev/",
        "QBRELAY_MAX_RECEIVE_COUNT": str(MAX_RECEIVE_COUNT),
        "QBRELAY_PAYLOAD_BUCKET": BUCKET,
        "POWERTOOLS_SERVICE_NAME": "qbxml-relay",
        "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/test",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    # ZOHO outages are long in these scenarios: the client's backoff need not really wait.
    monkeypatch.setattr(ZohoClient, "_backoff", lambda self, attempt: None)
    monkeypatch.setattr(
        zoho_forwarder.metrics.provider, "namespace", env["POWERTOOLS_METRICS_NAMESPACE"]
    )
    with mock_aws():
        boto3.setup_default_session()
        enforce_sqs_limits(boto3.DEFAULT_SESSION)
        ddb, sqs, s3 = boto3.client("dynamodb"), boto3.client("sqs"), boto3.client("s3")
        for name, table in create_relay_tables(ddb).items():
            env[name] = table
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        records = sqs.create_queue(
            QueueName="records",
            Attributes={
                "VisibilityTimeout": "30",
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
                ),
            },
        )["QueueUrl"]
        env.update(QBRELAY_RECORD_QUEUE_URL=records, QBRELAY_DLQ_URL=dlq)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        s3.create_bucket(Bucket=BUCKET)
        boto3.client("secretsmanager").create_secret(
            Name=f"qbxml-relay/dev/zoho/{TENANT}",
            SecretString=json.dumps(
                {
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                    "refresh_token": REFRESH,
                    "data_centre": "com",
                    "accounts_url": zoho.url,
                }
            ),
        )
        zoho_forwarder.forwarder.cache_clear()
        tenants = DynamoTenantStore(ddb, env["QBRELAY_TENANTS_TABLE"])
        _tenant(tenants, books)
        queue = InlineForwardingQueue(sqs, records)
        engine = SyncEngine(
            DynamoSyncStateStore(ddb, env["QBRELAY_STATE_TABLE"]),
            DynamoMappingStore(ddb, env["QBRELAY_MAPPINGS_TABLE"]),
            queue,
            # As the relay handler reads them (the containment limits, say).
            SyncSettings.from_env(os.environ),
            payloads=S3PayloadStore(s3, BUCKET),
        )
        relay = QbwcRelay(
            tenants,
            DynamoSessionStore(ddb, env["QBRELAY_SESSIONS_TABLE"]),
            engine,
            DynamoRunHistory(ddb, env["QBRELAY_RUNS_TABLE"]),
        )
        server = RelayServer(RelayWsgiApp(SoapEndpoint(relay)), "127.0.0.1", 0).start_in_thread()
        rig = AwsRig(
            zoho,
            books,
            server.url + SOAP_PATH,
            clients={"ddb": ddb, "sqs": sqs, "s3": s3},
            queue=queue,
            env=env,
        )
        try:
            yield rig
        finally:
            server.stop()
            zoho_forwarder.forwarder.cache_clear()
            boto3.setup_default_session()


@dataclass
class LocalRig(Pipeline):
    """``qbrelay serve``'s twin: the relay on SQLite with the forwarder worker thread."""

    local: Any = None
    worker: ForwarderWorker | None = None
    queue: SqliteRecordQueue | None = None
    directory: Path | None = None

    def settle(self) -> None:
        assert self.worker is not None
        assert self.worker.wait_idle(60), "the forwarder worker did not catch up"

    def deliver(self, rounds: int) -> int:
        """Let the worker run ``rounds`` more delivery rounds (redeliveries included)."""
        assert self.worker is not None
        before = self.worker.total.messages
        for _ in range(rounds):
            time.sleep(self.queue_visibility * 1.5)
            self.settle()
        return self.worker.total.messages - before

    queue_visibility: float = 0.2

    def depth(self) -> int:
        assert self.queue is not None
        return self.queue.depth()

    def claim_checks(self) -> int:
        """Records kept in the payload folder (too large for a queue message)."""
        assert self.directory is not None
        return len(list((self.directory / "payloads").rglob("*.json")))

    def audit(self, repair: bool = False) -> AuditReport:
        db = self.local.db
        auditor = Auditor(SqliteMappingStore(db), SqliteSyncStateStore(db), time.time)
        config = build_config(SqliteForwarderState(db).get_mapping(TENANT))
        return auditor.audit(TENANT, config, self.zoho.client(TENANT), repair=repair)

    def rereads(self) -> dict[str, list[str]]:
        state = SqliteSyncStateStore(self.local.db)
        return {e: ids for e, ids in state.pending_refetch(TENANT, "qbd").items() if ids}

    def handoff_window(self) -> HandoffWindow:
        return SqliteSyncStateStore(self.local.db).handoff_window(TENANT, time.time())

    def dead_letters(self) -> list[tuple[str, str]]:
        from lambdas.store.sqlite import SqliteDeadLetterQueue

        return [
            (x.tenant, x.reason) for x in SqliteDeadLetterQueue(self.local.db).list(limit=10_000)
        ]

    def target_args(self) -> list[str]:
        """The CLI arguments naming this deployment."""
        return ["--data-dir", str(self.directory)]


@contextmanager
def local_rig(zoho: ZohoEnv, books: FakeCompany, tmp_path: Path) -> Iterator[LocalRig]:
    """The local pipeline, served on 127.0.0.1 with the worker draining concurrently."""
    directory = tmp_path / "serve"
    local = build_local(directory)
    _tenant(local.tenants, books)
    visibility = 0.2
    queue = SqliteRecordQueue(local.db, visibility_timeout=visibility)
    forwarder = build_local_forwarder(local.db, directory, zoho.factory())
    worker = ForwarderWorker(queue, forwarder, poll_seconds=0.05).start()
    server = RelayServer(
        RelayWsgiApp(local.endpoint, tenants=local.tenants, state=local.state), "127.0.0.1", 0
    ).start_in_thread()
    rig = LocalRig(
        zoho,
        books,
        server.url + SOAP_PATH,
        local=local,
        worker=worker,
        queue=queue,
        directory=directory,
    )
    rig.queue_visibility = visibility
    try:
        yield rig
    finally:
        server.stop()
        worker.stop()
        local.db.close()


@contextmanager
def rig_for(kind: str, zoho: ZohoEnv, books: FakeCompany, tmp_path: Path, monkeypatch: Any):
    """The AWS-shaped or the local pipeline."""
    if kind == "aws":
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        with aws_rig(zoho, books, monkeypatch) as rig:
            yield rig
    else:
        with local_rig(zoho, books, tmp_path) as rig:
            yield rig


__all__ = ["assert_zoho_matches", "company", "drain", "rig_for"]
