"""Write-back fields <-> QuickBooks Online JSON: the bodies the Online writer sends, and a
customer as the write-back fields see it.

A customer's fields (model.CUSTOMER_FIELDS) become ``DisplayName``, ``CompanyName``,
``GivenName``/``FamilyName``, ``PrimaryEmailAddr``, ``PrimaryPhone``, ``Mobile``, ``Fax``,
``Notes`` and the ``BillAddr``/``ShipAddr`` blocks (``street`` split at ", " into ``Line1``..
``Line5``). QuickBooks Online's Customer has no account number, so ``account_number`` is not
written there. The way back (``projected``) reads the object through the same canonical record
the sync hands to the forwarder (lambdas/qbo/transform.py), so a value compares equal to what
the forwarder wrote into ZOHO from it (countries as names, the street lines joined again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from ..qbo.transform import customer as canonical_customer
from .model import ADDRESS_PARTS, CUSTOMER_FIELDS, STREET_SEPARATOR

MAX_STREET_LINES = 5
# Customer field -> (QBO property, key inside it or "" for a plain string).
_PLAIN: dict[str, tuple[str, str]] = {
    "name": ("DisplayName", ""),
    "company_name": ("CompanyName", ""),
    "first_name": ("GivenName", ""),
    "last_name": ("FamilyName", ""),
    "email": ("PrimaryEmailAddr", "Address"),
    "phone": ("PrimaryPhone", "FreeFormNumber"),
    "alt_phone": ("Mobile", "FreeFormNumber"),
    "fax": ("Fax", "FreeFormNumber"),
    "notes": ("Notes", ""),
}
_ADDRESSES = {"bill_address": "BillAddr", "ship_address": "ShipAddr"}
_ADDRESS_KEYS = {
    "city": "City",
    "state": "CountrySubDivisionCode",
    "postal_code": "PostalCode",
    "country": "Country",
}


class InvoiceProblem(ValueError):
    """An invoice operation's fields cannot make an invoice (the message says what to fix)."""


def customer_body(values: Mapping[str, Any], names: Iterable[str] | None = None) -> dict:
    """The Customer properties for ``names`` (all CUSTOMER_FIELDS when None) from ``values``.

    A create (``names`` None) leaves empty values out; an update sends the named ones, empty
    ones too (the person cleared them in ZOHO). An address part named makes the whole block
    go, from ``values``, since Intuit replaces an address block as a whole.
    """
    creating = names is None
    wanted = set(CUSTOMER_FIELDS if names is None else names)
    body: dict[str, Any] = {}
    for name, (prop, key) in _PLAIN.items():
        if name not in wanted:
            continue
        value = _text(values.get(name))
        if creating and not value:
            continue
        body[prop] = {key: value} if key else value
    for prefix, prop in _ADDRESSES.items():
        parts = {p: _text(values.get(f"{prefix}.{p}")) for p in ADDRESS_PARTS}
        if not any(f"{prefix}.{p}" in wanted for p in ADDRESS_PARTS):
            continue
        if creating and not any(parts.values()):
            continue
        block: dict[str, str] = {}
        lines = [s for s in parts["street"].split(STREET_SEPARATOR) if s] if parts["street"] else []
        if len(lines) > MAX_STREET_LINES:
            lines[MAX_STREET_LINES - 1 :] = [STREET_SEPARATOR.join(lines[MAX_STREET_LINES - 1 :])]
        for number, line in enumerate(lines, 1):
            block[f"Line{number}"] = line
        for part, key in _ADDRESS_KEYS.items():
            if parts[part] or not creating:
                block[key] = parts[part]
        body[prop] = block
    return body


def projected(obj: Mapping[str, Any]) -> dict[str, str]:
    """A QuickBooks Online Customer as write-back fields (every CUSTOMER_FIELDS name)."""
    record = canonical_customer(dict(obj))
    out = {name: _text(getattr(record, name, None)) for name in CUSTOMER_FIELDS if "." not in name}
    for prefix in _ADDRESSES:
        addr = getattr(record, prefix, None)
        lines = [getattr(addr, f"addr{n}", None) for n in range(1, MAX_STREET_LINES + 1)]
        out[f"{prefix}.street"] = STREET_SEPARATOR.join(x for x in lines if x)
        for part in _ADDRESS_KEYS:
            out[f"{prefix}.{part}"] = _text(getattr(addr, part, None))
    return out


def invoice_lines(
    fields: Mapping[str, Any], default_item: str
) -> list[tuple[str, str, Decimal, Decimal]]:
    """(item name, description, quantity, rate) of each line: the deal's products, or one line
    of its amount with ``default_item``. InvoiceProblem when that cannot be made."""
    out = []
    for line in fields.get("lines") or []:
        item = _text(line.get("item"))
        if not item:
            raise InvoiceProblem("a product line of the deal names no QuickBooks item")
        qty = _decimal(line.get("quantity") or "1", "quantity")
        rate = _decimal(line.get("rate") or "0", "rate")
        out.append((item, _text(line.get("description")), qty, rate))
    if out:
        return out
    if not default_item:
        raise InvoiceProblem("set an invoice item: qbrelay tenant set T --invoice-item NAME")
    amount = _decimal(fields.get("amount") or "", "amount")
    return [(default_item, _text(fields.get("memo")), Decimal(1), amount)]


def invoice_body(
    fields: Mapping[str, Any],
    customer_id: str,
    lines: list[tuple[str, str, Decimal, Decimal]],
    item_ids: Mapping[str, str],
    note: str,
) -> dict[str, Any]:
    """The Invoice to create: the customer, the date, the lines (items by Id) and ``note``."""
    body: dict[str, Any] = {
        "CustomerRef": {"value": customer_id},
        "PrivateNote": note,
        "Line": [
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": float((qty * rate).quantize(Decimal("0.01"))),
                **({"Description": desc} if desc else {}),
                "SalesItemLineDetail": {
                    "ItemRef": {"value": item_ids[item], "name": item},
                    "Qty": float(qty),
                    "UnitPrice": float(rate),
                },
            }
            for item, desc, qty, rate in lines
        ],
    }
    if fields.get("txn_date"):
        body["TxnDate"] = str(fields["txn_date"])
    return body


def _decimal(value: Any, what: str) -> Decimal:
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvoiceProblem(f"the deal's {what} {value!r} is not a number") from None
    if not number.is_finite():
        raise InvoiceProblem(f"the deal's {what} {value!r} is not a number")
    return number


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()
