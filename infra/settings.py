"""Per-environment deployment settings: defaults here, overrides from CDK context, validated once.

Overrides come from ``cdk.json`` (context key ``qbxml-relay``, one object per environment) and
from the command line for the environment being deployed, e.g.
``npx aws-cdk@2 deploy -c env=prod -c alarm_email=ops@example.com``. Unknown keys and bad
values stop the synth with every problem listed.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

ENVIRONMENTS = ("dev", "staging", "prod")
CONTEXT_KEY = "qbxml-relay"
SERVICE_NAME = "qbxml-relay"
# API Gateway ends a REST integration after 29 s, whatever the function's own timeout.
API_GATEWAY_TIMEOUT_SECONDS = 29
# The retention periods CloudWatch Logs accepts.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731,
    1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_CERT_ARN = re.compile(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$")


class SettingsError(ValueError):
    """The settings of an environment are invalid; the message lists every problem."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that differs between environments. Field names are the override keys."""

    env: str
    account: str | None = None
    region: str | None = None
    # Custom domain for the API (regional endpoint). The certificate must be an ACM certificate
    # in the stack's region; with a hosted zone, an alias record is created too.
    domain_name: str | None = None
    certificate_arn: str | None = None
    hosted_zone_id: str | None = None
    hosted_zone_name: str | None = None
    log_retention_days: int = 30
    relay_memory_mb: int = 512
    forwarder_memory_mb: int = 512
    check_memory_mb: int = 256
    relay_timeout_seconds: int = 28
    forwarder_timeout_seconds: int = 60
    # ZOHO takes 100 records per upsert: batches of 100 (gathered for up to 5 s) let one
    # invocation fill whole upserts instead of ten-record ones.
    forwarder_batch_size: int = 100
    # The forwarder's SQS event source never runs more copies than this (ZOHO allows 5-25
    # concurrent calls per org, depending on the edition).
    forwarder_max_concurrency: int = 5
    # Unset by default: reserving concurrency fails on new accounts (limit 10, 10 unreserved).
    # Production reserves RELAY_RESERVED_CONCURRENCY_PROD: a flood of SOAP calls cannot take the
    # account's whole pool (the forwarder and the scheduled jobs keep theirs), and the relay is
    # never starved by them either.
    relay_reserved_concurrency: int | None = None
    # AWS WAF in front of the API stage: a web ACL whose rate-based rule blocks a source address
    # above this many requests in any 5 minutes. Unset: no web ACL (it costs more than the
    # relay in dev). One Web Connector makes a few hundred calls per session at most.
    waf_rate_limit: int | None = None
    # Above the forwarder's park-after-deliveries (5), so a record waiting for its parent is
    # parked with its reason before SQS dead-letters it without one.
    max_receive_count: int = 8
    alarm_email: str | None = None
    retain_data: bool = False
    stale_sync_hours: float = 24.0
    stale_check_minutes: int = 15
    # Write-back: how often ZOHO's changes are captured (each Web Connector session also
    # captures before its plan).
    writeback_capture_minutes: int = 5
    # How long the forwarder's queue trigger gathers records before invoking it: 0-1 s for
    # live tenants (a change reaches ZOHO at once), more to fill larger batches.
    forwarder_batching_window_seconds: int = 5
    throttle_rate_limit: float = 20.0
    throttle_burst_limit: int = 40
    # API Gateway needs an account-wide role to write logs; off if the account already has one.
    api_cloudwatch_role: bool = True
    api_5xx_threshold: int = 5
    forwarder_error_rate_percent: float = 5.0
    # Rejected Web Connector logins in 5 minutes that page the operator: a scheduled QBWC with a
    # stale password fails once a run, a guessing attack far more often (blocked or not).
    auth_failures_threshold: int = 20
    # The audit (ZOHO against the mapping store) reads every ZOHO record of every tenant with
    # COQL, which costs API credits: once a day by default, and read-only unless ``audit_repair``.
    audit_schedule_hours: int = 24
    audit_repair: bool = False
    audit_timeout_seconds: int = 900
    # Pending invoices past their due date become Overdue: at least daily, so none stays Pending
    # a whole day late.
    overdue_schedule_hours: int = 6
    # QuickBooks Online: the Intuit app's client id and registered redirect URI (the client
    # secret and webhook verifier token go in the ``<prefix>qbo-app`` secret, never here); the
    # catch-up's period. Without a redirect URI, https://<domain_name>/qbo/callback.
    qbo_client_id: str | None = None
    qbo_redirect_uri: str | None = None
    qbo_environment: str = "sandbox"
    qbo_cdc_minutes: int = 15
    # Lambda SnapStart (ON_PUBLISHED_VERSIONS) for the Python functions: each gets a published
    # version and a ``live`` alias, and the API Gateway routes invoke the alias, so a cold SOAP
    # call resumes a snapshot with the router and the SOAP stack loaded (runtime hooks:
    # lambdas/handlers/runtime.py ``snapshot_hooks``). Off in dev (every deploy publishes
    # versions and SnapStart bills cache and restores); on in prod. See docs/deployment.md.
    snap_start: bool = False

    @property
    def stack_name(self) -> str:
        return f"QbxmlRelay-{self.env}"

    @property
    def secrets_prefix(self) -> str:
        """Secrets Manager name prefix; per-tenant ZOHO credentials are ``<prefix>zoho/<t>``."""
        return f"{SERVICE_NAME}/{self.env}/"

    @property
    def metrics_namespace(self) -> str:
        return f"QbxmlRelay/{self.env}"

    @property
    def queue_visibility_seconds(self) -> int:
        """Six times the forwarder's timeout, as AWS advises for SQS event sources."""
        return 6 * self.forwarder_timeout_seconds


# Prod's stage allows 50 requests a second; at about a second per SOAP call that is 50 relay
# instances, so the reservation caps the relay where the stage throttle already would.
RELAY_RESERVED_CONCURRENCY_PROD = 50
# Requests per 5 minutes per source IP in prod (WAF's rate-based rules count over 5 minutes).
WAF_RATE_LIMIT_PROD = 1000
# AWS WAF's bounds for a rate-based rule's limit.
WAF_RATE_LIMIT_RANGE = (10, 2_000_000_000)

# Environment defaults over the dataclass's: production keeps its data and logs longer.
DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {"log_retention_days": 14, "stale_sync_hours": 72.0},
    "staging": {"log_retention_days": 30},
    "prod": {
        "log_retention_days": 365,
        "retain_data": True,
        "throttle_rate_limit": 50.0,
        "throttle_burst_limit": 100,
        "relay_reserved_concurrency": RELAY_RESERVED_CONCURRENCY_PROD,
        "waf_rate_limit": WAF_RATE_LIMIT_PROD,
        "snap_start": True,
    },
}


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"expected true or false, not {value!r}")


def _int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a whole number, not {value!r}")
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, not {value!r}")
    return float(value)


def _optional(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value in (None, "") else convert(value)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": str,
    "str | None": _optional(str),
    "int": _int,
    "int | None": _optional(_int),
    "float": _float,
    "bool": _bool,
}
FIELDS = {f.name: f for f in dataclasses.fields(Settings) if f.name != "env"}


def _check(s: Settings) -> list[str]:
    problems = []

    def need(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    need(s.account is None or bool(_ACCOUNT.match(s.account)), "account: 12 digits")
    need(s.region is None or bool(_REGION.match(s.region)), "region: like eu-west-1")
    need(
        s.log_retention_days in LOG_RETENTION_DAYS,
        f"log_retention_days: one of {LOG_RETENTION_DAYS}",
    )
    for name in ("relay_memory_mb", "forwarder_memory_mb", "check_memory_mb"):
        need(128 <= getattr(s, name) <= 10240, f"{name}: 128 to 10240")
    need(
        1 <= s.relay_timeout_seconds <= API_GATEWAY_TIMEOUT_SECONDS,
        f"relay_timeout_seconds: 1 to {API_GATEWAY_TIMEOUT_SECONDS} (API Gateway's limit)",
    )
    # SQS caps the visibility timeout at 12 hours, and it must be 6x the forwarder's timeout.
    need(1 <= s.forwarder_timeout_seconds <= 900, "forwarder_timeout_seconds: 1 to 900")
    need(1 <= s.forwarder_batch_size <= 10_000, "forwarder_batch_size: 1 to 10000")
    need(2 <= s.forwarder_max_concurrency <= 1000, "forwarder_max_concurrency: 2 to 1000")
    need(
        s.relay_reserved_concurrency is None or s.relay_reserved_concurrency >= 1,
        "relay_reserved_concurrency: at least 1, or unset",
    )
    low, high = WAF_RATE_LIMIT_RANGE
    need(
        s.waf_rate_limit is None or low <= s.waf_rate_limit <= high,
        f"waf_rate_limit: {low} to {high} requests per 5 minutes, or unset",
    )
    need(6 <= s.max_receive_count <= 1000, "max_receive_count: 6 to 1000 (above 5 deliveries)")
    need(
        s.alarm_email is None or bool(_EMAIL.match(s.alarm_email)),
        "alarm_email: an e-mail address",
    )
    need(0 < s.stale_sync_hours <= 24 * 30, "stale_sync_hours: more than 0, at most 720")
    need(1 <= s.stale_check_minutes <= 1440, "stale_check_minutes: 1 to 1440")
    need(1 <= s.writeback_capture_minutes <= 60, "writeback_capture_minutes: 1 to 60")
    need(
        0 <= s.forwarder_batching_window_seconds <= 300,
        "forwarder_batching_window_seconds: 0 to 300",
    )
    need(0 < s.throttle_rate_limit <= 10000, "throttle_rate_limit: more than 0, at most 10000")
    need(1 <= s.throttle_burst_limit <= 5000, "throttle_burst_limit: 1 to 5000")
    need(s.api_5xx_threshold >= 1, "api_5xx_threshold: at least 1")
    need(0 < s.forwarder_error_rate_percent <= 100, "forwarder_error_rate_percent: 0 to 100")
    need(s.auth_failures_threshold >= 1, "auth_failures_threshold: at least 1")
    # The audit's alarms evaluate one schedule period: CloudWatch allows at most 7 days.
    need(1 <= s.audit_schedule_hours <= 168, "audit_schedule_hours: 1 to 168 (a week)")
    need(1 <= s.audit_timeout_seconds <= 900, "audit_timeout_seconds: 1 to 900 (Lambda's limit)")
    need(1 <= s.overdue_schedule_hours <= 24, "overdue_schedule_hours: 1 to 24 (at least daily)")
    need(s.env != "prod" or s.retain_data, "retain_data: production data is always retained")
    if s.domain_name is not None or s.certificate_arn is not None:
        need(
            s.domain_name is not None and bool(_DOMAIN.match(s.domain_name)),
            "domain_name: a lower-case DNS name (set together with certificate_arn)",
        )
        need(
            s.certificate_arn is not None and bool(_CERT_ARN.match(s.certificate_arn)),
            "certificate_arn: an ACM certificate ARN (set together with domain_name)",
        )
    need(
        (s.hosted_zone_id is None) == (s.hosted_zone_name is None),
        "hosted_zone_id and hosted_zone_name: set both or neither",
    )
    need(
        s.hosted_zone_id is None or s.domain_name is not None,
        "hosted_zone_id: only with domain_name",
    )
    return problems


def resolve(
    env: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The validated settings of ``env``: defaults, then ``overrides``.

    Account and region fall back to CDK_DEFAULT_ACCOUNT / CDK_DEFAULT_REGION (set by the CDK
    CLI from the caller's AWS profile); without them the stack is environment-agnostic, which
    is what an offline synth gives.
    """
    if env not in ENVIRONMENTS:
        raise SettingsError(f"env must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {
        "account": environ.get("CDK_DEFAULT_ACCOUNT") or None,
        "region": environ.get("CDK_DEFAULT_REGION") or None,
        **DEFAULTS[env],
    }
    problems = []
    for key, raw in (overrides or {}).items():
        field = FIELDS.get(key)
        if field is None:
            problems.append(f"{key}: not a setting (known: {', '.join(sorted(FIELDS))})")
            continue
        try:
            values[key] = _CONVERTERS[str(field.type)](raw)
        except (TypeError, ValueError) as exc:
            problems.append(f"{key}: {exc}")
    if not problems:
        settings = Settings(env=env, **values)
        problems = _check(settings)
    if problems:
        raise SettingsError(f"settings for {env}: " + "; ".join(problems))
    return settings


def from_context(env: str, context: Callable[[str], Any]) -> Settings:
    """Settings of ``env`` from CDK context: the ``qbxml-relay`` block, then ``-c key=value``."""
    block = context(CONTEXT_KEY) or {}
    if not isinstance(block, dict):
        raise SettingsError(f"context {CONTEXT_KEY!r} must be an object keyed by environment")
    unknown = sorted(set(block) - set(ENVIRONMENTS))
    if unknown:
        raise SettingsError(f"context {CONTEXT_KEY!r}: unknown environments {unknown}")
    overrides = dict(block.get(env) or {})
    for key in FIELDS:
        value = context(key)
        if value is not None:
            overrides[key] = value
    return resolve(env, overrides)
