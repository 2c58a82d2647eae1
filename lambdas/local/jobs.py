"""The serve process's scheduled jobs, as the deployment's EventBridge schedules run them.

- invoices still "Pending" past their due date become "Overdue" in ZOHO (every 6 hours, each
  tenant's own date);
- claim-checked payloads older than the queue's retention are deleted (daily);
- tenants with no completed session for ``QBRELAY_STALE_SYNC_HOURS`` (default 24) are announced
  as ``tenant.stale`` events (checked hourly, as the deployment's stale-sync check);
- write-back tenants' ZOHO changes become write operations (every 5 minutes, as the
  deployment's capture schedule; each Web Connector session also captures before its plan).
"""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime
from pathlib import Path

from ..model.tenant import time_zone
from ..ops.stale_sync import check_stale
from ..store.files import FileSecretStore, FileTokenCache
from ..store.payloads import FolderPayloadStore
from ..store.sqlite import SqliteForwarderState
from ..writeback.runner import capture_tenants
from ..zoho.auth import load_credentials
from ..zoho.client import client_factory
from ..zoho.errors import ZohoError
from ..zoho.mapping import MappingError, build_config
from ..zoho.payments import overdue_updates
from .wiring import LocalRelay
from .worker import Job

log = logging.getLogger(__name__)

OVERDUE_EVERY = 6 * 3600.0
PRUNE_EVERY = 24 * 3600.0
STALE_EVERY = 3600.0
CAPTURE_EVERY = 300.0
DEFAULT_STALE_HOURS = 24.0


def stale_hours() -> float:
    """The stale threshold in hours (QBRELAY_STALE_SYNC_HOURS, default 24)."""
    raw = os.environ.get("QBRELAY_STALE_SYNC_HOURS") or ""
    try:
        hours = float(raw) if raw else DEFAULT_STALE_HOURS
    except ValueError:
        hours = 0.0
    if not hours > 0:
        log.warning("QBRELAY_STALE_SYNC_HOURS=%r is not positive hours; using 24", raw)
        return DEFAULT_STALE_HOURS
    return hours


def announce_stale(local: LocalRelay) -> int:
    """Publish ``tenant.stale`` for tenants that have just crossed the threshold; how many are
    stale. The window is a little longer than the job's period (a repeat has the same id)."""
    stale = check_stale(local.tenants, local.outbox, time.time(), stale_hours(), STALE_EVERY * 1.1)
    return len(stale)


def mark_overdue(local: LocalRelay, directory: Path) -> int:
    """Run the overdue step for every tenant with ZOHO credentials; invoices changed."""
    secrets = FileSecretStore.in_dir(directory)
    clients = client_factory(secrets, FileTokenCache.in_dir(directory))
    state = SqliteForwarderState(local.db)
    changed = 0
    for tenant in local.tenants.list():
        try:
            load_credentials(secrets, tenant.name)
        except ZohoError:
            continue  # not forwarding to ZOHO yet
        try:
            config = build_config(state.get_mapping(tenant.name))
            today = datetime.now(time_zone(tenant.time_zone)).date()
            changed += overdue_updates(clients(tenant.name), config, today)
        except (MappingError, ZohoError) as exc:
            log.warning("tenant %s: overdue invoices not updated: %s", tenant.name, exc)
    return changed


def capture_changes(local: LocalRelay) -> int:
    """Capture every write-back tenant's ZOHO changes; how many operations were added."""
    return capture_tenants(local.tenants.list(), local.capture).ops_added


def scheduled_jobs(local: LocalRelay, directory: Path) -> list[Job]:
    """The jobs the forwarder worker runs."""
    payloads = FolderPayloadStore.in_dir(directory)
    return [
        Job("overdue invoices", OVERDUE_EVERY, lambda: mark_overdue(local, directory)),
        Job("payload expiry", PRUNE_EVERY, payloads.prune),
        Job("stale tenants", STALE_EVERY, lambda: announce_stale(local)),
        Job("write-back capture", CAPTURE_EVERY, lambda: capture_changes(local)),
    ]
