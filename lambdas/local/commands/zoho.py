"""``qbrelay zoho …``: a tenant's ZOHO CRM credentials, setup check, mapping, status, forwarding.

Secrets are read from standard input only (never from flags, which end up in shell history and
process lists), and are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...store.dynamo import (
    DynamoForwarderState,
    DynamoMappingStore,
    DynamoSyncStateStore,
    DynamoTokenCache,
    SecretsManagerSecretStore,
)
from ...store.files import FileSecretStore, FileTokenCache
from ...store.ports import (
    DeliveryStatus,
    ForwarderState,
    MappingStore,
    SecretStore,
    SyncStateStore,
    TokenCache,
)
from ...store.sqlite import (
    SqliteDatabase,
    SqliteDeadLetterQueue,
    SqliteForwarderState,
    SqliteMappingStore,
    SqliteRecordQueue,
    SqliteSyncStateStore,
)
from ...zoho.auth import ZohoCredentials, load_credentials, secret_name
from ...zoho.datacentres import ACCOUNTS_SERVERS, check_url
from ...zoho.errors import ZohoError
from ...zoho.mapping import MappingError, build_config, load_mapping_file
from .. import targets
from ..targets import (
    TargetError,
    add_target_args,
    aws_env,
    explain_aws_errors,
    open_tenants,
    required_output,
    stack_name,
    stack_outputs,
    table_name,
)
from .common import data_dir, read_secret_stdin

if TYPE_CHECKING:
    from ...zoho.client import ZohoClient
    from ...zoho.mapping import MappingConfig
    from ...zoho.setup_check import CheckLine


@dataclass(slots=True)
class ZohoTarget:
    """Where a tenant's ZOHO settings live: the local data dir, or a deployment's AWS stores."""

    secrets: SecretStore
    state: ForwarderState
    tokens: TokenCache
    mappings: MappingStore
    parked: SqliteDeadLetterQueue | None  # AWS parks on the SQS dead-letter queue
    sync_state: SyncStateStore


def _target(args: argparse.Namespace) -> ZohoTarget:
    if getattr(args, "aws", False):
        return _aws_target(args)
    folder = data_dir(args.data_dir)
    db = SqliteDatabase.in_dir(folder)
    prefix = getattr(args, "secrets_prefix", None)
    secrets: SecretStore = (
        SecretsManagerSecretStore(targets.aws_client("secretsmanager", None), prefix)
        if prefix
        else FileSecretStore.in_dir(folder)
    )
    return ZohoTarget(
        secrets,
        SqliteForwarderState(db),
        # Tokens stay in the data directory even when the credentials are in Secrets Manager.
        FileTokenCache.in_dir(folder),
        SqliteMappingStore(db),
        SqliteDeadLetterQueue(db),
        SqliteSyncStateStore(db),
    )


def _aws_target(args: argparse.Namespace) -> ZohoTarget:
    if args.data_dir or getattr(args, "secrets_prefix", None):
        raise TargetError("give --aws, --data-dir or --secrets-prefix, one of them")
    env, region = aws_env(args), args.region
    prefix = os.environ.get("QBRELAY_SECRETS_PREFIX")
    if not prefix:
        stack = stack_name(env)
        prefix = required_output(stack_outputs(stack, region), "SecretsPrefix", stack)
    ddb = targets.aws_client("dynamodb", region)
    state_table = table_name("StateTable", env, region)
    return ZohoTarget(
        SecretsManagerSecretStore(targets.aws_client("secretsmanager", region), prefix),
        DynamoForwarderState(ddb, state_table),
        # The functions' own token cache: a check reuses their token instead of minting one.
        DynamoTokenCache(ddb, state_table),
        DynamoMappingStore(ddb, table_name("MappingsTable", env, region)),
        None,
        DynamoSyncStateStore(ddb, state_table),
    )


@explain_aws_errors
def cmd_set_credentials(args: argparse.Namespace) -> int:
    if args.accounts_url:
        try:
            check_url(args.accounts_url, "--accounts-url")
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from exc
    secret = read_secret_stdin("the client secret (first line)")
    refresh = read_secret_stdin("the refresh token (second line)")
    credentials = ZohoCredentials(
        client_id=args.client_id,
        client_secret=secret,
        refresh_token=refresh,
        data_centre=args.data_centre,
        accounts_url=args.accounts_url,
    )
    _target(args).secrets.put(secret_name(args.tenant), credentials.to_secret())
    print(
        f"Stored ZOHO credentials of tenant {args.tenant!r} (data centre {args.data_centre}, "
        f"client {args.client_id}). Next: qbrelay zoho check --tenant {args.tenant}"
    )
    return 0


def _client_and_config(
    args: argparse.Namespace,
) -> tuple[ZohoClient, MappingConfig, ZohoCredentials]:
    """The tenant's ZOHO client, its mapping (or ``--mapping``) and its credentials."""
    from ...zoho.auth import TokenProvider
    from ...zoho.client import ZohoClient

    target = _target(args)
    try:
        override = (
            load_mapping_file(args.mapping)
            if args.mapping
            else target.state.get_mapping(args.tenant)
        )
        config = build_config(override, origin=args.mapping or f"mapping of {args.tenant}")
        credentials = load_credentials(target.secrets, args.tenant)
    except (MappingError, ZohoError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    client = ZohoClient(TokenProvider(args.tenant, credentials, target.tokens))
    return client, config, credentials


def _print_check(lines: list[CheckLine]) -> int:
    """Print the setup check's findings and verdict; 1 when something must still be fixed."""
    for line in lines:
        print(f"  {line}")
    missing = sum(1 for x in lines if x.level == "missing")
    warnings = sum(1 for x in lines if x.level == "warning")
    if missing:
        print(f"{missing} thing(s) to create or fix in ZOHO before forwarding can work.")
    elif warnings:
        print(f"Ready, with {warnings} warning(s).")
    else:
        print("Ready: every module and field the mapping needs is there.")
    return 1 if missing else 0


@explain_aws_errors
def cmd_check(args: argparse.Namespace) -> int:
    from ...zoho.setup_check import check_setup

    client, config, credentials = _client_and_config(args)
    print(f"ZOHO setup check of tenant {args.tenant!r} (data centre {credentials.data_centre}):")
    return _print_check(check_setup(client, config, _writeback(args)))


@explain_aws_errors
def cmd_setup(args: argparse.Namespace) -> int:
    from ...zoho.setup_check import check_setup
    from .zoho_setup import run_setup

    client, config, credentials = _client_and_config(args)
    writeback = _writeback(args)
    print(f"ZOHO setup of tenant {args.tenant!r} (data centre {credentials.data_centre}):")
    if not run_setup(client, config, args.tenant, dry_run=args.dry_run, writeback=writeback):
        return 1
    print("Verification (the same as `qbrelay zoho check`):")
    return _print_check(check_setup(client, config, writeback))


def _writeback(args: argparse.Namespace) -> bool:
    """Whether to include write-back's fields: ``--writeback``, else the tenant's setting."""
    if args.writeback:
        return True
    tenant = open_tenants(args).get(args.tenant)
    return tenant is not None and tenant.writeback


@explain_aws_errors
def cmd_set_mapping(args: argparse.Namespace) -> int:
    target = _target(args)
    state = target.state
    if args.clear:
        state.put_mapping(args.tenant, None)
        print(f"Tenant {args.tenant!r} uses the default mapping again.")
        return 0
    if not args.file:
        raise SystemExit("error: give --file FILE or --clear")
    try:
        doc = load_mapping_file(args.file)
    except MappingError as exc:
        raise SystemExit(f"error: {exc}") from exc
    before = build_config(state.get_mapping(args.tenant))
    after = build_config(doc, origin=args.file)
    state.put_mapping(args.tenant, doc)
    print(f"Stored the mapping of tenant {args.tenant!r} from {args.file}.")
    _backfill(target, args.tenant, set(after.entities) - set(before.entities))
    return 0


def _backfill(target: ZohoTarget, tenant: str, added: set[str]) -> None:
    """Ask the next session to re-read the records the old mapping left out."""
    if not added:
        return
    ignored: dict[tuple[str, str], list[str]] = {}
    for m in target.mappings.scan(tenant):
        if m.entity in added and m.status == DeliveryStatus.IGNORED:
            ignored.setdefault((m.source, m.entity), []).append(m.source_id)
    for (source, entity), ids in sorted(ignored.items()):
        target.sync_state.request_refetch(tenant, source, entity, ids)
        print(f"  {len(ids):,} {entity} record(s) the old mapping left out are re-read next.")


@explain_aws_errors
def cmd_status(args: argparse.Namespace) -> int:
    target = _target(args)
    pause = target.state.paused(args.tenant, time.time())
    failed = target.mappings.list(args.tenant, status=DeliveryStatus.PARKED, limit=args.limit)
    parked = target.parked.list(args.tenant, limit=args.limit) if target.parked else None
    if args.json:
        print(
            json.dumps(
                {
                    "paused_until": pause.until if pause else None,
                    "pause_reason": pause.reason if pause else None,
                    "failed": [
                        {"entity": m.entity, "source_id": m.source_id, "error": m.last_error}
                        for m in failed
                    ],
                    "parked": len(parked) if parked is not None else None,
                },
                sort_keys=True,
            )
        )
        return 0
    if pause:
        until = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(pause.until))
        print(f"Forwarding paused until {until}: {pause.reason}")
    else:
        print("Forwarding is running.")
    print(f"Parked records (up to {args.limit}): {len(failed)}")
    for m in failed:
        print(f"  {m.entity} {m.source_id}: {m.last_error}")
    if parked is None:
        print("Parked messages: on the deployment's dead-letter queue (DeadLetterQueueUrl).")
    else:
        print(f"Parked messages (up to {args.limit}): {len(parked)}")
    return 0


@explain_aws_errors
def cmd_resume(args: argparse.Namespace) -> int:
    _target(args).state.resume(args.tenant)
    print(f"Forwarding of tenant {args.tenant!r} resumes with the next batch.")
    return 0


def cmd_forward(args: argparse.Namespace) -> int:
    from ..forwarder import build_local_forwarder, drain

    directory = data_dir(args.data_dir)
    db = SqliteDatabase.in_dir(directory)
    result = drain(
        SqliteRecordQueue(db),
        build_local_forwarder(db, directory),
        batch_size=args.batch_size,
        max_batches=args.max_batches,
    )
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        o = result.outcomes
        print(
            f"{result.messages:,} message(s): {o['applied']:,} applied, {o['unchanged']:,} "
            f"unchanged, {o['stale']:,} stale, {o['ignored']:,} ignored, {o['parked']:,} parked, "
            f"{o['retry']:,} left for later; {result.calls:,} ZOHO call(s) + "
            f"{result.token_calls} token call(s)"
        )
        for reason in dict.fromkeys(result.reasons):
            print(f"  {reason}")
    return 0 if result.outcomes["retry"] == 0 else 1


def register(sub: Any) -> None:
    """Add ``zoho set-credentials|check|setup|set-mapping|status|resume|forward``."""
    zoho = sub.add_parser("zoho", help="ZOHO CRM: credentials, setup check, mapping, forwarding")
    zsub = zoho.add_subparsers(dest="zoho_command", required=True)

    creds = zsub.add_parser(
        "set-credentials",
        help="store a tenant's ZOHO Self Client credentials (secret and refresh token on "
        "standard input, one per line)",
    )
    creds.add_argument("--tenant", required=True)
    creds.add_argument("--data-centre", required=True, choices=sorted(ACCOUNTS_SERVERS))
    creds.add_argument("--client-id", required=True)
    creds.add_argument(
        "--accounts-url",
        help="a ZOHO-compatible accounts server instead of the data centre's (https, or http "
        "on loopback)",
    )
    add_target_args(creds)
    creds.add_argument(
        "--secrets-prefix",
        help="store in AWS Secrets Manager under this prefix (e.g. qbxml-relay/prod/) "
        "instead of the data directory",
    )
    creds.set_defaults(func=cmd_set_credentials)

    check = zsub.add_parser("check", help="verify credentials, modules and fields in ZOHO")
    check.add_argument("--tenant", required=True)
    check.add_argument("--mapping", help="check this mapping file instead of the stored one")
    add_target_args(check)
    check.add_argument("--secrets-prefix", help="read credentials from AWS Secrets Manager")
    check.add_argument(
        "--writeback",
        action="store_true",
        help="include the write-back fields (Deals, QB_Sync_Status ...) even when the tenant "
        "has write-back off (they are included when it is on)",
    )
    check.set_defaults(func=cmd_check)

    setup = zsub.add_parser(
        "setup",
        help="create the custom fields the mapping needs through ZOHO's API (needs the scope "
        "ZohoCRM.settings.fields.ALL), or say what to create by hand; then check",
    )
    setup.add_argument("--tenant", required=True)
    setup.add_argument("--mapping", help="set up for this mapping file instead of the stored one")
    setup.add_argument(
        "--dry-run", action="store_true", help="create nothing: print what to create by hand"
    )
    add_target_args(setup)
    setup.add_argument("--secrets-prefix", help="read credentials from AWS Secrets Manager")
    setup.add_argument(
        "--writeback",
        action="store_true",
        help="include the write-back fields (Deals, QB_Sync_Status ...) even when the tenant "
        "has write-back off (they are included when it is on)",
    )
    setup.set_defaults(func=cmd_setup)

    mapping = zsub.add_parser("set-mapping", help="validate and store a tenant's mapping file")
    mapping.add_argument("--tenant", required=True)
    mapping.add_argument("--file")
    mapping.add_argument("--clear", action="store_true", help="back to the default mapping")
    add_target_args(mapping)
    mapping.set_defaults(func=cmd_set_mapping)

    status = zsub.add_parser("status", help="pause, failed records and parked messages")
    status.add_argument("--tenant", required=True)
    status.add_argument("--limit", type=int, default=20)
    status.add_argument("--json", action="store_true")
    add_target_args(status)
    status.set_defaults(func=cmd_status)

    resume = zsub.add_parser("resume", help="lift a tenant's forwarding pause now")
    resume.add_argument("--tenant", required=True)
    add_target_args(resume)
    resume.set_defaults(func=cmd_resume)

    forward = zsub.add_parser("forward", help="forward the queued records to ZOHO (drain once)")
    forward.add_argument("--batch-size", type=int, default=500)
    forward.add_argument("--max-batches", type=int, default=1000)
    forward.add_argument("--json", action="store_true")
    forward.add_argument("--data-dir")
    forward.set_defaults(func=cmd_forward)
