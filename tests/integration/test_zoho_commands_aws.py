"""``qbrelay zoho … --aws --env ENV``: a deployment's ZOHO settings, against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lambdas.local import targets
from lambdas.store.dynamo import DynamoForwarderState, DynamoMappingStore
from lambdas.store.ports import DeliveryOutcome, DeliveryStatus
from tests.aws_tables import create_mappings_table, create_pk_table
from tests.integration.test_onboarding_commands import run

PREFIX = "qbxml-relay/dev/"


@pytest.fixture
def deployment(monkeypatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # The functions' environment names every store: no CloudFormation lookup is needed.
    monkeypatch.setenv("QBRELAY_ENV", "dev")
    monkeypatch.setenv("QBRELAY_STATE_TABLE", "relay-dev-state")
    monkeypatch.setenv("QBRELAY_MAPPINGS_TABLE", "relay-dev-mappings")
    monkeypatch.setenv("QBRELAY_TENANTS_TABLE", "relay-dev-tenants")
    monkeypatch.setenv("QBRELAY_SECRETS_PREFIX", PREFIX)
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_pk_table(ddb, "relay-dev-state")
        create_pk_table(ddb, "relay-dev-tenants")  # zoho check/setup read the write-back setting
        create_mappings_table(ddb, "relay-dev-mappings")
        monkeypatch.setattr(
            targets, "aws_client", lambda service, region=None: boto3.client(service)
        )
        yield ddb


def test_credentials_go_to_secrets_manager(capsys, deployment) -> None:
    secret = "s3cr3t-client-secret"
    refresh = "1000.refresh-token-value"
    code, out, err = run(
        capsys,
        "zoho",
        "set-credentials",
        "--tenant",
        "acme",
        "--data-centre",
        "eu",
        "--client-id",
        "1000.CLIENT",
        "--aws",
        stdin=f"{secret}\n{refresh}\n",
    )
    assert code == 0, err
    assert secret not in out + err and refresh not in out + err
    stored = boto3.client("secretsmanager").get_secret_value(SecretId=PREFIX + "zoho/acme")
    value = json.loads(stored["SecretString"])
    assert value["client_secret"] == secret and value["refresh_token"] == refresh
    assert value["data_centre"] == "eu"


def test_status_mapping_and_resume_use_the_deployments_state(capsys, deployment, tmp_path):
    state = DynamoForwarderState(deployment, "relay-dev-state")
    state.pause("acme", until=4_000_000_000.0, reason="ZOHO credits are exhausted")
    DynamoMappingStore(deployment, "relay-dev-mappings").record_outcome(
        DeliveryOutcome(
            "acme",
            "qbd",
            "Customer",
            "80-1",
            DeliveryStatus.PARKED,
            "1",
            1.0,
            last_error="INVALID_DATA",
        )
    )
    code, out, err = run(capsys, "zoho", "status", "--tenant", "acme", "--aws", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["pause_reason"] == "ZOHO credits are exhausted" and shown["parked"] is None
    assert shown["failed"] == [{"entity": "Customer", "source_id": "80-1", "error": "INVALID_DATA"}]
    assert run(capsys, "zoho", "resume", "--tenant", "acme", "--aws")[0] == 0
    assert state.paused("acme", 0.0) is None
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"entities": {}}))
    code, _, err = run(
        capsys, "zoho", "set-mapping", "--tenant", "acme", "--file", str(mapping), "--aws"
    )
    assert code == 0, err
    assert state.get_mapping("acme") is not None


def test_aws_and_a_data_dir_do_not_mix(capsys, deployment, tmp_path) -> None:
    code, _, err = run(
        capsys, "zoho", "status", "--tenant", "acme", "--aws", "--data-dir", str(tmp_path)
    )
    assert code != 0 and "one of them" in err


def test_setup_creates_fields_with_the_deployments_credentials(capsys, deployment) -> None:
    from sim.fake_zoho import FakeZoho, FakeZohoServer, standard_modules

    fake = FakeZoho(modules=standard_modules(with_qb_fields=False))
    fake.add_client("1000.CLIENT", "s3cr3t", "1000.refresh")
    with FakeZohoServer(fake) as server:
        boto3.client("secretsmanager").create_secret(
            Name=PREFIX + "zoho/acme",
            SecretString=json.dumps(
                {
                    "client_id": "1000.CLIENT",
                    "client_secret": "s3cr3t",
                    "refresh_token": "1000.refresh",
                    "data_centre": "eu",
                    "accounts_url": server.url,
                }
            ),
        )
        code, out, err = run(capsys, "zoho", "setup", "--tenant", "acme", "--aws")
        assert code == 0, out + err
        assert "created Accounts.QB_ListID" in out and "Ready" in out
        assert fake.modules["Invoices"].fields["QB_TxnID"].external == "org"
        code, out, err = run(capsys, "zoho", "setup", "--tenant", "acme", "--aws")
        assert code == 0 and "Nothing to create" in out, out + err
    # The functions' token cache (state table) holds the token the command used.
    assert fake.token_calls == 1
    item = deployment.get_item(
        TableName="relay-dev-state", Key={"pk": {"S": "@zoho-token#acme"}}
    ).get("Item")
    assert item is not None
