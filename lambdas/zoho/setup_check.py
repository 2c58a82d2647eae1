"""``qbrelay zoho check``: does this ZOHO organisation have what the tenant's mapping writes to?

Checks the credentials (one token refresh), the modules (Invoices and Sales_Orders are missing
from some editions), every field the mapping uses, that each id field is unique (an external
id field), and the payment-status picklist values; with write-back on, also Deals and the
write-back fields; and says exactly what to create when something is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import ZohoClient
from .custom_fields import (
    SETUP_PATH,
    WRITEBACK_CUSTOM_FIELDS,
    WRITEBACK_STANDARD_FIELDS,
    CustomField,
)
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


@dataclass(slots=True)
class _Needs:
    """What the relay needs of one module: the fields it uses, the custom ones among them
    (which ``setup`` can create), those that must be unique, and picklist values it writes."""

    used: set[str] = field(default_factory=set)
    custom: dict[str, CustomField] = field(default_factory=dict)
    unique: set[str] = field(default_factory=set)
    values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    missing_hint: str = ""


def _needs(config: MappingConfig, writeback: bool) -> dict[str, _Needs]:
    out: dict[str, _Needs] = {}
    id_fields = {
        s.module: s.id_field
        for e in config.entities.values()
        for s in (e, e.contact)
        if s is not None
    }
    for module, used in config.used_fields().items():
        users = [e for e, s in config.entities.items() if s.module == module]
        needs = out[module] = _Needs(used=set(used))
        needs.missing_hint = (
            "upgrade the edition, or map "
            f"{', '.join(users) or 'it'} elsewhere in the tenant's mapping file "
            f'(e.g. {{"entities": {{"{users[0] if users else module}": null}}}} to '
            "leave it out)"
        )
        id_field = id_fields.get(module)
        if id_field:
            needs.unique.add(id_field)
        pay = config.payment
        status = pay.status_field if pay is not None and pay.module == module else None
        if status:
            needs.values[status] = PAYMENT_STATUSES
        for name, kind in config.custom_fields.get(module, {}).items():
            values = PAYMENT_STATUSES if name == status else ()
            needs.custom[name] = CustomField(
                module, name, kind, external=name == id_field, values=values
            )
    if writeback:
        for module, names in WRITEBACK_STANDARD_FIELDS.items():
            needs = out.setdefault(module, _Needs())
            needs.used.update(names)
            needs.missing_hint = needs.missing_hint or (
                "write-back turns won deals into invoices: upgrade the edition, or turn "
                "write-back off for the tenant"
            )
        for f in WRITEBACK_CUSTOM_FIELDS:
            needs = out[f.module]
            needs.used.add(f.api_name)
            needs.custom[f.api_name] = f
            if f.external:
                needs.unique.add(f.api_name)
            if f.values:
                needs.values[f.api_name] = f.values
    return out


def check_setup(
    client: ZohoClient, config: MappingConfig, writeback: bool = False
) -> list[CheckLine]:
    """Every finding, in order; the credentials line comes first. ``writeback``: also what
    write-back reads and writes (its status fields, Deals and a deal's invoice fields)."""
    lines: list[CheckLine] = []
    try:
        modules = client.modules()
    except ZohoError as exc:
        return [CheckLine("missing", "credentials and API access", str(exc))]
    token = client.tokens.cache.load(client.tokens.tenant)
    where = token.api_domain if token else "ZOHO"
    lines.append(CheckLine("ok", "credentials", f"token refreshed; API at {where}"))
    available = {m.get("api_name") for m in modules if m.get("api_supported", True)}
    for module, needs in _needs(config, writeback).items():
        if module not in available:
            lines.append(
                CheckLine(
                    "missing",
                    f"module {module}",
                    "this ZOHO edition or organisation has no such module through the API; "
                    + needs.missing_hint,
                )
            )
            continue
        lines.append(CheckLine("ok", f"module {module}"))
        try:
            fields = {f.get("api_name"): f for f in client.fields(module)}
        except ZohoError as exc:
            lines.append(CheckLine("missing", f"fields of {module}", str(exc)))
            continue
        lines.extend(_check_fields(module, needs, fields))
    return lines


def _check_fields(module: str, needs: _Needs, fields: dict[Any, dict[str, Any]]) -> list[CheckLine]:
    out = []
    for name in sorted(needs.used):
        meta = fields.get(name)
        subject = f"field {module}.{name}"
        if meta is None:
            wanted = needs.custom.get(name)
            if wanted is not None:
                out.append(CheckLine("missing", subject, wanted.instruction(), wanted))
            else:
                detail = (
                    "a standard field the relay uses is not there; restore it or remove it "
                    "from the tenant's mapping file"
                )
                out.append(CheckLine("missing", subject, detail))
            continue
        if name in needs.unique and not (meta.get("unique") or meta.get("external")):
            out.append(
                CheckLine(
                    "missing",
                    subject,
                    "exists but is not unique: in its Edit Properties tick 'Set External field' "
                    "(org-based), or upserts could not match QuickBooks ids",
                )
            )
            continue
        wanted_values = needs.values.get(name)
        if wanted_values and meta.get("pick_list_values") is not None:
            values = {v.get("actual_value") for v in meta["pick_list_values"]}
            lacking = [v for v in wanted_values if v not in values]
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
