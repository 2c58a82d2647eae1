"""What the scheduled ZOHO jobs (audit, overdue) share: their AWS wiring and the tenant loop.

Each job runs for every tenant that has ZOHO credentials, with the tenant's mapping config and
ZOHO client. A tenant without credentials is skipped (logged); a tenant whose run fails (ZOHO,
store or mapping error) is logged and counted, and the others still run. Tenants not yet
started when the invocation is about to time out are counted as failed too, so the job's
metrics are still published.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import boto3
from aws_lambda_powertools import Logger

from .runtime import ConfigurationError

if TYPE_CHECKING:
    from ..store.dynamo import DynamoForwarderState, DynamoTenantStore
    from ..store.ports import SecretStore, Tenant
    from ..zoho.client import ZohoClient
    from ..zoho.mapping import MappingConfig

# The adapters, the ZOHO client (requests) and the mapping are imported by the functions that
# use them, at the first event: the jobs' cold import stays near boto3's (``make bench``).

JOB_ENV = (
    "QBRELAY_TENANTS_TABLE",
    "QBRELAY_STATE_TABLE",
    "QBRELAY_SECRETS_PREFIX",
    "POWERTOOLS_METRICS_NAMESPACE",
)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ZohoJobPorts:
    """The stores and the ZOHO client factory of a scheduled job."""

    dynamodb: Any
    tenants: DynamoTenantStore
    secrets: SecretStore
    forwarder_state: DynamoForwarderState
    clients: Callable[[str], ZohoClient]


def zoho_job_ports() -> ZohoJobPorts:
    """The ports over DynamoDB and Secrets Manager (JOB_ENV must be set)."""
    from ..store.dynamo import (
        DynamoForwarderState,
        DynamoTenantStore,
        DynamoTokenCache,
        SecretsManagerSecretStore,
    )
    from ..zoho.client import client_factory

    dynamodb = boto3.client("dynamodb")
    state_table = os.environ["QBRELAY_STATE_TABLE"]
    secrets = SecretsManagerSecretStore(
        boto3.client("secretsmanager"), os.environ["QBRELAY_SECRETS_PREFIX"]
    )
    return ZohoJobPorts(
        dynamodb=dynamodb,
        tenants=DynamoTenantStore(dynamodb, os.environ["QBRELAY_TENANTS_TABLE"]),
        secrets=secrets,
        forwarder_state=DynamoForwarderState(dynamodb, state_table),
        clients=client_factory(secrets, DynamoTokenCache(dynamodb, state_table)),
    )


def flag(name: str, default: bool = False) -> bool:
    """The boolean environment variable ``name`` (true/false, 1/0, yes/no)."""
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def has_credentials(secrets: SecretStore, tenant: str) -> bool:
    """Whether the tenant has ZOHO credentials; ZohoConfigError when they are incomplete."""
    from ..zoho.auth import load_credentials, secret_name
    from ..zoho.errors import ZohoConfigError

    try:
        load_credentials(secrets, tenant)
    except ZohoConfigError:
        if secrets.get(secret_name(tenant)) is None:
            return False
        raise
    return True


@dataclass(slots=True)
class JobRun(Generic[T]):
    """What a job gave per tenant, whom it skipped, and why tenants failed."""

    results: dict[str, T] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def _seconds_left(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return remaining() / 1000.0 if callable(remaining) else None


def for_each_tenant(
    ports: ZohoJobPorts,
    logger: Logger,
    job: Callable[[Tenant, MappingConfig, ZohoClient], T],
    *,
    context: Any = None,
    margin_seconds: float = 60.0,
    name: str = "job",
) -> JobRun[T]:
    """Run ``job`` for every tenant with ZOHO credentials; one tenant's failure stops no other."""
    from ..store.ports import StoreError
    from ..zoho.errors import ZohoError
    from ..zoho.mapping import MappingError, build_config

    # What one tenant's run may raise without stopping the others.
    tenant_errors = (ZohoError, StoreError, MappingError)
    run: JobRun[T] = JobRun()
    for tenant in ports.tenants.list():
        left = _seconds_left(context)
        if left is not None and left < margin_seconds:
            run.failed[tenant.name] = "not started: the invocation is running out of time"
            logger.error(
                f"{name}: tenant not started, out of time",
                extra={"tenant": tenant.name, "seconds_left": round(left, 1)},
            )
            continue
        try:
            if not has_credentials(ports.secrets, tenant.name):
                run.skipped.append(tenant.name)
                logger.info(f"{name}: skipped, no ZOHO credentials", extra={"tenant": tenant.name})
                continue
            config = build_config(
                ports.forwarder_state.get_mapping(tenant.name),
                origin=f"the stored mapping of {tenant.name}",
            )
            run.results[tenant.name] = job(tenant, config, ports.clients(tenant.name))
        except tenant_errors as exc:
            run.failed[tenant.name] = f"{type(exc).__name__}: {exc}"
            logger.error(
                f"{name}: tenant failed",
                extra={"tenant": tenant.name, "error": str(exc), "error_type": type(exc).__name__},
            )
    return run
