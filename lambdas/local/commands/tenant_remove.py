"""``qbrelay tenant remove NAME --yes [--purge [--purge-secrets]] [--force]``.

A removed tenant's state would be inherited by a new tenant of the same name (no full sync,
records mapped to the old ZOHO org), so removal refuses while the tenant has any, unless
``--purge`` removes it too. The tenant row goes first, so no new session can start and write
behind the purge; the purge is idempotent, and ``--purge`` on a name without a tenant removes
what an earlier tenant (or a purge that stopped halfway) left.

ZOHO credentials stay in the secret store unless ``--purge-secrets``: they are the customer's
grant, which the relay cannot recreate, and re-onboarding the same company needs them again.
"""

from __future__ import annotations

import argparse
import time

from ...ops.tenant_purge import Leftovers, TenantData, leftovers, purge
from ...store.ports import StoreError
from ...zoho.auth import secret_name
from ..targets import explain_aws_errors
from ..tenant_stores import open_tenant_data


def _fail(message: str) -> SystemExit:
    return SystemExit(f"error: {message}")


def _clock(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))


def _check_no_session(data: TenantData, name: str, force: bool, now: float) -> None:
    until = data.sessions.lock_until(name, now)
    if until is None:
        return
    if not force:
        raise _fail(
            f"tenant {name!r} has a Web Connector session running (busy until {_clock(until)}); "
            "wait for it to end, or repeat with --force"
        )
    print(
        f"Warning: a session of {name!r} is still running (until {_clock(until)}); it is ended "
        "now, but a request already in flight may still write. Run "
        f"`qbrelay tenant remove {name} --purge --yes` again in a minute."
    )


def _secrets_note(data: TenantData, name: str, delete: bool) -> None:
    """Delete the ZOHO credentials (``--purge-secrets``), or say that they stay."""
    if delete:
        removed = data.secrets().delete(secret_name(name))
        print(
            f"Deleted the ZOHO credentials of {name!r}."
            if removed
            else f"No ZOHO credentials of {name!r} to delete."
        )
        return
    try:
        kept = data.secrets().get(secret_name(name)) is not None
    except (StoreError, SystemExit):
        kept = True  # cannot tell (no access to the secret store): say what may be there
    if kept:
        print(
            f"ZOHO credentials of {name!r} (if any) stay in the secret store: a new tenant named "
            f"{name!r} would write to the same ZOHO org. Delete them with --purge-secrets, or "
            f"replace them with `qbrelay zoho set-credentials --tenant {name}`."
        )


def _purged(name: str, removed: Leftovers) -> str:
    return f"Purged the state of {name!r}: {removed.describe()}."


@explain_aws_errors
def cmd_tenant_remove(args: argparse.Namespace) -> int:
    """Remove a tenant; with ``--purge`` its state too; refuse what would be inherited."""
    name = args.name
    if not args.yes:
        raise _fail(
            f"removing tenant {name!r} cannot be undone (its Web Connector file stops "
            "working); repeat with --yes"
        )
    if args.purge_secrets and not args.purge:
        raise _fail("--purge-secrets deletes credentials as part of a purge: add --purge")
    data = open_tenant_data(args)
    now = time.time()
    tenant = data.tenants.get(name)
    found = leftovers(data, name, now)
    if tenant is None and not args.purge:
        hint = (
            f"; an earlier tenant of that name left {found.describe()}: remove it with --purge"
            if not found.empty
            else ""
        )
        raise _fail(f"no tenant named {name!r}{hint}")
    if tenant is not None and not found.empty and not args.purge:
        raise _fail(
            f"tenant {name!r} still has {found.describe()}; a new tenant of the same name would "
            "inherit them (no full sync, records mapped to the old ZOHO org). Repeat with "
            "--purge to remove them with the tenant; nothing was changed"
        )
    _check_no_session(data, name, args.force, now)
    if tenant is not None:
        # First, so that no new session can start and write behind the purge.
        data.tenants.delete(name)
        print(f"Removed tenant {name!r}.")
    # Also without a tenant row: a session may outlive a removal that stopped halfway.
    ended = data.sessions.end_sessions(name, now)
    if ended:
        print(f"Ended {ended} live Web Connector session(s) of {name!r}.")
    else:
        print(f"No tenant named {name!r}; purging what an earlier one left.")
    if args.purge:
        print(_purged(name, purge(data, name)))
    _secrets_note(data, name, args.purge_secrets)
    return 0


def add_remove_args(parser: argparse.ArgumentParser) -> None:
    """The flags of ``tenant remove`` (besides the target's)."""
    parser.add_argument("name")
    parser.add_argument("--yes", action="store_true", help="confirm the removal")
    parser.add_argument(
        "--purge",
        action="store_true",
        help="also remove the tenant's sync state, mappings, run history and forwarder state "
        "(required while it has any; on a removed tenant's name: remove what it left)",
    )
    parser.add_argument(
        "--purge-secrets",
        action="store_true",
        help="with --purge: also delete the tenant's ZOHO credentials from the secret store",
    )
    parser.add_argument(
        "--force", action="store_true", help="remove even while a Web Connector session runs"
    )
