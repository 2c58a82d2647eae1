"""Which ZOHO fields write-back reads, and the write-back field each one is.

The same names serve the change capture (reading ZOHO records) and the forwarder (which keeps
the values it last wrote to these fields in the mapping's ``applied_fields``, so the capture can
tell its own writes from a person's edit). The defaults follow the default mapping
(lambdas/zoho/mapping.py DEFAULT_MAPPING); a tenant's mapping overrides are not inverted yet.
"""

from __future__ import annotations

from typing import Any

# Accounts field -> write-back customer field (lambdas/writeback/model.py CUSTOMER_FIELDS).
ACCOUNT_FIELDS: dict[str, str] = {
    "Account_Name": "name",
    "Account_Number": "account_number",
    "Phone": "phone",
    "Fax": "fax",
    "Description": "notes",
    "Billing_Street": "bill_address.street",
    "Billing_City": "bill_address.city",
    "Billing_State": "bill_address.state",
    "Billing_Code": "bill_address.postal_code",
    "Billing_Country": "bill_address.country",
    "Shipping_Street": "ship_address.street",
    "Shipping_City": "ship_address.city",
    "Shipping_State": "ship_address.state",
    "Shipping_Code": "ship_address.postal_code",
    "Shipping_Country": "ship_address.country",
}
# The account's primary Contact field -> write-back customer field.
CONTACT_FIELDS: dict[str, str] = {
    "First_Name": "first_name",
    "Last_Name": "last_name",
    "Email": "email",
    "Mobile": "alt_phone",
}
# Modules whose applied values the forwarder keeps, and the fields it keeps of each.
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "Accounts": tuple(ACCOUNT_FIELDS),
    "Contacts": tuple(CONTACT_FIELDS),
}


def text(value: Any) -> str:
    """A ZOHO field value as write-back compares it: stripped text, "" for empty or null."""
    if value is None:
        return ""
    if isinstance(value, dict):  # a lookup: compare by the record it names
        return str(value.get("id") or value.get("name") or "")
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def kept_values(module: str, payload: dict[str, Any]) -> dict[str, str]:
    """The values of ``module``'s KEPT_FIELDS in ``payload`` (a ZOHO record or a write)."""
    return {
        name: text(payload.get(name)) for name in KEPT_FIELDS.get(module, ()) if name in payload
    }
