"""Reading QuickBooks Online JSON values into the canonical record's types.

QuickBooks Online ids are small integers per entity ("1", "58"), while Desktop ids are
"80000001-1193158678"-style strings; both may reach one tenant's CRM, whose records carry the
QuickBooks id in one external-id field. So every QuickBooks Online id in a canonical record, a
record's own and every reference, gets the ``qbo:`` prefix: no Desktop id has a colon, so the
two id spaces can never meet, and a reference always names a canonical id.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qbxml.records import Address, CustomField, Ref

from .countries import country_name

ID_PREFIX = "qbo:"


def canonical_id(qbo_id: Any) -> str:
    """The canonical id of a QuickBooks Online Id."""
    return ID_PREFIX + str(qbo_id)


def qbo_id(canonical: str) -> str:
    """The QuickBooks Online Id of a canonical id (ValueError for another id space)."""
    if not canonical.startswith(ID_PREFIX):
        raise ValueError(f"{canonical!r} is not a QuickBooks Online id")
    return canonical[len(ID_PREFIX) :]


def text(value: Any) -> str | None:
    """A string value, or None for absent and non-string values."""
    return value if isinstance(value, str) else None


def number(value: Any) -> Decimal | None:
    """A JSON number (or numeric string) as Decimal; None when absent or unreadable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def day(value: Any) -> date | None:
    """A "YYYY-MM-DD" date (a longer timestamp keeps its date part)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# Fractional seconds past microseconds (CloudEvents times carry nanoseconds).
_NANOS = re.compile(r"(\.\d{6})\d+")


def moment(value: Any) -> datetime | None:
    """An ISO timestamp such as "2015-07-24T10:33:39-07:00" (one without offset read as UTC);
    None when unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_NANOS.sub(r"\1", value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def meta(obj: dict[str, Any], key: str) -> datetime | None:
    """A ``MetaData`` timestamp (``CreateTime``, ``LastUpdatedTime``); both spellings."""
    block = obj.get("MetaData") or obj.get("Metadata") or {}
    return moment(block.get(key)) if isinstance(block, dict) else None


def ref(value: Any) -> Ref | None:
    """A reference ``{"value": "12", "name": "..."}`` with its id in the canonical id space."""
    if not isinstance(value, dict) or (value.get("value") in (None, "") and not value.get("name")):
        return None
    raw = value.get("value")
    return Ref(
        list_id=canonical_id(raw) if raw not in (None, "") else None,
        full_name=text(value.get("name")),
    )


def address(value: Any) -> Address | None:
    """A ``PhysicalAddress`` (``BillAddr``, ``ShipAddr``); the country as a name, not a code."""
    if not isinstance(value, dict):
        return None
    result = Address(
        addr1=text(value.get("Line1")),
        addr2=text(value.get("Line2")),
        addr3=text(value.get("Line3")),
        addr4=text(value.get("Line4")),
        addr5=text(value.get("Line5")),
        city=text(value.get("City")),
        state=text(value.get("CountrySubDivisionCode")),
        postal_code=text(value.get("PostalCode")),
        country=country_name(text(value.get("Country"))),
        note=text(value.get("Note")),
    )
    return result if any(getattr(result, f.name) is not None for f in fields(result)) else None


def contact(value: Any, key: str) -> str | None:
    """The text inside a phone (``FreeFormNumber``), email (``Address``) or web address block."""
    return text(value.get(key)) if isinstance(value, dict) else None


def custom_fields(value: Any) -> list[CustomField]:
    """``CustomField`` entries (name, type, string value) as public custom fields."""
    out = []
    for field in value if isinstance(value, list) else []:
        if not isinstance(field, dict) or not field.get("Name"):
            continue
        raw = field.get("StringValue", field.get("NumberValue", field.get("DateValue")))
        out.append(
            CustomField(
                owner_id="0",
                name=str(field["Name"]),
                type=text(field.get("Type")),
                value=None if raw is None else str(raw),
            )
        )
    return out
