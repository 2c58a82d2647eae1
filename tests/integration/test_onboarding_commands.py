"""``qbrelay tenant …`` and ``qbrelay qwc`` on a local data dir and on a deployment under moto.

The deployment's CloudFormation outputs come from a botocore Stubber (checked against the
CloudFormation API model); its DynamoDB tenants table is moto's.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from lxml import etree
from moto import mock_aws

from lambdas.local import cli, targets
from lambdas.qbwc.passwords import verify_password
from lambdas.store.dynamo import DynamoTenantStore
from lambdas.store.sqlite import SqliteDatabase, SqliteTenantStore
from lambdas.sync.plan import DEFAULT_ENTITIES
from qwc import ELEMENT_ORDER, is_braced_guid
from tests.aws_tables import (
    create_mappings_table,
    create_pk_table,
    create_runs_table,
    create_writeback_table,
)

PASSWORD = "A-long-enough-passw0rd"
API = "https://abc123.execute-api.us-east-1.amazonaws.com/dev/"


def run(capsys: Any, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
    """Run qbrelay in this process; (exit code, stdout, stderr)."""
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
    finally:
        sys.stdin = sys.__stdin__
    out = capsys.readouterr()
    return code, out.out, out.err


def shown_password(out: str) -> str:
    """The line after the "shown this once" notice."""
    lines = out.splitlines()
    return lines[next(i for i, line in enumerate(lines) if "shown this once" in line) + 1]


# --- local data dir ---------------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> list[str]:
    return ["--data-dir", str(tmp_path / "data")]


def store_of(local: list[str]) -> SqliteTenantStore:
    return SqliteTenantStore(SqliteDatabase.in_dir(local[1]))


def test_add_shows_a_generated_password_once_and_stores_its_hash(capsys, local) -> None:
    code, out, _ = run(capsys, "tenant", "add", "acme", *local)
    assert code == 0
    password = shown_password(out)
    tenant = store_of(local).get("acme")
    assert tenant.qbwc_user == "acme" and tenant.enabled_entities == DEFAULT_ENTITIES
    assert is_braced_guid(tenant.file_id)
    assert password not in tenant.password_hash and verify_password(password, tenant.password_hash)
    assert len(password) >= 20


def test_add_reads_the_password_from_stdin_and_never_prints_it(capsys, local) -> None:
    code, out, err = run(
        capsys,
        "tenant",
        "add",
        "acme",
        "--qbwc-user",
        "acme-qbwc",
        "--password-stdin",
        "--entities",
        "customer",
        "--min-interval-minutes",
        "30",
        "--company-file",
        r"C:\Company\Acme.QBW",
        "--watermark-margin-hours",
        "6.5",
        *local,
        stdin=PASSWORD + "\n",
    )
    assert code == 0, err
    assert PASSWORD not in out + err
    tenant = store_of(local).get("acme")
    assert verify_password(PASSWORD, tenant.password_hash)
    assert tenant.min_interval_seconds == 1800 and tenant.company_file == r"C:\Company\Acme.QBW"
    assert tenant.watermark_margin_seconds == 6 * 3600 + 1800


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (["@deployment"], None, "tenant name '@deployment'"),
        (["acme", "--entities", "Customer,Widget"], None, "unknown entities Widget; choose from"),
        (["acme", "--password-stdin"], "short\n", "at least 12 characters"),
        (["acme", "--password-stdin"], "only-lower-case-and-dashes\n", "at least 3 kinds"),
        (["acme", "--password-stdin"], "UPPERlower12\n", None),
        (["acme", "--password-stdin"], "\n", "expected on standard input"),
        (["acme", "--company-file", "Acme.QBW"], None, "not a full path"),
        (["acme", "--min-interval-minutes", "-1"], None, "between 0 and"),
        (["acme", "--watermark-margin-hours", "49"], None, "between 0 and 48"),
        (["acme", "--watermark-margin-hours", "nan"], None, "between 0 and 48"),
        (["acme", "--aws"], None, "either --aws or --data-dir"),
    ],
)
def test_add_rejects_bad_input_and_stores_nothing(capsys, local, argv, stdin, message) -> None:
    code, _, err = run(capsys, "tenant", "add", *argv, *local, stdin=stdin)
    if message is None:  # the control: 12 characters of 3 kinds pass
        assert code == 0, err
        return
    assert code != 0 and message in err
    assert store_of(local).list() == []


def test_rotate_password_refuses_a_weak_password_and_keeps_the_old(capsys, local) -> None:
    assert run(capsys, "tenant", "add", "acme", *local)[0] == 0
    before = store_of(local).get("acme").password_hash
    code, _, err = run(
        capsys, "tenant", "rotate-password", "acme", "--password-stdin", *local, stdin="weak\n"
    )
    assert code != 0 and "at least 12 characters" in err and "at least 3 kinds" in err
    assert store_of(local).get("acme").password_hash == before


def test_add_twice_is_a_clear_error(capsys, local) -> None:
    assert run(capsys, "tenant", "add", "acme", *local)[0] == 0
    code, _, err = run(capsys, "tenant", "add", "acme", "--qbwc-user", "other", *local)
    assert code != 0 and "already exists" in err


def test_list_set_rotate_remove(capsys, local) -> None:
    run(capsys, "tenant", "add", "acme", *local)
    run(capsys, "tenant", "add", "beta", *local)
    store = store_of(local)
    before = store.get("acme")

    code, out, _ = run(capsys, "tenant", "list", *local)
    assert code == 0 and [line.split("\t")[0] for line in out.splitlines()] == ["acme", "beta"]
    assert f"file_id={before.file_id}" in out and "hash" not in out
    assert "qbwc=-" in out  # no Web Connector seen yet

    code, out, err = run(
        capsys, "tenant", "set", "acme", "--entities", "", "--min-interval-minutes", "60", *local
    )
    assert code == 0, err
    after = store.get("acme")
    assert after.enabled_entities == () and after.min_interval_seconds == 3600
    assert after.file_id == before.file_id and after.password_hash == before.password_hash
    assert after.watermark_margin_seconds == 7200  # the default
    code, out, err = run(capsys, "tenant", "set", "acme", "--watermark-margin-hours", "12", *local)
    assert code == 0 and "watermark_margin=12h" in out, err
    assert store.get("acme").watermark_margin_seconds == 12 * 3600
    code, _, err = run(capsys, "tenant", "set", "acme", "--watermark-margin-hours", "-1", *local)
    assert code != 0 and "between 0 and 48" in err
    assert store.get("acme").watermark_margin_seconds == 12 * 3600
    assert "watermark_margin=12h" in run(capsys, "tenant", "list", *local)[1]
    code, _, err = run(capsys, "tenant", "set", "acme", "--entities", "Nope", *local)
    assert code != 0 and "choose from Item, Customer" in err
    assert store.get("acme").enabled_entities == ()
    code, _, err = run(capsys, "tenant", "set", "acme", *local)
    assert code != 0 and "nothing to change" in err
    code, _, err = run(capsys, "tenant", "set", "ghost", "--entities", "Customer", *local)
    assert code != 0 and "no tenant named 'ghost'" in err

    code, out, err = run(
        capsys, "tenant", "rotate-password", "acme", "--password-stdin", *local, stdin=PASSWORD
    )
    assert code == 0 and PASSWORD not in out + err
    rotated = store.get("acme")
    assert verify_password(PASSWORD, rotated.password_hash)
    assert rotated.file_id == before.file_id

    code, _, err = run(capsys, "tenant", "remove", "acme", *local)
    assert code != 0 and "--yes" in err and store.get("acme") is not None
    assert run(capsys, "tenant", "remove", "acme", "--yes", *local)[0] == 0
    assert [t.name for t in store.list()] == ["beta"]
    code, _, err = run(capsys, "tenant", "remove", "acme", "--yes", *local)
    assert code != 0 and "no tenant named 'acme'" in err


def qwc_root(data: bytes | str) -> etree._Element:
    raw = data.encode() if isinstance(data, str) else data
    return etree.fromstring(raw, etree.XMLParser(resolve_entities=False))


def test_qwc_to_stdout_and_file(capsys, local, tmp_path) -> None:
    run(capsys, "tenant", "add", "acme", "--qbwc-user", "acme-qbwc", *local)
    code, out, err = run(
        capsys, "qwc", "--tenant", "acme", "--url", "https://qb.example.com/qbwc", *local
    )
    assert code == 0, err
    root = qwc_root(out)
    store = store_of(local)
    tenant = store.get("acme")
    assert [c.tag for c in root] == list(ELEMENT_ORDER)
    assert root.findtext("UserName") == "acme-qbwc"
    assert root.findtext("FileID") == tenant.file_id
    assert root.findtext("OwnerID") == store.deployment_owner_id()
    bare = tenant.file_id[1:-1]
    assert root.findtext("AppSupport") == f"https://qb.example.com/support/{bare}"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "15"
    assert root.findtext("IsReadOnly") == "false"

    out_file = tmp_path / "acme.qwc"
    code, out, _ = run(
        capsys,
        "qwc",
        "--tenant",
        "acme",
        "--url",
        "https://qb.example.com/relay/qbwc",
        "--read-only",
        "--every-minutes",
        "30",
        "--out",
        str(out_file),
        *local,
    )
    assert code == 0 and "Wrote" in out
    again = qwc_root(out_file.read_bytes())
    # A re-issued file keeps the deployment's OwnerID and the tenant's FileID.
    assert again.findtext("OwnerID") == root.findtext("OwnerID")
    assert again.findtext("FileID") == root.findtext("FileID")
    assert again.findtext("AppSupport") == f"https://qb.example.com/relay/support/{bare}"
    assert again.findtext("IsReadOnly") == "true"
    assert again.findtext("Scheduler/RunEveryNMinutes") == "30"


def test_qwc_for_a_tenant_stored_before_file_ids(capsys, local) -> None:
    from lambdas.store.ports import Tenant

    store = store_of(local)
    store.create(Tenant(name="old", qbwc_user="old-qbwc", password_hash="scrypt$x"))
    first = qwc_root(
        run(capsys, "qwc", "--tenant", "old", "--url", "http://localhost/qbwc", *local)[1]
    )
    second = qwc_root(
        run(capsys, "qwc", "--tenant", "old", "--url", "http://localhost/qbwc", *local)[1]
    )
    assert is_braced_guid(first.findtext("FileID"))
    assert first.findtext("FileID") == second.findtext("FileID") == store.get("old").file_id


def test_qwc_uses_the_tenants_minimum_interval(capsys, local) -> None:
    run(capsys, "tenant", "add", "acme", "--min-interval-minutes", "45", *local)
    code, out, _ = run(
        capsys, "qwc", "--tenant", "acme", "--url", "https://q.example.com/qbwc", *local
    )
    assert qwc_root(out).findtext("Scheduler/RunEveryNMinutes") == "45"
    code, out, err = run(
        capsys,
        "qwc",
        "--tenant",
        "acme",
        "--url",
        "https://q.example.com/qbwc",
        "--every-minutes",
        "5",
        *local,
    )
    assert code == 0 and "at most every 45 minutes" in err


def test_live_mode_settings_and_their_qwc(capsys, local) -> None:
    run(capsys, "tenant", "add", "acme", *local)
    url = ("--url", "https://q.example.com/qbwc")
    code, out, err = run(
        capsys, "tenant", "set", "acme", "--live", "on", "--live-interval", "30", *local
    )
    assert code == 0 and "live=30s sweep=900s" in out and "Re-issue" in out, err
    tenant = store_of(local).get("acme")
    assert tenant.live and tenant.live_interval_seconds == 30
    code, out, err = run(capsys, "tenant", "set", "acme", "--live-sweep", "300", *local)
    assert code == 0 and "sweep=300s" in out, err
    assert store_of(local).get("acme").live_sweep_seconds == 300
    root = qwc_root(run(capsys, "qwc", "--tenant", "acme", *url, *local)[1])
    assert [c.tag for c in root.find("Scheduler")] == ["RunEveryNSeconds"]
    assert root.findtext("Scheduler/RunEveryNSeconds") == "30"
    code, out, err = run(
        capsys, "tenant", "set", "acme", "--business-hours", "Mon-Fri 08:00-18:00", *local
    )
    assert code == 0 and "business_hours=Mon-Fri 08:00-18:00" in out, err
    for bad, message in (
        (["--live-interval", "2"], "between 5 and 3600"),
        (["--live-sweep", "30"], "between 60 and 86400"),
        (["--business-hours", "8-6"], "expected e.g."),
        (["--business-hours", "18:00-08:00"], "after the start"),
    ):
        code, _, err = run(capsys, "tenant", "set", "acme", *bad, *local)
        assert code != 0 and message in err
    assert store_of(local).get("acme").business_hours == "Mon-Fri 08:00-18:00"
    assert run(capsys, "tenant", "set", "acme", "--live", "off", *local)[0] == 0
    root = qwc_root(run(capsys, "qwc", "--tenant", "acme", *url, *local)[1])
    assert root.findtext("Scheduler/RunEveryNMinutes") == "15"
    assert root.find("Scheduler/RunEveryNSeconds") is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tenant", "ghost", "--url", "https://q.example.com/qbwc"], "no tenant named 'ghost'"),
        (["--tenant", "acme"], "--url"),
        (["--tenant", "acme", "--url", "http://q.example.com/qbwc"], "must use https"),
        (["--tenant", "acme", "--url", "https://10.0.0.5/qbwc"], "IP address"),
        (
            [
                "--tenant",
                "acme",
                "--url",
                "https://q.example.com/qbwc",
                "--support-url",
                "https://help.example.org/",
            ],
            "same domain",
        ),
        (
            ["--tenant", "acme", "--url", "https://q.example.com/qbwc", "--every-minutes", "0"],
            "RunEveryNMinutes",
        ),
    ],
)
def test_qwc_refuses_what_qbwc_would(capsys, local, tmp_path, argv, message) -> None:
    run(capsys, "tenant", "add", "acme", *local)
    out_file = tmp_path / "x.qwc"
    code, _, err = run(capsys, "qwc", *argv, "--out", str(out_file), *local)
    assert code != 0 and message in err
    assert not out_file.exists()


# --- a deployment (moto DynamoDB, stubbed CloudFormation outputs) ------------------------------


def _outputs(table: str) -> dict[str, Any]:
    values = {
        "ApiUrl": API,
        "QbwcUrl": API + "qbwc",
        "SupportUrl": API + "support",
        "TenantsTable": table,
        # The rest of the deployment's tables: tenant remove looks for a tenant's state in them.
        **{key: f"relay-dev-{key.removesuffix('Table').lower()}" for key in STATE_TABLES},
        "SecretsPrefix": "qbxml-relay/dev/",
    }
    return {
        "Stacks": [
            {
                "StackName": "QbxmlRelay-dev",
                "CreationTime": "2026-01-01T00:00:00Z",
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in values.items()],
            }
        ]
    }


STATE_TABLES = ("SessionsTable", "StateTable", "MappingsTable", "RunsTable", "WriteBackTable")


class Deployment:
    """moto's DynamoDB plus a CloudFormation client answering from a stub."""

    def __init__(self, monkeypatch: Any) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        for name in ("tenants", "sessions", "state"):
            create_pk_table(self.dynamodb, f"relay-dev-{name}")
        create_mappings_table(self.dynamodb, "relay-dev-mappings")
        create_runs_table(self.dynamodb, "relay-dev-runs")
        create_writeback_table(self.dynamodb, "relay-dev-writeback")
        self.cloudformation = boto3.client("cloudformation", region_name="us-east-1")
        self.stub = Stubber(self.cloudformation)
        self.stub.activate()
        self.stacks: list[str] = []

        def client(service: str, region: str | None = None) -> Any:
            if service == "cloudformation":
                return self.cloudformation
            return self.dynamodb if service == "dynamodb" else boto3.client(service)

        monkeypatch.setattr(targets, "aws_client", client)

    def expect_stack(self, name: str = "QbxmlRelay-dev", table: str = "relay-dev-tenants") -> None:
        self.stub.add_response("describe_stacks", _outputs(table), {"StackName": name})

    def expect_missing_stack(self, name: str) -> None:
        self.stub.add_client_error(
            "describe_stacks",
            service_error_code="ValidationError",
            service_message=f"Stack with id {name} does not exist",
            http_status_code=400,
            expected_params={"StackName": name},
        )

    @property
    def tenants(self) -> DynamoTenantStore:
        return DynamoTenantStore(self.dynamodb, "relay-dev-tenants")


@pytest.fixture
def aws(monkeypatch) -> Iterator[Deployment]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in targets.TABLE_OUTPUTS.values():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("QBRELAY_ENV", raising=False)
    with mock_aws():
        deployment = Deployment(monkeypatch)
        yield deployment
        deployment.stub.assert_no_pending_responses()


def test_tenant_commands_against_a_deployment(capsys, aws) -> None:
    target = ["--aws", "--env", "dev"]
    aws.expect_stack()
    code, out, err = run(
        capsys, "tenant", "add", "acme", "--password-stdin", *target, stdin=PASSWORD
    )
    assert code == 0, err
    tenant = aws.tenants.get("acme")
    assert verify_password(PASSWORD, tenant.password_hash) and is_braced_guid(tenant.file_id)
    assert aws.tenants.find_by_file_id(tenant.file_id) == tenant

    aws.expect_stack()
    assert run(capsys, "tenant", "set", "acme", "--min-interval-minutes", "10", *target)[0] == 0
    assert aws.tenants.get("acme").min_interval_seconds == 600
    aws.expect_stack()
    assert run(capsys, "tenant", "set", "acme", "--watermark-margin-hours", "0", *target)[0] == 0
    assert aws.tenants.get("acme").watermark_margin_seconds == 0

    aws.expect_stack()
    code, out, _ = run(capsys, "tenant", "rotate-password", "acme", *target)
    new_password = shown_password(out)
    assert code == 0 and verify_password(new_password, aws.tenants.get("acme").password_hash)

    aws.expect_stack()
    code, out, _ = run(capsys, "tenant", "list", *target)
    assert out.startswith("acme\tuser=acme\t")

    aws.expect_stack()
    assert run(capsys, "tenant", "remove", "acme", "--yes", *target)[0] == 0
    assert aws.tenants.get("acme") is None and aws.tenants.find_by_file_id(tenant.file_id) is None


def test_environment_variables_name_the_tables(capsys, aws, monkeypatch) -> None:
    # No CloudFormation call is stubbed: the environment variable is enough.
    monkeypatch.setenv("QBRELAY_TENANTS_TABLE", "relay-dev-tenants")
    monkeypatch.setenv("QBRELAY_ENV", "dev")
    assert run(capsys, "tenant", "add", "acme", "--aws")[0] == 0
    assert aws.tenants.get("acme") is not None


def test_aws_needs_an_environment(capsys, aws) -> None:
    code, _, err = run(capsys, "tenant", "list", "--aws")
    assert code != 0 and "--aws needs --env" in err


def test_missing_stack_is_a_clear_error(capsys, aws) -> None:
    aws.expect_missing_stack("QbxmlRelay-prod")
    code, _, err = run(capsys, "tenant", "list", "--aws", "--env", "prod")
    assert code != 0
    assert "QbxmlRelay-prod" in err and "does not exist" in err and "Traceback" not in err


def test_qwc_from_stack(capsys, aws) -> None:
    aws.expect_stack()
    run(capsys, "tenant", "add", "acme", "--qbwc-user", "acme-qbwc", "--aws", "--env", "dev")
    aws.expect_stack("QbxmlRelay-dev")
    code, out, err = run(capsys, "qwc", "--tenant", "acme", "--from-stack", "QbxmlRelay-dev")
    assert code == 0, err
    root = qwc_root(out)
    tenant = aws.tenants.get("acme")
    assert root.findtext("AppURL") == API + "qbwc"
    assert root.findtext("AppSupport") == f"{API}support/{tenant.file_id[1:-1]}"
    assert root.findtext("UserName") == "acme-qbwc"
    assert root.findtext("FileID") == tenant.file_id
    assert root.findtext("OwnerID") == aws.tenants.deployment_owner_id()

    # --aws --env resolves the same stack; --url overrides its address (a custom domain).
    aws.expect_stack()
    code, out, err = run(
        capsys,
        "qwc",
        "--tenant",
        "acme",
        "--aws",
        "--env",
        "dev",
        "--url",
        "https://qb.example.com/qbwc",
    )
    assert code == 0, err
    custom = qwc_root(out)
    assert custom.findtext("AppSupport") == f"https://qb.example.com/support/{tenant.file_id[1:-1]}"
    assert custom.findtext("OwnerID") == root.findtext("OwnerID")


def test_qwc_from_a_missing_stack(capsys, aws) -> None:
    aws.expect_missing_stack("QbxmlRelay-staging")
    code, _, err = run(capsys, "qwc", "--tenant", "acme", "--from-stack", "QbxmlRelay-staging")
    assert code != 0 and "does not exist" in err
