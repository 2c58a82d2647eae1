"""The scheduled overdue step over moto (DynamoDB, Secrets Manager) and the fake ZOHO."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.handlers import overdue
from lambdas.store.ports import Tenant
from tests.aws_tables import create_pk_table
from tests.integration.test_audit_handler import SCHEDULED_EVENT, add_credentials, emitted, value
from tests.integration.zoho_helpers import ZohoEnv
from tests.lambda_context import LambdaContext

ENV = {
    "QBRELAY_TENANTS_TABLE": "tenants",
    "QBRELAY_STATE_TABLE": "state",
    "QBRELAY_SECRETS_PREFIX": "qbxml-relay/test/",
    "POWERTOOLS_SERVICE_NAME": "qbxml-relay",
    "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def tenants(zoho: ZohoEnv, monkeypatch) -> Iterator[Any]:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(overdue.metrics.provider, "namespace", ENV["POWERTOOLS_METRICS_NAMESPACE"])
    with mock_aws():
        ddb = boto3.client("dynamodb")
        create_pk_table(ddb, "tenants")
        create_pk_table(ddb, "state")
        overdue.configuration.cache_clear()
        # The handler's own tenant store (lambdas.store.dynamo, once the store split lands).
        yield overdue.configuration().tenants
        overdue.configuration.cache_clear()


def invoice(subject: str, status: str, due: str) -> dict[str, Any]:
    return {"Subject": subject, "QB_TxnID": f"T-{subject}", "Status": status, "Due_Date": due}


def test_pending_invoices_past_due_become_overdue(tenants, zoho: ZohoEnv, capsys) -> None:
    tenants.create(Tenant("acme", "acme-qbwc", "h"))
    tenants.create(Tenant("globex", "globex-qbwc", "h"))  # no ZOHO credentials: skipped
    add_credentials(zoho, "acme")
    zoho.fake.add_records(
        "Invoices",
        [
            invoice("late", "Pending", "2001-01-31"),
            invoice("future", "Pending", "2999-01-31"),
            invoice("paid", "Paid", "2001-01-31"),
        ],
    )

    reply = overdue.handler(SCHEDULED_EVENT, LambdaContext("overdue", 256))

    assert reply == {"marked": 1, "tenants": {"acme": 1}, "skipped": ["globex"], "failed": {}}
    statuses = {r["Subject"]: r["Status"] for r in zoho.fake.all("Invoices")}
    assert statuses == {"late": "Overdue", "future": "Pending", "paid": "Paid"}
    doc = emitted(capsys.readouterr().out)
    assert doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]
    assert value(doc, "InvoicesMarkedOverdue") == 1
    assert value(doc, "OverdueFailures") == 0


def test_today_is_the_tenants_date(caplog) -> None:
    # 2026-03-01 10:30 UTC is already 2026-03-02 on Kiritimati (UTC+14), still 03-01 in Hawaii.
    now = datetime(2026, 3, 1, 10, 30, tzinfo=UTC).timestamp()
    kiritimati = SimpleNamespace(name="acme", time_zone="Pacific/Kiritimati")
    honolulu = SimpleNamespace(name="acme", time_zone="Pacific/Honolulu")
    assert overdue.tenant_today(kiritimati, now) == date(2026, 3, 2)
    assert overdue.tenant_today(honolulu, now) == date(2026, 3, 1)
    # Unset (the Tenant record has no time zone yet) or unknown: UTC.
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC).timestamp()
    assert overdue.tenant_today(Tenant("acme", "u", "h"), late) == date(2026, 3, 1)
    for bad in ("Mars/Olympus_Mons", "../../etc/passwd", ""):
        tenant = SimpleNamespace(name="acme", time_zone=bad)
        assert overdue.tenant_today(tenant, late) == date(2026, 3, 1)
    warned = [r for r in caplog.records if "unknown time zone" in r.getMessage()]
    assert len(warned) == 2  # "" is unset, not unknown
