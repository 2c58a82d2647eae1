"""``qbrelay zoho check``: does this ZOHO organisation have what the tenant's mapping writes to?

Checks the credentials (one token refresh), the modules (Invoices and Sales_Orders are missing
from some editions), every field the mapping uses, that each id field is unique (an external
id field), and the payment-status picklist values; and says exactly what to create when
something is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .client import ZohoClient
from .custom_fields import SETUP_PATH, CustomField
from .errors import ZohoError
from .mapping import PAYMENT_STATUSES, MappingConfig


@dataclass(frozen=True, slots=True)
class CheckLine:
    """One finding: ``ok``, ``missing`` (must be fixed) or ``warning``.

    ``field`` is set when the finding is a custom field the organisation lacks: what
    ``qbrelay zoho setup`` creates.
    """

    level: str
    subject: str
    detail: str = ""
    field: CustomField | None = None

    def __str__(self) -> str:
        label = {"ok": "ok     ", "missing": "MISSING", "warning": "WARNING"}[self.level]
        return f"{label} {self.subject}" + (f": {self.detail}" if self.detail else "")


def check_setup(client: ZohoClient, config: MappingConfig) -> list[CheckLine]:
    """Every finding, in order; the credentials line comes first."""
    lines: list[CheckLine] = []
    try:
        modules = client.modules()
    except ZohoError as exc:
        return [CheckLine("missing", "credentials and API access", str(exc))]
    token = client.tokens.cache.load(client.tokens.tenant)
    where = token.api_domain if token else "ZOHO"
    lines.append(CheckLine("ok", "credentials", f"token refreshed; API at {where}"))
    available = {m.get("api_name") for m in modules if m.get("api_supported", True)}
    id_fields = {
        s.module: s.id_field
        for e in config.entities.values()
        for s in (e, e.contact)
        if s is not None
    }
    for module, used in config.used_fields().items():
        if module not in available:
            users = [e for e, s in config.entities.items() if s.module == module]
            lines.append(
                CheckLine(
                    "missing",
                    f"module {module}",
                    "this ZOHO edition or organisation has no such module through the API; "
                    "upgrade the edition, or map "
                    f"{', '.join(users) or 'it'} elsewhere in the tenant's mapping file "
                    f'(e.g. {{"entities": {{"{users[0] if users else module}": null}}}} to '
                    "leave it out)",
                )
            )
            continue
        lines.append(CheckLine("ok", f"module {module}"))
        try:
            fields = {f.get("api_name"): f for f in client.fields(module)}
        except ZohoError as exc:
            lines.append(CheckLine("missing", f"fields of {module}", str(exc)))
            continue
        lines.extend(_check_fields(module, used, fields, config, id_fields.get(module)))
    return lines


def _check_fields(
    module: str,
    used: set[str],
    fields: dict[Any, dict[str, Any]],
    config: MappingConfig,
    id_field: str | None,
) -> list[CheckLine]:
    out = []
    custom = config.custom_fields.get(module, {})
    for name in sorted(used):
        meta = fields.get(name)
        subject = f"field {module}.{name}"
        if meta is None:
            if name in custom:
                wanted = CustomField(
                    module,
                    name,
                    custom[name],
                    external=name == id_field,
                    values=PAYMENT_STATUSES if _is_status_field(config, module, name) else (),
                )
                out.append(CheckLine("missing", subject, wanted.instruction(), wanted))
            else:
                detail = (
                    "a standard field the mapping uses is not there; restore it or remove it "
                    "from the tenant's mapping file"
                )
                out.append(CheckLine("missing", subject, detail))
            continue
        if name == id_field and not (meta.get("unique") or meta.get("external")):
            out.append(
                CheckLine(
                    "missing",
                    subject,
                    "exists but is not unique: in its Edit Properties tick 'Set External field' "
                    "(org-based), or upserts could not match QuickBooks ids",
                )
            )
            continue
        if _is_status_field(config, module, name) and meta.get("pick_list_values") is not None:
            values = {v.get("actual_value") for v in meta["pick_list_values"]}
            lacking = [v for v in PAYMENT_STATUSES if v not in values]
            if lacking:
                out.append(
                    CheckLine(
                        "warning",
                        subject,
                        f"add the picklist value(s) {', '.join(lacking)} in {SETUP_PATH} > "
                        f"{module} > {name}",
                    )
                )
                continue
        out.append(CheckLine("ok", subject))
    return out


def _is_status_field(config: MappingConfig, module: str, name: str) -> bool:
    """Whether ``module.name`` carries the invoices' payment status."""
    pay = config.payment
    return pay is not None and module == pay.module and name == pay.status_field
