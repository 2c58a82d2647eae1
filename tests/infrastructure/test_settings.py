"""Per-environment settings: defaults, overrides from context, and validation."""

from __future__ import annotations

import pytest

from infra.settings import ENVIRONMENTS, SettingsError, from_context, resolve

NO_ENV: dict[str, str] = {}


def test_each_environment_has_its_names() -> None:
    for env in ENVIRONMENTS:
        s = resolve(env, environ=NO_ENV)
        assert s.stack_name == f"QbxmlRelay-{env}"
        assert s.secrets_prefix == f"qbxml-relay/{env}/"
        assert s.metrics_namespace == f"QbxmlRelay/{env}"
        assert s.account is None and s.region is None


def test_production_keeps_its_data_and_logs_longer() -> None:
    dev, prod = resolve("dev", environ=NO_ENV), resolve("prod", environ=NO_ENV)
    assert prod.retain_data and not dev.retain_data
    assert prod.log_retention_days > dev.log_retention_days


def test_account_and_region_default_from_the_cdk_environment() -> None:
    environ = {"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-central-1"}
    s = resolve("staging", environ=environ)
    assert (s.account, s.region) == ("123456789012", "eu-central-1")
    assert resolve("staging", {"region": "us-west-2"}, environ).region == "us-west-2"


def test_scheduled_jobs_defaults_and_overrides() -> None:
    for env in ENVIRONMENTS:
        s = resolve(env, environ=NO_ENV)
        assert (s.audit_schedule_hours, s.audit_repair, s.audit_timeout_seconds) == (24, False, 900)
        assert s.overdue_schedule_hours == 6
    s = resolve(
        "dev",
        {"audit_schedule_hours": "48", "audit_repair": "true", "overdue_schedule_hours": "1"},
        NO_ENV,
    )
    assert (s.audit_schedule_hours, s.audit_repair, s.overdue_schedule_hours) == (48, True, 1)


def test_the_forwarders_batching_window_is_a_setting_live_deployments_lower() -> None:
    assert resolve("prod", environ=NO_ENV).forwarder_batching_window_seconds == 5
    live = resolve("dev", {"forwarder_batching_window_seconds": "1"}, NO_ENV)
    assert live.forwarder_batching_window_seconds == 1


def test_command_line_strings_are_converted() -> None:
    s = resolve(
        "dev",
        {"relay_memory_mb": "1024", "retain_data": "true", "stale_sync_hours": "6.5"},
        NO_ENV,
    )
    assert (s.relay_memory_mb, s.retain_data, s.stale_sync_hours) == (1024, True, 6.5)


def test_context_block_then_command_line_overrides() -> None:
    context = {
        "qbxml-relay": {"prod": {"alarm_email": "a@example.com", "relay_memory_mb": 1024}},
        "relay_memory_mb": "768",
    }
    s = from_context("prod", context.get)
    assert (s.alarm_email, s.relay_memory_mb) == ("a@example.com", 768)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as err:
        resolve(
            "prod",
            {
                "relay_timeout_seconds": 30,
                "retain_data": False,
                "alarm_email": "not-an-address",
                "log_retention_days": 10,
                "domain_name": "qb.example.com",
            },
            NO_ENV,
        )
    message = str(err.value)
    for key in (
        "relay_timeout_seconds",
        "retain_data",
        "alarm_email",
        "log_retention_days",
        "certificate_arn",
    ):
        assert key in message


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"memory": 512}, "not a setting"),
        ({"relay_memory_mb": "lots"}, "relay_memory_mb"),
        ({"retain_data": "maybe"}, "true or false"),
        ({"forwarder_batch_size": 10_001}, "forwarder_batch_size"),
        ({"max_receive_count": 5}, "max_receive_count"),
        ({"hosted_zone_id": "Z1"}, "hosted_zone_name"),
        ({"account": "12345"}, "account"),
        ({"audit_schedule_hours": 0}, "audit_schedule_hours"),
        ({"audit_schedule_hours": 169}, "audit_schedule_hours: 1 to 168"),
        ({"audit_schedule_hours": 1.5}, "whole number"),
        ({"audit_repair": "sometimes"}, "audit_repair: expected true or false"),
        ({"audit_timeout_seconds": 901}, "audit_timeout_seconds"),
        ({"overdue_schedule_hours": 25}, "overdue_schedule_hours"),
        ({"forwarder_batching_window_seconds": 301}, "forwarder_batching_window_seconds"),
    ],
)
def test_bad_values_are_rejected(overrides, expected) -> None:
    with pytest.raises(SettingsError, match=expected):
        resolve("dev", overrides, NO_ENV)


def test_unknown_environment() -> None:
    with pytest.raises(SettingsError, match="dev, staging, prod"):
        resolve("qa", environ=NO_ENV)
    with pytest.raises(SettingsError, match="unknown environments"):
        from_context("dev", {"qbxml-relay": {"qa": {}}}.get)
