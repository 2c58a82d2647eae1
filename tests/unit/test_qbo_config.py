"""QuickBooks Online settings: environment, secret store, clear errors; Fault parsing."""

from __future__ import annotations

import pytest

from lambdas.qbo.client import parse_fault, quote, request_id_for
from lambdas.qbo.config import (
    API_BASE_URLS,
    APP_SECRET_NAME,
    AUTHORIZE_URL,
    REVOKE_URL,
    TOKEN_URL,
    load_config,
)
from lambdas.qbo.errors import QboConfigError
from lambdas.store.files import FileSecretStore

BASE = {
    "QBO_CLIENT_ID": "ABclient",
    "QBO_CLIENT_SECRET": "s3cret",
    "QBO_REDIRECT_URI": "https://relay.example.com/qbo/callback",
}


def test_defaults_are_intuits_sandbox_endpoints() -> None:
    config = load_config(BASE)
    assert config.environment == "sandbox"
    assert config.api_base_url == API_BASE_URLS["sandbox"]
    assert (config.authorize_url, config.token_url, config.revoke_url) == (
        AUTHORIZE_URL,
        TOKEN_URL,
        REVOKE_URL,
    )
    assert "s3cret" not in repr(config)
    production = load_config({**BASE, "QBO_ENVIRONMENT": "Production"})
    assert production.api_base_url == "https://quickbooks.api.intuit.com"


def test_base_url_overrides_point_every_endpoint_at_one_host() -> None:
    config = load_config(
        {
            **BASE,
            "QBO_AUTH_BASE_URL": "http://127.0.0.1:9000/",
            "QBO_API_BASE_URL": "http://127.0.0.1:9001",
        }
    )
    assert config.authorize_url == "http://127.0.0.1:9000/connect/oauth2"
    assert config.token_url == "http://127.0.0.1:9000/oauth2/v1/tokens/bearer"
    assert config.revoke_url == "http://127.0.0.1:9000/v2/oauth2/tokens/revoke"
    assert config.api_base_url == "http://127.0.0.1:9001"


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"QBO_CLIENT_ID": ""}, "QBO_CLIENT_ID"),
        ({"QBO_CLIENT_SECRET": ""}, "client secret"),
        ({"QBO_REDIRECT_URI": ""}, "QBO_REDIRECT_URI"),
        ({"QBO_REDIRECT_URI": "http://relay.example.com/cb"}, "https"),
        ({"QBO_REDIRECT_URI": "relay/cb"}, "absolute"),
        ({"QBO_ENVIRONMENT": "staging"}, "sandbox or production"),
        ({"QBO_API_BASE_URL": "http://intuit.example.com"}, "QBO_API_BASE_URL"),
    ],
)
def test_missing_or_invalid_settings_name_the_fix(change, needle) -> None:
    with pytest.raises(QboConfigError, match=needle):
        load_config({**BASE, **change})


def test_secrets_come_from_the_store_and_never_from_lambda_environment(tmp_path) -> None:
    store = FileSecretStore.in_dir(tmp_path)
    store.put(APP_SECRET_NAME, {"client_secret": "from-store", "webhook_verifier_token": "vt"})
    env = {k: v for k, v in BASE.items() if k != "QBO_CLIENT_SECRET"}
    config = load_config(env, store, on_aws=True)
    assert config.client_secret == "from-store" and config.verifier_token() == "vt"
    with pytest.raises(QboConfigError, match="must not be a Lambda environment variable"):
        load_config(BASE, store, on_aws=True)
    with pytest.raises(QboConfigError, match="QBO_WEBHOOK_VERIFIER_TOKEN"):
        load_config(BASE).verifier_token()
    assert load_config(BASE, store).client_secret == "s3cret"  # locally the environment wins


def test_both_fault_casings_and_odd_bodies_parse() -> None:
    upper = {"Fault": {"Error": [{"Message": "Dup", "Detail": "d", "code": "6240"}]}}
    lower = {"fault": {"error": [{"message": "Auth", "detail": "x", "code": "3200"}]}}
    assert parse_fault(upper) == ("6240", "Dup", "d")
    assert parse_fault(lower) == ("3200", "Auth", "x")
    assert parse_fault({"fault": {"type": "SERVICE"}}) == ("SERVICE", "SERVICE", "")
    assert parse_fault({"QueryResponse": {}}) is None and parse_fault(None) is None


def test_query_literals_and_request_ids() -> None:
    assert quote("O'Brien \\ Co") == "'O\\'Brien \\\\ Co'"
    a = request_id_for("123", "zoho", "4711", "create", "1")
    assert a == request_id_for("123", "zoho", "4711", "create", "1") and len(a) == 36
    assert a != request_id_for("123", "zoho", "4711", "create", "2")
