"""``qbrelay tenant …``: add, list, change and remove tenants (one per QuickBooks company).

``remove`` lives in :mod:`.tenant_remove` (it purges the tenant's state too).

Every command acts on the local data directory (``--data-dir``) or on a deployment
(``--aws --env ENV``). Passwords are shown once or read from standard input; only their hashes
are stored. ZOHO credentials are not tenant settings: they go to the secret store.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from qwc import new_guid

from ...model.tenant import check_time_zone
from ...qbwc.passwords import generate_password, hash_password, password_weakness
from ...store.ports import DEFAULT_WATERMARK_MARGIN_SECONDS, AlreadyExists, Tenant, TenantStore
from ...sync.plan import DEFAULT_ENTITIES, SYNC_ORDER, unknown_entities
from ...writeback.conflicts import check_policy
from ...writeback.model import POLICIES
from ..targets import add_target_args, explain_aws_errors, open_tenants
from ..tenant_stores import open_tenant_data
from .common import read_secret_stdin
from .tenant_live import add_live_args, apply_live_args, check_live_args, live_changes, live_summary
from .tenant_remove import add_remove_args, cmd_tenant_remove

# Tenant names key rows and URLs: short, and never starting with the store's "@" helper prefix.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
USER_PATTERN = re.compile(r"[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]{0,98}[^\s\x00-\x1f\x7f])?")
MAX_INTERVAL_MINUTES = 7 * 24 * 60
# Two days covers any spread of workstation zones (UTC-12 to UTC+14 is 26 hours) with room left.
MAX_MARGIN_HOURS = 48
MAX_PATH = 1024
# An absolute Windows path (drive or UNC) of a QuickBooks company file.
COMPANY_FILE = re.compile(r"(?:[A-Za-z]:\\|\\\\[^\\]+\\[^\\]+\\)[^\x00-\x1f<>\"|?*]+\.qbw", re.I)


def _fail(message: str) -> SystemExit:
    return SystemExit(f"error: {message}")


def parse_entities(value: str) -> tuple[str, ...]:
    """Comma-separated entity names (any case) in canonical spelling; an error names the valid."""
    canonical = {e.lower(): e for e in SYNC_ORDER}
    names = [n.strip() for n in value.split(",") if n.strip()]
    entities = tuple(dict.fromkeys(canonical.get(n.lower(), n) for n in names))
    bad = unknown_entities(entities)
    if bad:
        raise _fail(f"unknown entities {', '.join(bad)}; choose from {', '.join(SYNC_ORDER)}")
    return entities


def check_company_file(value: str) -> str:
    """An absolute ``.QBW`` path on the QuickBooks machine, or "" (the file QuickBooks has open)."""
    if value and (len(value) > MAX_PATH or not COMPANY_FILE.fullmatch(value)):
        raise _fail(
            f"--company-file {value!r} is not a full path to a QuickBooks company file; give one "
            r"such as C:\Company\Acme.QBW or \\server\share\Acme.QBW, or '' for the open file"
        )
    return value


def interval_seconds(minutes: int) -> int:
    """The minimum interval between syncs, checked."""
    if not 0 <= minutes <= MAX_INTERVAL_MINUTES:
        raise _fail(f"--min-interval-minutes must be between 0 and {MAX_INTERVAL_MINUTES}")
    return minutes * 60


ZONE_HELP = "the company's IANA time zone, e.g. America/Chicago (when invoices fall overdue)"


def _zone(name: str) -> str:
    try:
        return check_time_zone(name)
    except ValueError as exc:
        raise _fail(str(exc)) from exc


# A ZOHO picklist value; a QuickBooks item's full name (ItemRef FullName, 159 characters).
MAX_STAGE = 120
MAX_ITEM = 159
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_policy_arg(value: str) -> str:
    """``--conflict-policy``, checked (lambdas/writeback/conflicts.py)."""
    try:
        return check_policy(value)
    except ValueError as exc:
        raise _fail(str(exc)) from exc


def check_won_stage(value: str) -> str:
    """``--won-stage``: the ZOHO Deal stage that makes an invoice, as ZOHO spells it."""
    if not value.strip() or len(value) > MAX_STAGE or _CONTROL.search(value):
        raise _fail(f"--won-stage {value!r}: 1-{MAX_STAGE} characters, as the Deal stage reads")
    return value


def check_invoice_item(value: str) -> str:
    """``--invoice-item``: the QuickBooks item of a deal's one line ("" = none)."""
    if len(value) > MAX_ITEM or _CONTROL.search(value) or value != value.strip():
        raise _fail(
            f"--invoice-item {value!r}: the QuickBooks item's full name, at most {MAX_ITEM} "
            "characters ('' = none)"
        )
    return value


def writeback_summary(t: Tenant) -> str:
    """The tenant's write-back settings, tab-free (``tenant list`` and ``tenant set``)."""
    if not t.writeback:
        return "writeback=off"
    since = (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t.writeback_since))
        if t.writeback_since
        else "-"
    )
    return (
        f"writeback=on since={since} conflict_policy={t.conflict_policy} "
        f"won_stage={t.won_stage!r} invoice_item={t.invoice_item or '(none)'}"
    )


def margin_seconds(hours: float) -> int:
    """The watermark margin (how far before the watermark queries start), checked."""
    if not 0 <= hours <= MAX_MARGIN_HOURS:  # also refuses nan
        raise _fail(f"--watermark-margin-hours must be between 0 and {MAX_MARGIN_HOURS}")
    return round(hours * 3600)


def _hours(seconds: int) -> str:
    return f"{seconds / 3600:g}h"


def _password(from_stdin: bool) -> tuple[str, bool]:
    if not from_stdin:
        return generate_password(), True
    password = read_secret_stdin("a password")
    weakness = password_weakness(password)
    if weakness is not None:
        raise _fail(weakness)
    return password, False


def _show_once(password: str) -> None:
    print("Its Web Connector password, shown this once (type it into QBWC; it is not stored):")
    print(password)


def _existing(store: TenantStore, name: str) -> Tenant:
    tenant = store.get(name)
    if tenant is None:
        raise _fail(f"no tenant named {name!r} (see qbrelay tenant list)")
    return tenant


@explain_aws_errors
def cmd_tenant_add(args: argparse.Namespace) -> int:
    if not NAME_PATTERN.fullmatch(args.name):
        raise _fail(
            f"tenant name {args.name!r}: use 1-64 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit"
        )
    user = args.qbwc_user or args.name
    if not USER_PATTERN.fullmatch(user):
        raise _fail(f"Web Connector user {user!r}: 1-100 characters, no control characters")
    entities = parse_entities(args.entities) if args.entities else DEFAULT_ENTITIES
    company_file = check_company_file(args.company_file or "")
    min_interval = interval_seconds(args.min_interval_minutes)
    margin = (
        margin_seconds(args.watermark_margin_hours)
        if args.watermark_margin_hours is not None
        else DEFAULT_WATERMARK_MARGIN_SECONDS
    )
    zone = _zone(args.time_zone or "")
    password, generated = _password(args.password_stdin)
    store = open_tenants(args)
    tenant = Tenant(
        name=args.name,
        qbwc_user=user,
        password_hash=hash_password(password),
        company_file=company_file,
        enabled_entities=entities,
        min_interval_seconds=min_interval,
        watermark_margin_seconds=margin,
        time_zone=zone,
        created_at=time.time(),
        file_id=new_guid(),
    )
    try:
        store.create(tenant)
    except AlreadyExists as exc:
        raise _fail(str(exc)) from exc
    print(f"Added tenant {tenant.name!r} (Web Connector user {tenant.qbwc_user!r}).")
    if generated:
        _show_once(password)
    print(f"Next: qbrelay qwc --tenant {tenant.name} --url https://<your host>/qbwc --out file.qwc")
    return 0


@explain_aws_errors
def cmd_tenant_list(args: argparse.Namespace) -> int:
    for t in open_tenants(args).list():
        last = (
            time.strftime("%Y-%m-%d %H:%M", time.gmtime(t.last_sync_at))
            if t.last_sync_at
            else "never"
        )
        print(
            f"{t.name}\tuser={t.qbwc_user}\tentities={','.join(t.enabled_entities)}\t"
            f"last_sync={last}\tqbwc={t.qbwc_version or '-'}\t"
            f"min_interval={t.min_interval_seconds // 60}m\t"
            f"watermark_margin={_hours(t.watermark_margin_seconds)}\t"
            f"time_zone={t.time_zone or 'UTC'}\t"
            f"company_file={t.company_file or '(open file)'}\tfile_id={t.file_id or '-'}\t"
            f"{writeback_summary(t)}\t{live_summary(t)}"
        )
    return 0


@explain_aws_errors
def cmd_tenant_rotate_password(args: argparse.Namespace) -> int:
    password, generated = _password(args.password_stdin)
    data = open_tenant_data(args)
    tenant = _existing(data.tenants, args.name)
    tenant.password_hash = hash_password(password)
    data.tenants.update(tenant)
    # A ticket won with the old password (perhaps by whoever made the change necessary) must
    # not outlive it.
    ended = data.sessions.end_sessions(tenant.name, time.time())
    print(f"New password set for tenant {tenant.name!r}; the old one no longer works.")
    if ended:
        print(f"Ended {ended} live Web Connector session(s) of {tenant.name!r}.")
    if generated:
        _show_once(password)
    return 0


@explain_aws_errors
def cmd_tenant_set(args: argparse.Namespace) -> int:
    if (
        args.entities is None
        and args.min_interval_minutes is None
        and args.company_file is None
        and args.watermark_margin_hours is None
        and args.time_zone is None
        and args.writeback is None
        and args.conflict_policy is None
        and args.won_stage is None
        and args.invoice_item is None
        and not live_changes(args)
    ):
        raise _fail(
            "nothing to change: give --entities, --min-interval-minutes, --company-file, "
            "--watermark-margin-hours, --time-zone, --writeback, --conflict-policy, "
            "--won-stage, --invoice-item, --live, --live-interval or --business-hours"
        )
    # Check every value before touching the store, so bad input changes nothing.
    entities = parse_entities(args.entities) if args.entities is not None else None
    interval = (
        interval_seconds(args.min_interval_minutes)
        if args.min_interval_minutes is not None
        else None
    )
    company_file = check_company_file(args.company_file) if args.company_file is not None else None
    margin = (
        margin_seconds(args.watermark_margin_hours)
        if args.watermark_margin_hours is not None
        else None
    )
    zone = _zone(args.time_zone) if args.time_zone is not None else None
    policy = check_policy_arg(args.conflict_policy) if args.conflict_policy is not None else None
    stage = check_won_stage(args.won_stage) if args.won_stage is not None else None
    item = check_invoice_item(args.invoice_item) if args.invoice_item is not None else None
    check_live_args(args)
    store = open_tenants(args)
    tenant = _existing(store, args.name)
    if zone is not None:
        tenant.time_zone = zone
    if entities is not None:
        tenant.enabled_entities = entities
    if interval is not None:
        tenant.min_interval_seconds = interval
    if company_file is not None:
        tenant.company_file = company_file
    if margin is not None:
        tenant.watermark_margin_seconds = margin
    if args.writeback is not None:
        tenant.writeback = args.writeback == "on"
        # Changes made in ZOHO from now on are captured (not the whole CRM's history); a
        # tenant turned off and on again keeps its start (its cursors carry on from there).
        if tenant.writeback and tenant.writeback_since is None:
            tenant.writeback_since = time.time()
    if policy is not None:
        tenant.conflict_policy = policy
    if stage is not None:
        tenant.won_stage = stage
    if item is not None:
        tenant.invoice_item = item
    apply_live_args(args, tenant)
    store.update(tenant)
    print(
        f"Tenant {tenant.name!r}: entities={','.join(tenant.enabled_entities) or '(none)'} "
        f"min_interval={tenant.min_interval_seconds // 60}m "
        f"company_file={tenant.company_file or '(open file)'} "
        f"watermark_margin={_hours(tenant.watermark_margin_seconds)} "
        f"time_zone={tenant.time_zone or 'UTC'} {writeback_summary(tenant)} "
        f"{live_summary(tenant)}"
    )
    if args.live is not None or args.live_interval is not None:
        print("Re-issue the tenant's .qwc (qbrelay qwc) and add it to the Web Connector again.")
    if not tenant.enabled_entities:
        print("No entity is enabled: the Web Connector is told there is nothing to do.")
    return 0


def register(sub: Any) -> None:
    """Add ``tenant add|list|remove|rotate-password|set``."""
    tenant = sub.add_parser("tenant", help="manage tenants (one per QuickBooks company)")
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True)
    entities_help = f"comma-separated, from {','.join(SYNC_ORDER)}"
    stdin_help = "read the password from standard input (default: generate one, shown once)"
    margin_help = (
        f"start incremental queries this many hours (0-{MAX_MARGIN_HOURS}) before the last "
        "change seen; more than the default 2 for a file edited in several time zones"
    )

    add = tenant_sub.add_parser("add", help="add a tenant")
    add.add_argument("name")
    add.add_argument(
        "--qbwc-user", help="the UserName in the tenant's .qwc file (default: the tenant name)"
    )
    add.add_argument("--password-stdin", action="store_true", help=stdin_help)
    add.add_argument("--company-file", help="full path of the company file QBWC should open")
    add.add_argument("--entities", help=entities_help + f" (default: {','.join(DEFAULT_ENTITIES)})")
    add.add_argument(
        "--min-interval-minutes", type=int, default=0, help="answer 'none' to earlier runs"
    )
    add.add_argument("--watermark-margin-hours", type=float, help=margin_help)
    add.add_argument("--time-zone", help=ZONE_HELP)
    add_target_args(add)
    add.set_defaults(func=cmd_tenant_add)

    lst = tenant_sub.add_parser("list", help="list tenants")
    add_target_args(lst)
    lst.set_defaults(func=cmd_tenant_list)

    remove = tenant_sub.add_parser("remove", help="remove a tenant (and with --purge its state)")
    add_remove_args(remove)
    add_target_args(remove)
    remove.set_defaults(func=cmd_tenant_remove)

    rotate = tenant_sub.add_parser("rotate-password", help="give a tenant a new password")
    rotate.add_argument("name")
    rotate.add_argument("--password-stdin", action="store_true", help=stdin_help)
    add_target_args(rotate)
    rotate.set_defaults(func=cmd_tenant_rotate_password)

    set_ = tenant_sub.add_parser("set", help="change a tenant's sync settings")
    set_.add_argument("name")
    set_.add_argument("--entities", help=entities_help + " ('' enables none)")
    set_.add_argument("--min-interval-minutes", type=int)
    set_.add_argument(
        "--company-file", help="full path of the .QBW file QBWC opens ('' = the open file)"
    )
    set_.add_argument("--watermark-margin-hours", type=float, help=margin_help)
    set_.add_argument("--time-zone", help=ZONE_HELP)
    set_.add_argument(
        "--writeback",
        choices=("on", "off"),
        help="write ZOHO accounts and won deals to QuickBooks (changes made from now on)",
    )
    set_.add_argument(
        "--conflict-policy",
        help=f"which side keeps a field changed on both ({', '.join(POLICIES)}; default qb_wins)",
    )
    set_.add_argument("--won-stage", help="the ZOHO Deal stage that makes an invoice")
    set_.add_argument(
        "--invoice-item",
        help="QuickBooks item of the one line of a deal without products ('' = none)",
    )
    add_live_args(set_)
    add_target_args(set_)
    set_.set_defaults(func=cmd_tenant_set)
