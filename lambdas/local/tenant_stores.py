"""Every per-tenant store a command's flags name: the local data dir, or a deployment's.

``tenant remove`` and ``resync`` act on several tables at once; under ``--aws`` the stack's
outputs are read once (and not at all when the environment variables name every table).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..ops.tenant_purge import TenantData
from ..store.ports import SecretStore
from . import targets
from .commands.common import data_dir
from .targets import TABLE_OUTPUTS, TargetError, aws_env, required_output, stack_name

if TYPE_CHECKING:
    from ..store.sqlite import SqliteDatabase

SECRETS_PREFIX_ENV = "QBRELAY_SECRETS_PREFIX"


class _StackOutputs:
    """A deployment's names: environment variables first, else the stack's outputs (read once)."""

    def __init__(self, env: str, region: str | None) -> None:
        self._stack = stack_name(env)
        self._region = region
        self._outputs: dict[str, str] | None = None

    def _output(self, key: str) -> str:
        if self._outputs is None:
            self._outputs = targets.stack_outputs(self._stack, self._region)
        return required_output(self._outputs, key, self._stack)

    def table(self, output: str) -> str:
        return os.environ.get(TABLE_OUTPUTS[output]) or self._output(output)

    def secrets_prefix(self) -> str:
        return os.environ.get(SECRETS_PREFIX_ENV) or self._output("SecretsPrefix")


def open_tenant_data(args: argparse.Namespace) -> TenantData:
    """The stores of the local data directory, or of the deployment ``--aws --env`` names."""
    if args.aws:
        if args.data_dir:
            raise TargetError("give either --aws or --data-dir, not both")
        return _aws_data(aws_env(args), args.region)
    return local_tenant_data(data_dir(args.data_dir))


def local_tenant_data(folder: Path, db: SqliteDatabase | None = None) -> TenantData:
    """The stores of a local data directory (over ``db`` if one is open already)."""
    from ..store.files import FileSecretStore, FileTokenCache
    from ..store.sqlite import (
        SqliteAuditResults,
        SqliteDatabase,
        SqliteForwarderState,
        SqliteMappingStore,
        SqliteRunHistory,
        SqliteSessionStore,
        SqliteSyncStateStore,
        SqliteTenantStore,
        SqliteWriteBackStore,
    )

    db = db or SqliteDatabase.in_dir(folder)
    return TenantData(
        tenants=SqliteTenantStore(db),
        sessions=SqliteSessionStore(db),
        state=SqliteSyncStateStore(db),
        mappings=SqliteMappingStore(db),
        runs=SqliteRunHistory(db),
        forwarder=SqliteForwarderState(db),
        tokens=FileTokenCache.in_dir(folder),
        secrets=lambda: FileSecretStore.in_dir(folder),
        audits=SqliteAuditResults(db),
        writeback=SqliteWriteBackStore(db),
    )


def _aws_data(env: str, region: str | None) -> TenantData:
    from ..store.dynamo import (
        DynamoAuditResults,
        DynamoForwarderState,
        DynamoMappingStore,
        DynamoRunHistory,
        DynamoSessionStore,
        DynamoSyncStateStore,
        DynamoTenantStore,
        DynamoTokenCache,
        DynamoWriteBackStore,
        SecretsManagerSecretStore,
    )

    names = _StackOutputs(env, region)
    ddb = targets.aws_client("dynamodb", region)
    state = names.table("StateTable")

    def secrets() -> SecretStore:
        # Opened on demand: only deleting (or looking for) credentials needs Secrets Manager.
        return SecretsManagerSecretStore(
            targets.aws_client("secretsmanager", region), names.secrets_prefix()
        )

    return TenantData(
        tenants=DynamoTenantStore(ddb, names.table("TenantsTable")),
        sessions=DynamoSessionStore(ddb, names.table("SessionsTable")),
        state=DynamoSyncStateStore(ddb, state),
        mappings=DynamoMappingStore(ddb, names.table("MappingsTable")),
        runs=DynamoRunHistory(ddb, names.table("RunsTable")),
        # The forwarder keeps its pauses, mapping overrides and tokens in the state table.
        forwarder=DynamoForwarderState(ddb, state),
        tokens=DynamoTokenCache(ddb, state),
        secrets=secrets,
        audits=DynamoAuditResults(ddb, state),
        writeback=DynamoWriteBackStore(ddb, names.table("WriteBackTable")),
    )
