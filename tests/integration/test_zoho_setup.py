"""``qbrelay zoho setup``: custom fields created through the fake ZOHO's Fields API, or listed
for creation by hand when the token lacks the settings scope; ``zoho check`` passes after."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from lambdas.local.cli import main
from lambdas.zoho.errors import ZohoConfigError
from sim.fake_zoho import FakeZoho, FakeZohoServer, standard_modules
from tests.integration.test_zoho_cli import set_credentials
from tests.integration.zoho_helpers import CLIENT_ID, REFRESH, SECRET, ZohoEnv

# What a token made for the relay before `zoho setup` existed carries: reads of the settings.
READ_ONLY = ("ZohoCRM.modules.ALL", "ZohoCRM.settings.modules.READ", "ZohoCRM.settings.fields.READ")
DEFAULT_FIELDS = {
    "Accounts": {"QB_ListID", "QB_Active"},
    "Contacts": {"QB_ListID", "QB_Active"},
    "Products": {"QB_ListID"},
    "Quotes": {"QB_TxnID", "QB_Active"},
    "Sales_Orders": {"QB_TxnID", "QB_Active"},
    "Invoices": {"QB_TxnID", "QB_Active"},
}


@pytest.fixture
def fresh(tmp_path) -> Iterator[ZohoEnv]:
    """A fresh organisation (none of the relay's fields), fully scoped token."""
    yield from _served(tmp_path, ())


@pytest.fixture
def read_only(tmp_path) -> Iterator[ZohoEnv]:
    """A fresh organisation, and a token without any settings write scope."""
    yield from _served(tmp_path, READ_ONLY)


def _served(tmp_path, scopes) -> Iterator[ZohoEnv]:
    from lambdas.store.sqlite import SqliteDatabase

    fake = FakeZoho(modules=standard_modules(with_qb_fields=False))
    fake.add_client(CLIENT_ID, SECRET, REFRESH, scopes)
    with FakeZohoServer(fake) as server:
        env = ZohoEnv(fake, server.url, SqliteDatabase.in_dir(tmp_path / "data"))
        try:
            yield env
        finally:
            for s in env.sessions:
                s.close()


def setup(capsys, data_dir, *extra: str) -> tuple[int, str]:
    code = main(["zoho", "setup", "--tenant", "acme", "--data-dir", str(data_dir), *extra])
    return code, capsys.readouterr().out


def custom_fields(fake: FakeZoho) -> dict[str, set[str]]:
    return {
        name: {f.api_name for f in m.fields.values() if f.custom}
        for name, m in fake.modules.items()
        if any(f.custom for f in m.fields.values())
    }


def test_setup_creates_what_the_mapping_needs_then_nothing(fresh, monkeypatch, tmp_path, capsys):
    data = tmp_path / "data"
    set_credentials(monkeypatch, data, fresh.url)
    capsys.readouterr()
    assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(data)]) == 1
    capsys.readouterr()

    code, out = setup(capsys, data)
    assert code == 0, out
    assert custom_fields(fresh.fake) == DEFAULT_FIELDS
    for module, names in DEFAULT_FIELDS.items():
        for name in names:
            assert f"created {module}.{name} (" in out
    # The id fields are org-based external fields (unique), the flags checkboxes.
    listid = fresh.fake.modules["Accounts"].fields["QB_ListID"]
    assert (listid.data_type, listid.length, listid.external, listid.unique) == (
        "text",
        255,
        "org",
        True,
    )
    assert fresh.fake.modules["Invoices"].fields["QB_Active"].data_type == "boolean"
    verification = out.split("Verification (the same as `qbrelay zoho check`):")[1]
    assert "MISSING" not in verification and "Ready" in verification
    assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(data)]) == 0
    capsys.readouterr()

    calls = len(fresh.fake.field_requests)
    code, out = setup(capsys, data)
    assert code == 0 and "Nothing to create" in out and "created" not in out
    assert len(fresh.fake.field_requests) == calls  # a second run asks ZOHO to create nothing


def test_created_fields_are_accepted_on_records(fresh, monkeypatch, tmp_path, capsys) -> None:
    data = tmp_path / "data"
    set_credentials(monkeypatch, data, fresh.url)
    assert setup(capsys, data)[0] == 0
    client = fresh.client()
    row = {"Account_Name": "Customer 1", "QB_ListID": "80000001-1", "QB_Active": True}
    first = client.upsert("Accounts", [row], ["QB_ListID"])
    again = client.upsert("Accounts", [{**row, "Account_Name": "Renamed"}], ["QB_ListID"])
    assert first[0].ok and first[0].action == "insert"
    assert again[0].ok and again[0].action == "update"  # matched on the new unique field
    (held,) = fresh.fake.by_field("Accounts", "QB_ListID", "80000001-1")
    assert held["QB_Active"] is True and held["Account_Name"] == "Renamed"
    bad = client.upsert("Accounts", [{**row, "QB_Active": "yes"}], ["QB_ListID"])
    assert not bad[0].ok and bad[0].code == "INVALID_DATA"  # the new field's type is enforced


def test_without_the_settings_scope_it_says_what_to_create(
    read_only, monkeypatch, tmp_path, capsys
):
    data = tmp_path / "data"
    set_credentials(monkeypatch, data, read_only.url)
    capsys.readouterr()
    code, out = setup(capsys, data)
    assert code == 1
    assert custom_fields(read_only.fake) == {}
    # The one refused call stops the rest: ZOHO is not asked once per module.
    assert read_only.fake.field_requests == []
    lines = out.splitlines()
    header = next(x for x in lines if "API name" in x)
    assert header.split() == ["module", "label", "API", "name", "type", "length", "unique"]
    row = next(x for x in lines if x.split()[:1] == ["Products"])
    assert row.split() == [
        "Products",
        "QB",
        "ListID",
        "QB_ListID",
        "Single",
        "Line",
        "255",
        "yes:",
        "external",
        "id",
        "(org)",
    ]
    active = next(x for x in lines if x.split()[:3] == ["Invoices", "QB", "Active"])
    assert "Checkbox" in active and active.split()[-1] == "no"
    assert sum(1 for x in lines if x.split()[:1] in (["Accounts"], ["Contacts"])) == 4
    assert "Set External field" in out
    assert "lacks ZohoCRM.settings.fields.ALL" in out and "ZohoCRM.coql.READ" in out
    assert "qbrelay zoho set-credentials --tenant acme" in out
    assert "11 thing(s) to create or fix" in out  # the verification still fails
    assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(data)]) == 1


def test_dry_run_creates_nothing(fresh, monkeypatch, tmp_path, capsys) -> None:
    data = tmp_path / "data"
    set_credentials(monkeypatch, data, fresh.url)
    capsys.readouterr()
    code, out = setup(capsys, data, "--dry-run")
    assert (
        code == 1 and "Create these 11 field(s) by hand" in out and "(not created: dry run)" in out
    )
    assert fresh.fake.field_requests == [] and custom_fields(fresh.fake) == {}
    assert "lacks ZohoCRM.settings" not in out  # the token is fine: no scope advice


def test_a_custom_mapping_gets_each_type_in_calls_of_five(fresh, monkeypatch, tmp_path, capsys):
    data = tmp_path / "data"
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "custom_fields": {
                    "Accounts": {
                        "QB_Balance": "currency",
                        "QB_Notes": "textarea",
                        "QB_Email": "email",
                        "QB_Terms": "picklist",
                        "QB_Since": "date",
                        "QB_Limit": "number",
                        "QB_Alt_Phone": "phone",
                    }
                },
                "entities": {
                    "Customer": {
                        "fields": {
                            "QB_Balance": {"path": "balance", "type": "number"},
                            "QB_Notes": "notes",
                            "QB_Email": "email",
                            "QB_Terms": "terms.full_name",
                            "QB_Since": {"path": "time_created", "type": "date"},
                            "QB_Limit": {"path": "credit_limit", "type": "number"},
                            "QB_Alt_Phone": "alt_phone",
                        }
                    }
                },
            }
        )
    )
    set_credentials(monkeypatch, data, fresh.url)
    capsys.readouterr()
    code, out = setup(capsys, data, "--mapping", str(mapping))
    assert code == 1  # the picklist is left to do by hand
    fields = fresh.fake.modules["Accounts"].fields
    assert fields["QB_Balance"].data_type == "currency" and fields["QB_Balance"].decimals == 2
    assert (fields["QB_Notes"].data_type, fields["QB_Notes"].length) == ("textarea", 32000)
    assert (fields["QB_Email"].data_type, fields["QB_Email"].length) == ("email", 100)
    assert (fields["QB_Alt_Phone"].data_type, fields["QB_Alt_Phone"].length) == ("phone", 30)
    assert fields["QB_Limit"].data_type == "double" and fields["QB_Since"].data_type == "date"
    assert "QB_Terms" not in fields
    accounts = [labels for module, labels in fresh.fake.field_requests if module == "Accounts"]
    assert [len(x) for x in accounts] == [5, 3]
    assert "the mapping does not say the picklist's values" in out
    row = next(x for x in out.splitlines() if "QB_Terms" in x and "Pick List" in x)
    assert row.split()[:4] == ["Accounts", "QB", "Terms", "QB_Terms"]
    assert "1 thing(s) to create or fix" in out


def test_the_client_reports_a_missing_scope_with_its_code(read_only) -> None:
    client = read_only.client()
    with pytest.raises(ZohoConfigError) as caught:
        client.create_fields("Accounts", [{"field_label": "QB ListID", "data_type": "text"}])
    assert caught.value.code == "OAUTH_SCOPE_MISMATCH"
    assert client.fields("Accounts")  # reading the fields needs only the READ scope


def test_the_client_returns_zohos_answer_per_field(fresh) -> None:
    client = fresh.client()
    answers = client.create_fields(
        "Accounts",
        [
            {"field_label": "QB ListID", "data_type": "text", "external": {"type": "org"}},
            {"field_label": "Account Name", "data_type": "text"},  # a standard field's label
            {"field_label": "QB Flag", "data_type": "boolean", "external": {"type": "org"}},
        ],
    )
    assert [a.ok for a in answers] == [True, False, False]
    assert answers[0].zoho_id and answers[1].code == "DUPLICATE_DATA"
    assert answers[2].code == "NOT_ALLOWED"
    assert "QB_ListID" in {f["api_name"] for f in client.fields("Accounts")}
    with pytest.raises(ValueError, match="five"):
        client.create_fields(
            "Accounts", [{"field_label": f"F{i}", "data_type": "text"} for i in range(6)]
        )


WRITEBACK_FIELDS = {
    "Accounts": {"QB_Sync_Status", "QB_Sync_Message"},
    "Deals": {"QB_TxnID", "QB_RefNumber", "QB_Sync_Status", "QB_Sync_Message"},
}


def test_write_back_fields_come_with_the_tenants_setting(fresh, monkeypatch, tmp_path, capsys):
    from lambdas.store.ports import Tenant
    from lambdas.store.sqlite import SqliteDatabase, SqliteTenantStore

    data = tmp_path / "data"
    set_credentials(monkeypatch, data, fresh.url)
    code, out = setup(capsys, data)  # write-back off: the mapping's fields only
    assert code == 0, out
    assert custom_fields(fresh.fake) == DEFAULT_FIELDS
    tenants = SqliteTenantStore(SqliteDatabase.in_dir(data))
    tenants.create(Tenant("acme", "acme-user", "x", writeback=True))
    assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(data)]) == 1
    assert "MISSING field Deals.QB_TxnID" in capsys.readouterr().out
    code, out = setup(capsys, data)
    assert code == 0, out
    assert "Ready: every module and field" in out
    modules = DEFAULT_FIELDS.keys() | WRITEBACK_FIELDS.keys()
    wanted = {m: DEFAULT_FIELDS.get(m, set()) | WRITEBACK_FIELDS.get(m, set()) for m in modules}
    assert custom_fields(fresh.fake) == wanted
    txn = fresh.fake.modules["Deals"].fields["QB_TxnID"]
    assert txn.unique and txn.external == "org"
    status = fresh.fake.modules["Accounts"].fields["QB_Sync_Status"]
    assert status.data_type == "picklist"
    assert set(status.picklist) == {"Synced", "Failed", "Pending", "Conflict"}
    assert main(["zoho", "check", "--tenant", "acme", "--data-dir", str(data)]) == 0
    assert "ok      field Deals.QB_Sync_Message" in capsys.readouterr().out


def test_the_writeback_flag_checks_a_tenant_without_it(monkeypatch, tmp_path, capsys) -> None:
    from lambdas.store.sqlite import SqliteDatabase

    fake = FakeZoho(modules=[m for m in standard_modules() if m.api_name != "Deals"])
    fake.add_client(CLIENT_ID, SECRET, REFRESH)
    with FakeZohoServer(fake) as server:
        env = ZohoEnv(fake, server.url, SqliteDatabase.in_dir(tmp_path / "data"))
        data = tmp_path / "data"
        set_credentials(monkeypatch, data, env.url)
        capsys.readouterr()
        args = ["zoho", "check", "--tenant", "acme", "--data-dir", str(data)]
        assert main(args) == 0
        capsys.readouterr()
        assert main([*args, "--writeback"]) == 1
        out = capsys.readouterr().out
        assert "MISSING module Deals" in out and "turn write-back off" in out
        for s in env.sessions:
            s.close()
