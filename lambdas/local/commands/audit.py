"""``qbrelay audit``: compare what ZOHO holds with what the mapping store says was delivered.

Exit code 0 only when there is no drift; ``--repair`` asks the next Web Connector session to
read missing and stale records again and applies deletions again. The COQL credits the audit
spent are printed (ZOHO meters them daily).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from ...events import NoEvents
from ...events.eventbridge import EventBridgePublisher
from ...store.sqlite.outbox import SqliteOutbox
from ...zoho.audit import KINDS, Auditor, AuditReport
from ...zoho.auth import TokenProvider, load_credentials
from ...zoho.client import ZohoClient
from ...zoho.errors import ZohoError
from ...zoho.mapping import MappingError, build_config
from .. import targets
from ..progress import Progress, audit_view
from ..targets import add_target_args, aws_env, explain_aws_errors, table_name
from .common import add_progress_arg, data_dir

LABELS = {
    "missing": "in QuickBooks but missing in ZOHO",
    "stale": "ZOHO holds older content than QuickBooks",
    "deleted_active": "deleted in QuickBooks but still active in ZOHO",
    "unknown": "ZOHO records with QuickBooks ids the relay does not know",
}


def run_audit(args: argparse.Namespace) -> AuditReport:
    """Audit ``args.tenant`` on the store the flags name."""
    if args.aws:
        from ...store.dynamo import (
            DynamoForwarderState,
            DynamoMappingStore,
            DynamoSyncStateStore,
            DynamoTokenCache,
            SecretsManagerSecretStore,
        )
        from ..targets import required_output, stack_name, stack_outputs

        env, region = aws_env(args), args.region
        ddb = targets.aws_client("dynamodb", region)
        state_table = table_name("StateTable", env, region)
        stack = stack_name(env)
        outputs = stack_outputs(stack, region)
        prefix = required_output(outputs, "SecretsPrefix", stack)
        mappings: Any = DynamoMappingStore(ddb, table_name("MappingsTable", env, region))
        sync_state: Any = DynamoSyncStateStore(ddb, state_table)
        forwarder_state: Any = DynamoForwarderState(ddb, state_table)
        tokens: Any = DynamoTokenCache(ddb, state_table)
        secrets: Any = SecretsManagerSecretStore(
            targets.aws_client("secretsmanager", region), prefix
        )
        bus = os.environ.get("QBRELAY_EVENT_BUS") or outputs.get("EventBusName")
        events: Any = (
            EventBridgePublisher(targets.aws_client("events", region), bus) if bus else NoEvents()
        )
    else:
        from ...store.files import FileSecretStore, FileTokenCache
        from ...store.sqlite import (
            SqliteDatabase,
            SqliteForwarderState,
            SqliteMappingStore,
            SqliteSyncStateStore,
        )

        directory = data_dir(args.data_dir)
        db = SqliteDatabase.in_dir(directory)
        mappings, sync_state = SqliteMappingStore(db), SqliteSyncStateStore(db)
        forwarder_state, tokens = SqliteForwarderState(db), FileTokenCache.in_dir(directory)
        secrets = FileSecretStore.in_dir(directory)
        events = SqliteOutbox(db)  # delivered by `qbrelay serve`'s webhook worker
    try:
        config = build_config(
            forwarder_state.get_mapping(args.tenant), origin=f"mapping of tenant {args.tenant}"
        )
        credentials = load_credentials(secrets, args.tenant)
    except (MappingError, ZohoError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    client = ZohoClient(TokenProvider(args.tenant, credentials, tokens))
    auditor = Auditor(mappings, sync_state, time.time, events=events)
    progress = Progress.for_command(args.no_progress, json_output=args.json)
    try:
        with progress.task(f"Audit of {args.tenant}", unit="modules") as task:
            return auditor.audit(
                args.tenant,
                config,
                client,
                repair=args.repair,
                progress=audit_view(task),
            )
    except ZohoError as exc:
        raise SystemExit(f"error: the audit could not read ZOHO: {exc}") from exc


@explain_aws_errors
def cmd_audit(args: argparse.Namespace) -> int:
    report = run_audit(args)
    if args.json:
        print(json.dumps(report.to_json(), sort_keys=True))
    else:
        print(
            f"Audit of tenant {args.tenant!r}: {report.zoho_records:,} ZOHO record(s) against "
            f"{report.mappings:,} mapping(s); {report.coql_calls} COQL call(s), "
            f"{report.credits} API credit(s)."
        )
        for kind in KINDS:
            print(f"  {LABELS[kind]}: {report.counts[kind]:,}")
            for ex in report.examples.get(kind, [])[:5]:
                print(f"    {ex['entity']} {ex['source_id']}")
        if report.in_flight:
            print(f"  on their way (not judged yet): {report.in_flight:,}")
        if report.repaired:
            done = ", ".join(f"{k} {v}" for k, v in sorted(report.repaired.items()))
            print(f"Repair: {done} (re-reads happen in the next Web Connector session).")
        elif report.drift:
            print("Run again with --repair to re-queue what is missing or stale.")
        else:
            print("No drift: ZOHO holds what QuickBooks has.")
    return 0 if report.drift == 0 else 1


def register(sub: Any) -> None:
    """Add ``audit``."""
    p = sub.add_parser("audit", help="compare ZOHO with what was delivered (exit 1 on drift)")
    p.add_argument("--tenant", required=True)
    p.add_argument("--repair", action="store_true", help="re-queue what is missing or stale")
    p.add_argument("--json", action="store_true")
    add_progress_arg(p)
    add_target_args(p)
    p.set_defaults(func=cmd_audit)
