"""ZOHO records as the write-back fields QuickBooks gets, and the checks made before sending.

An Account and its primary Contact become ``CUSTOMER_FIELDS`` (through ``zoho_fields``); a
Deal and its products become an invoice's fields (``invoice_fields``, the shape the writers
take). ``validate_customer`` / ``validate_invoice`` say, in words for the ZOHO record's status
message, why QuickBooks would refuse the values: a length over the limit (Desktop's from the
qbXML field tables in ``qbxml/requests/writes.py``, Online's from Intuit's entity reference),
a character QuickBooks Desktop cannot store (the ISO-8859-1 rule of ``qbxml/text.py``), an
empty name. A value is only checked here, never changed: the writers send it as it is.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from qbxml.requests.writes import ADDRESS_FIELDS, CUSTOMER_ADD_FIELDS
from qbxml.text import to_qb_text
from qbxml.versions import MIN_VERSION, QbxmlVersion

from .model import STREET_SEPARATOR
from .zoho_fields import ACCOUNT_FIELDS, CONTACT_FIELDS, text

QBD = "qbd"
QBO = "qbo"
# What the ZOHO record's message calls each field.
LABELS = {
    "name": "Account name",
    "company_name": "Company name",
    "first_name": "Contact first name",
    "last_name": "Contact last name",
    "email": "Contact email",
    "phone": "Phone",
    "alt_phone": "Contact mobile",
    "fax": "Fax",
    "account_number": "Account number",
    "notes": "Description",
    "street": "street",
    "city": "city",
    "state": "state",
    "postal_code": "postal code",
    "country": "country",
}
# QuickBooks Online's limits (Intuit's Customer entity: DisplayName 100, GivenName/FamilyName
# 100, CompanyName 100, phone numbers 30, e-mail 100, Notes 2000, address lines 500, City,
# CountrySubDivisionCode and Country 255, PostalCode 30); five address lines.
ONLINE_LIMITS = {
    "name": 100,
    "company_name": 100,
    "first_name": 100,
    "last_name": 100,
    "email": 100,
    "phone": 30,
    "alt_phone": 30,
    "fax": 30,
    "account_number": 100,
    "notes": 2000,
    "street": 500,
    "city": 255,
    "state": 255,
    "postal_code": 30,
    "country": 255,
}
ONLINE_ADDRESS_LINES = 5
# Address parts with one qbXML element each (the street is spread over Addr1..Addr4).
_ADDRESS_PARTS = ("city", "state", "postal_code", "country")


def customer_fields(
    account: Mapping[str, Any], contact: Mapping[str, Any] | None
) -> dict[str, str]:
    """The customer fields of an Account record and its primary Contact (either a ZOHO record
    or the kept values the forwarder wrote); every mapped field present, "" when empty."""
    out = {wb: text(account.get(zoho)) for zoho, wb in ACCOUNT_FIELDS.items()}
    for zoho, wb in CONTACT_FIELDS.items():
        out[wb] = text(contact.get(zoho)) if contact else ""
    return out


def primary_contact(contacts: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The account's contact QuickBooks knows (one with a QB_ListID), else the earliest created."""
    ordered = sorted(contacts, key=lambda c: (str(c.get("Created_Time") or ""), _id(c)))
    known = [c for c in ordered if text(c.get("QB_ListID"))]
    return (known or ordered or [None])[0]


def _id(record: Mapping[str, Any]) -> int:
    rid = str(record.get("id") or "")
    return int(rid) if rid.isdigit() else 0


def _amount(value: Any) -> str:
    """A ZOHO currency value as QuickBooks' two-decimal text; "" when empty or not a number."""
    if value in (None, ""):
        return ""
    try:
        return str(Decimal(str(value)).quantize(Decimal("0.01")))
    except InvalidOperation:
        return ""


def invoice_fields(
    deal: Mapping[str, Any], products: Sequence[Mapping[str, Any]], today: date
) -> dict[str, Any]:
    """The invoice of a won deal: its date (Closing_Date, else ``today``), memo (Deal_Name),
    amount and one line per related product (quantity 1 at the product's unit price: ZOHO's
    Deals-Products relation carries no quantity). No products: no lines, and the writer makes
    one line of ``amount`` with the tenant's invoice item."""
    lines = [
        {
            "item": text(p.get("Product_Name")),
            "description": text(p.get("Description")),
            "quantity": "1",
            "rate": _amount(p.get("Unit_Price")) or "0.00",
        }
        for p in products
    ]
    return {
        "txn_date": text(deal.get("Closing_Date")) or today.isoformat(),
        "memo": text(deal.get("Deal_Name")),
        "amount": _amount(deal.get("Amount")),
        "lines": lines,
    }


def split_street(street: str, lines: int, width: int) -> list[str] | None:
    """``street`` (address lines joined with ", ", as ZOHO's one Street field holds them) in at
    most ``lines`` lines of at most ``width`` characters, parts kept whole where they fit and
    long ones wrapped at spaces; None when it cannot fit."""
    parts = [p.strip() for p in street.replace("\n", ",").split(",") if p.strip()]
    out: list[str] = []
    joinable = False  # whether the last line holds whole parts (a wrapped one takes no more)
    for part in parts:
        if len(part) > width:
            out.extend(textwrap.wrap(part, width))
            joinable = False
        elif joinable and len(out[-1]) + len(STREET_SEPARATOR) + len(part) <= width:
            out[-1] += STREET_SEPARATOR + part
        else:
            out.append(part)
            joinable = True
    return out if len(out) <= lines else None


def _desktop_limits(version: QbxmlVersion) -> tuple[dict[str, int], int, int]:
    """(field -> max length, address lines, address line width) of CustomerAdd at ``version``."""
    specs = {s.attr: s for s in CUSTOMER_ADD_FIELDS if s.since <= version}
    limits = {
        name: spec.max_length
        for name in LABELS
        if (spec := specs.get(name)) is not None and spec.max_length
    }
    address = {s.attr: s for s in ADDRESS_FIELDS if s.since <= version}
    for part in _ADDRESS_PARTS:
        if address[part].max_length:
            limits[part] = int(address[part].max_length)
    addr_lines = [s for s in ADDRESS_FIELDS if s.attr.startswith("addr") and s.since <= version]
    return limits, len(addr_lines), min(int(s.max_length or 0) for s in addr_lines)


def _label(name: str) -> str:
    prefix, _, part = name.partition(".")
    if part:
        where = "Billing" if prefix == "bill_address" else "Shipping"
        return f"{where} {LABELS[part]}"
    return LABELS.get(name, name)


def _unstorable(value: str) -> list[str]:
    """The characters of ``value`` QuickBooks Desktop cannot store (they would become "?")."""
    return sorted({ch for ch in value if ch != "?" and to_qb_text(ch) == "?"})


def validate_customer(
    fields: Mapping[str, str],
    version: QbxmlVersion = MIN_VERSION,
    edition: str = QBD,
    base: Mapping[str, str] | None = None,
) -> str | None:
    """Why QuickBooks (``edition`` "qbd" at qbXML ``version``, or "qbo") would refuse these
    customer fields, as one sentence for the ZOHO record; None when they can be sent.

    ``base``: a modification's last synced values. A field still equal to it is not written,
    and QuickBooks holds it already (a job's account is named by its full name, "Parent:Job"),
    so it is not checked."""
    held = {k for k, v in fields.items() if base and v == base.get(k, "")}
    name = fields.get("name", "")
    if not name.strip():
        return "Account name is empty; QuickBooks needs a customer name"
    if ":" in name and "name" not in held:
        return "Account name contains ':', which QuickBooks keeps for a customer's jobs"
    if edition == QBO:
        limits, addr_lines, width = ONLINE_LIMITS, ONLINE_ADDRESS_LINES, ONLINE_LIMITS["street"]
    else:
        limits, addr_lines, width = _desktop_limits(version)
    for key, value in fields.items():
        if not value or key in held:
            continue
        label = _label(key)
        part = key.partition(".")[2] or key
        if edition != QBO and (bad := _unstorable(value)):
            shown = " ".join(bad[:5])
            return f"{label} has characters QuickBooks Desktop cannot store: {shown}"
        if part == "street":
            if split_street(value, addr_lines, width) is None:
                return (
                    f"{label} is {len(value)} characters; QuickBooks allows {addr_lines} lines "
                    f"of {width}"
                )
            continue
        limit = limits.get(part)
        if limit is not None and len(value) > limit:
            return f"{label} is {len(value)} characters; QuickBooks allows {limit}"
    return None


def validate_invoice(
    fields: Mapping[str, Any], edition: str = QBD, invoice_item: str = ""
) -> str | None:
    """Why QuickBooks would refuse this invoice (or cannot be given one), as one sentence for
    the ZOHO deal; None when it can be sent."""
    try:
        date.fromisoformat(str(fields.get("txn_date") or ""))
    except ValueError:
        return f"Closing date {fields.get('txn_date')!r} is not a date"
    lines = list(fields.get("lines") or [])
    if not lines:
        if not invoice_item:
            return (
                "the deal has no products and the tenant no invoice item: set an invoice item: "
                "qbrelay tenant set T --invoice-item NAME"
            )
        if not fields.get("amount"):
            return "the deal has no products and no amount"
    for n, line in enumerate(lines, 1):
        if not str(line.get("item") or "").strip():
            return f"product {n} of the deal has no name"
    if edition != QBO:
        texts = [("Deal name", str(fields.get("memo") or ""))]
        texts += [(f"Product {line.get('item')}", str(line.get("item") or "")) for line in lines]
        texts += [("Product description", str(line.get("description") or "")) for line in lines]
        for label, value in texts:
            if bad := _unstorable(value):
                return f"{label} has characters QuickBooks Desktop cannot store: {' '.join(bad)}"
    return None
