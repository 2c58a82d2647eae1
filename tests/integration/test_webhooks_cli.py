"""``qbrelay webhooks``: add, list, test, deliveries, remove, on a data dir and on a deployment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.local import targets
from lambdas.store.files import FileSecretStore
from lambdas.webhooks.signing import verify
from tests.aws_tables import create_webhooks_table
from tests.integration.test_onboarding_commands import run
from tests.webhook_receiver import Receiver


def test_local_commands(capsys, tmp_path) -> None:
    d = ["--data-dir", str(tmp_path)]
    with Receiver([500]) as receiver:
        code, out, err = run(capsys, "webhooks", "add", receiver.url, "--events", "drift.found", *d)
        assert code == 0, err
        secret = out.split("signing secret: ")[1].split()[0]
        assert secret.startswith("whsec_") and "shown once" in out
        hook_id = out.split()[1].rstrip(":")
        stored = FileSecretStore.in_dir(tmp_path).get(f"webhooks/{hook_id}")
        assert stored == {"signing_secret": secret}
        code, out, _ = run(capsys, "webhooks", "list", *d)
        assert hook_id in out and "drift.found" in out and receiver.url in out
        assert secret not in out
        code, out, _ = run(capsys, "webhooks", "test", hook_id, *d)
        assert code == 1 and "HTTP 500" in out
        code, out, _ = run(capsys, "webhooks", "test", hook_id, *d)
        assert code == 0 and "Delivered" in out
        _, second = receiver.wait_for(2)
        assert verify(
            secret, second.headers, second.body, now=float(second.headers["x-qbrelay-timestamp"])
        )
    code, out, _ = run(capsys, "webhooks", "deliveries", "--limit", "5", "--json", *d)
    log = json.loads(out)
    assert sorted(e["status"] for e in log) == ["delivered", "failed"]
    assert all(e["event_type"] == "webhook.test" and "body" not in e for e in log)
    code, out, _ = run(capsys, "webhooks", "deliveries", *d)
    assert "webhook.test" in out and "HTTP 500" in out
    code, out, _ = run(capsys, "webhooks", "remove", hook_id, *d)
    assert code == 0 and FileSecretStore.in_dir(tmp_path).get(f"webhooks/{hook_id}") is None
    assert run(capsys, "webhooks", "remove", hook_id, *d)[0] == 1
    code, out, _ = run(capsys, "webhooks", "list", *d)
    assert "No webhooks" in out


def test_bad_arguments_are_refused(capsys, tmp_path) -> None:
    d = ["--data-dir", str(tmp_path)]
    code, _, err = run(capsys, "webhooks", "add", "http://example.com/h", "--events", "*", *d)
    assert code == 1 and "only https" in err
    code, _, err = run(capsys, "webhooks", "add", "https://x.example/h", "--events", "nope", *d)
    assert code == 1 and "unknown event type" in err


PREFIX = "qbxml-relay/dev/"


@pytest.fixture
def deployment(monkeypatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("QBRELAY_WEBHOOKS_TABLE", "relay-dev-webhooks")
    monkeypatch.setenv("QBRELAY_SECRETS_PREFIX", PREFIX)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_webhooks_table(ddb, "relay-dev-webhooks")
        monkeypatch.setattr(
            targets, "aws_client", lambda service, region=None: boto3.client(service)
        )
        yield ddb


def test_aws_commands(capsys, deployment) -> None:
    a = ["--aws", "--env", "dev"]
    code, out, err = run(
        capsys, "webhooks", "add", "https://hooks.example.com/qb", "--events",
        "failure.parked,tenant.stale", "--tenant", "acme", "--json", *a,
    )  # fmt: skip
    assert code == 0, err
    made = json.loads(out)
    stored = boto3.client("secretsmanager").get_secret_value(
        SecretId=f"{PREFIX}webhooks/{made['id']}"
    )
    assert json.loads(stored["SecretString"]) == {"signing_secret": made["signing_secret"]}
    code, out, _ = run(capsys, "webhooks", "list", "--json", *a)
    (listed,) = json.loads(out)
    assert listed["events"] == ["failure.parked", "tenant.stale"] and listed["tenant"] == "acme"
    # Loopback and private addresses are for the local process only.
    for url in ("http://127.0.0.1:9/h", "https://10.0.0.8/h", "https://169.254.169.254/"):
        code, _, err = run(capsys, "webhooks", "add", url, "--events", "*", *a)
        assert code == 1, url
    assert run(capsys, "webhooks", "remove", made["id"], *a)[0] == 0
    assert json.loads(run(capsys, "webhooks", "list", "--json", *a)[1]) == []
