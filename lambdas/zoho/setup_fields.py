"""``qbrelay zoho setup``: create the custom fields a tenant's mapping needs and the org lacks.

What is missing comes from the setup check (``setup_check.check_setup``), so ``setup`` and
``check`` never disagree; the fields are created through ZOHO's Create Custom Fields API, at
most five a call, when the token carries a settings scope. When it does not (ZOHO answers
OAUTH_SCOPE_MISMATCH), on a dry run, or for a field the API cannot make as the relay needs it,
the field is left for the operator, with exactly what to create by hand. Running it again
creates nothing: a field that exists is no longer missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .client import MAX_FIELDS_CREATED, ZohoClient
from .custom_fields import CustomField
from .errors import ZohoConfigError
from .setup_check import CheckLine

# The scope that lets the relay create fields (it covers reading them too), and every scope a
# refresh token for the relay should carry.
FIELDS_SCOPE = "ZohoCRM.settings.fields.ALL"
RELAY_SCOPES = (
    "ZohoCRM.modules.ALL",
    "ZohoCRM.settings.modules.READ",
    FIELDS_SCOPE,
    "ZohoCRM.coql.READ",
)


@dataclass(slots=True)
class SetupResult:
    """What ``set_up_fields`` did: fields created, refused, and left to create by hand."""

    created: list[tuple[CustomField, str]] = field(default_factory=list)  # with the new id
    failed: list[tuple[CustomField, str]] = field(default_factory=list)  # with ZOHO's reason
    manual: list[tuple[CustomField, str]] = field(default_factory=list)  # with why not created
    scope_missing: bool = False

    @property
    def wanted(self) -> int:
        """Fields the organisation lacked."""
        return len(self.created) + len(self.failed) + len(self.manual)


def missing_fields(lines: Sequence[CheckLine]) -> list[CustomField]:
    """The custom fields the setup check found missing, in its order."""
    return [x.field for x in lines if x.level == "missing" and x.field is not None]


def set_up_fields(
    client: ZohoClient, wanted: Sequence[CustomField], dry_run: bool = False
) -> SetupResult:
    """Create ``wanted`` in ZOHO (unless ``dry_run``); say what became of each field."""
    result = SetupResult()
    by_module: dict[str, list[CustomField]] = {}
    for f in wanted:
        reason = "dry run" if dry_run else f.not_creatable()
        if reason:
            result.manual.append((f, reason))
        else:
            by_module.setdefault(f.module, []).append(f)
    for module, fields in by_module.items():
        for start in range(0, len(fields), MAX_FIELDS_CREATED):
            batch = fields[start : start + MAX_FIELDS_CREATED]
            if result.scope_missing:
                result.manual.extend((f, f"the token lacks {FIELDS_SCOPE}") for f in batch)
                continue
            try:
                answers = client.create_fields(module, [f.body() for f in batch])
            except ZohoConfigError as exc:
                if exc.code != "OAUTH_SCOPE_MISMATCH":
                    raise
                # One refusal says it for every module: ask nothing more of ZOHO.
                result.scope_missing = True
                result.manual.extend((f, f"the token lacks {FIELDS_SCOPE}") for f in batch)
                continue
            for f, answer in zip(batch, answers, strict=True):
                if answer.ok and answer.zoho_id:
                    result.created.append((f, answer.zoho_id))
                else:
                    result.failed.append((f, answer.reason()))
    return result
