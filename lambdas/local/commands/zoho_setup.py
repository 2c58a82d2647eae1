"""What ``qbrelay zoho setup`` prints: the fields it created, and those to create by hand."""

from __future__ import annotations

from collections.abc import Sequence

from ...zoho.client import ZohoClient
from ...zoho.custom_fields import SETUP_PATH, CustomField
from ...zoho.mapping import MappingConfig
from ...zoho.setup_check import check_setup
from ...zoho.setup_fields import (
    FIELDS_SCOPE,
    RELAY_SCOPES,
    SetupResult,
    missing_fields,
    set_up_fields,
)

COLUMNS = ("module", "label", "API name", "type", "length", "unique")


def _row(f: CustomField) -> tuple[str, ...]:
    unique = "yes: external id (org)" if f.external else "no"
    kind = f.palette + (f" ({', '.join(f.values)})" if f.values else "")
    length = str(f.length) if f.length is not None else "-"
    return (f.module, f.label, f.api_name, kind, length, unique)


def manual_table(fields: Sequence[CustomField]) -> list[str]:
    """The fields to create by hand, one table row each, columns aligned."""
    rows = [COLUMNS, *(_row(f) for f in fields)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def print_result(result: SetupResult, tenant: str) -> None:
    """Say what was created, what ZOHO refused, and exactly what is left to do by hand."""
    for f, zoho_id in result.created:
        print(f"  created {f.module}.{f.api_name} ({f.palette}, id {zoho_id})")
    for f, reason in result.failed:
        print(f"  FAILED  {f.module}.{f.api_name}: ZOHO refused it ({reason})")
    if not result.manual:
        return
    print(f"Create these {len(result.manual)} field(s) by hand in {SETUP_PATH}:")
    for line in manual_table([f for f, _ in result.manual]):
        print(f"  {line}")
    if any(f.external for f, _ in result.manual):
        print(
            "  For each field marked unique: in its Edit Properties tick 'Set External field' "
            "(org-based)."
        )
    reasons = sorted({r for _, r in result.manual})
    print(f"  (not created: {'; '.join(reasons)})")
    if result.scope_missing:
        print(
            f"Or let this command create them: the refresh token lacks {FIELDS_SCOPE}. In ZOHO's "
            "API console (Self Client > Generate Code) ask for the scopes "
            f"{','.join(RELAY_SCOPES)}, exchange the code for a refresh token, store it with "
            f"`qbrelay zoho set-credentials --tenant {tenant} ...` and run this again."
        )


def run_setup(
    client: ZohoClient, config: MappingConfig, tenant: str, dry_run: bool, writeback: bool = False
) -> bool:
    """Create (or, on a dry run, list) what the organisation lacks; False if ZOHO was unreachable.

    Missing modules, standard fields and not-unique id fields are not created here: the
    verification that follows names them with what to do.
    """
    lines = check_setup(client, config, writeback)
    if lines and lines[0].subject == "credentials and API access" and lines[0].level != "ok":
        print(f"  {lines[0]}")
        return False
    wanted = missing_fields(lines)
    if not wanted:
        print("  Nothing to create: every custom field the mapping needs is there.")
        return True
    result = set_up_fields(client, wanted, dry_run=dry_run)
    print_result(result, tenant)
    return True
