"""A custom field a mapping needs, as ZOHO's Create Custom Fields API and its setup pages know it.

A mapping declares its custom fields by type (``catalogue.CUSTOM_FIELD_TYPES``); this module
says what each type is in ZOHO (its ``data_type``, the length and the keys the API wants for
it), how to ask the API for it (``CustomField.body``) and how to create it by hand
(``CustomField.instruction``). ZOHO derives a new field's API name from its label, spaces
becoming underscores, so the label of ``QB_ListID`` is ``QB ListID``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .catalogue import CUSTOM_FIELD_TYPES

SETUP_PATH = "Setup > Customization > Modules and Fields"


@dataclass(frozen=True, slots=True)
class ZohoFieldType:
    """A mapping type in ZOHO: the API's ``data_type``, its length and type-specific keys."""

    data_type: str
    length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


# Lengths are the API's maxima for the type, except where a QuickBooks value is known to be
# shorter; decimals hold QuickBooks quantities (five places) and amounts (two).
ZOHO_TYPES: dict[str, ZohoFieldType] = {
    "text": ZohoFieldType("text", 255),
    "textarea": ZohoFieldType("textarea", 32000, {"textarea": {"type": "large"}}),
    "number": ZohoFieldType("double", 16, {"decimal_place": 5}),
    "currency": ZohoFieldType(
        "currency", 16, {"decimal_place": 2, "currency": {"rounding_option": "normal"}}
    ),
    "boolean": ZohoFieldType("boolean"),
    "date": ZohoFieldType("date"),
    "picklist": ZohoFieldType("picklist"),
    "email": ZohoFieldType("email", 100),
    "phone": ZohoFieldType("phone", 30),
}


@dataclass(frozen=True, slots=True)
class CustomField:
    """One custom field a module lacks: its API name, mapping type and what the relay needs of it.

    ``external``: it holds QuickBooks ids, so it must be an org-based external id field (which
    ZOHO treats as unique: upserts match on it). ``values``: a picklist's values, when known.
    """

    module: str
    api_name: str
    kind: str
    external: bool = False
    values: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The label to create it under: ZOHO turns it into the API name."""
        return self.api_name.replace("_", " ")

    @property
    def palette(self) -> str:
        """The field type as ZOHO's setup page names it ("Single Line", "Checkbox" ...)."""
        return CUSTOM_FIELD_TYPES.get(self.kind, "a field of a type that fits the values")

    @property
    def length(self) -> int | None:
        """The length to give it, or None for types without one."""
        zoho = ZOHO_TYPES.get(self.kind)
        return zoho.length if zoho else None

    def not_creatable(self) -> str | None:
        """Why the API cannot create it as the relay needs it, or None when it can."""
        if self.kind not in ZOHO_TYPES:
            return f"the mapping's type {self.kind!r} has no ZOHO field type"
        if self.kind == "picklist" and not self.values:
            return "the mapping does not say the picklist's values"
        if self.external and ZOHO_TYPES[self.kind].data_type != "text":
            return "ZOHO allows external id fields of type Single Line only"
        return None

    def body(self) -> dict[str, Any]:
        """The field as ZOHO's Create Custom Fields API takes it (one item of ``fields``)."""
        zoho = ZOHO_TYPES[self.kind]
        out: dict[str, Any] = {"field_label": self.label, "data_type": zoho.data_type}
        if zoho.length is not None:
            out["length"] = zoho.length
        out.update(zoho.extra)
        if self.values:
            out["pick_list_values"] = [{"display_value": v, "actual_value": v} for v in self.values]
        if self.external:
            out["external"] = {"type": "org", "show": True}
        return out

    def instruction(self) -> str:
        """How to create it by hand in ZOHO's setup pages."""
        text = (
            f"in {SETUP_PATH} > {self.module}, add a {self.palette} field labelled "
            f"{self.label!r} (its API name must read {self.api_name}; rename the API name in the "
            "field's properties if ZOHO chose another)"
        )
        if self.length is not None:
            text += f", length {self.length}"
        if self.values:
            text += f", with the values {', '.join(self.values)}"
        if self.external:
            text += ", then in Edit Properties tick 'Set External field' (org-based)"
        return text


# What write-back reads and writes in ZOHO besides the mapping (lambdas/writeback/): the status
# of each account's and deal's last write to QuickBooks, and a deal's invoice. ``zoho check``
# and ``zoho setup`` include them for tenants with write-back on.
SYNC_STATUS_VALUES = ("Synced", "Failed", "Pending", "Conflict")
WRITEBACK_CUSTOM_FIELDS: tuple[CustomField, ...] = (
    CustomField("Accounts", "QB_Sync_Status", "picklist", values=SYNC_STATUS_VALUES),
    CustomField("Accounts", "QB_Sync_Message", "text"),
    CustomField("Deals", "QB_TxnID", "text", external=True),
    CustomField("Deals", "QB_RefNumber", "text"),
    CustomField("Deals", "QB_Sync_Status", "picklist", values=SYNC_STATUS_VALUES),
    CustomField("Deals", "QB_Sync_Message", "text"),
)
# Standard fields write-back reads (an organisation may have removed or renamed one).
WRITEBACK_STANDARD_FIELDS = {
    "Accounts": ("Account_Name",),
    "Deals": ("Deal_Name", "Account_Name", "Stage", "Amount", "Closing_Date"),
}
