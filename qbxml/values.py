"""Converters from qbXML element text to Python values, and the small shared structures.

Each takes the lxml element (so an error can name it) and is written for speed: the parser
calls them for every field of every record.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import QbxmlError
from .records import Address, CustomField, Ref

_BOOLS = {"true": True, "false": False, "1": True, "0": False}
_fromiso = datetime.fromisoformat
_date_fromiso = date.fromisoformat


def _bad(el: Any, what: str) -> QbxmlError:
    return QbxmlError(f"<{el.tag}> is not a qbXML {what}: {el.text!r}")


def parse_datetime(text: str) -> datetime:
    """QuickBooks datetimes carry an offset; a zone-less one is taken as UTC."""
    try:
        value = _fromiso(text)
    except (TypeError, ValueError) as exc:
        raise QbxmlError(f"not a qbXML datetime: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_money(text: str) -> Decimal:
    """AMTTYPE, PRICETYPE, QUANTYPE, PERCENTTYPE: exact decimals."""
    try:
        return Decimal(text)
    except (InvalidOperation, TypeError) as exc:
        raise QbxmlError(f"not a qbXML amount: {text!r}") from exc


def parse_bool(text: str) -> bool:
    """BOOLTYPE: "true"/"false" (QuickBooks also accepts 1/0)."""
    value = _BOOLS.get(text)
    if value is None:
        raise QbxmlError(f"not a qbXML boolean: {text!r}")
    return value


def parse_int(text: str) -> int:
    """INTTYPE."""
    try:
        return int(text)
    except (TypeError, ValueError) as exc:
        raise QbxmlError(f"not a qbXML integer: {text!r}") from exc


def el_datetime(el: Any) -> datetime:
    """DATETIMETYPE element -> timezone-aware datetime."""
    try:
        value = _fromiso(el.text)
    except (TypeError, ValueError):
        raise _bad(el, "datetime") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def el_date(el: Any) -> date:
    """DATETYPE element -> date."""
    try:
        return _date_fromiso(el.text)
    except (TypeError, ValueError):
        raise _bad(el, "date") from None


def el_decimal(el: Any) -> Decimal:
    """AMTTYPE/PRICETYPE/QUANTYPE/PERCENTTYPE/FLOATTYPE element -> Decimal."""
    try:
        return Decimal(el.text)
    except (InvalidOperation, TypeError):
        raise _bad(el, "number") from None


def el_bool(el: Any) -> bool:
    """BOOLTYPE element -> bool."""
    value = _BOOLS.get(el.text)
    if value is None:
        raise _bad(el, "boolean")
    return value


def el_int(el: Any) -> int:
    """INTTYPE element -> int."""
    try:
        return int(el.text)
    except (TypeError, ValueError):
        raise _bad(el, "integer") from None


def parse_ref(el: Any) -> Ref:
    """``*Ref`` element -> Ref (ListID and FullName, either may be absent)."""
    if len(el) == 2:
        # A Ref has at most ListID then FullName (schema order), so with two children and
        # ListID first the second is the FullName; unpacking skips the loop.
        first, second = el
        if first.tag == "ListID":
            return Ref(first.text or "", second.text or "")
    list_id = full_name = None
    for child in el:
        if child.tag == "ListID":
            list_id = child.text or ""
        elif child.tag == "FullName":
            full_name = child.text or ""
    return Ref(list_id, full_name)


_ADDRESS_SLOTS = {
    "Addr1": 0,
    "Addr2": 1,
    "Addr3": 2,
    "Addr4": 3,
    "Addr5": 4,
    "City": 5,
    "State": 6,
    "PostalCode": 7,
    "Country": 8,
    "Note": 9,
}


def parse_address(el: Any) -> Address:
    """``BillAddress``/``ShipAddress``/``VendorAddress`` element -> Address."""
    values: list[str | None] = [None] * 10
    slots = _ADDRESS_SLOTS
    for child in el:
        slot = slots.get(child.tag)
        if slot is not None:
            values[slot] = child.text or ""
    return Address(*values)


def parse_custom_field(el: Any) -> CustomField:
    """``DataExtRet`` element -> CustomField."""
    if len(el) == 4:
        # Schema order: OwnerID, DataExtName, DataExtType, DataExtValue.
        owner_el, name_el, type_el, value_el = el
        if owner_el.tag == "OwnerID" and value_el.tag == "DataExtValue":
            return CustomField(
                owner_el.text or "", name_el.text or "", type_el.text or "", value_el.text or ""
            )
    owner = name = ext_type = value = None
    for child in el:
        tag = child.tag
        if tag == "DataExtValue":
            value = child.text or ""
        elif tag == "DataExtName":
            name = child.text or ""
        elif tag == "DataExtType":
            ext_type = child.text or ""
        elif tag == "OwnerID":
            owner = child.text or ""
    return CustomField(owner_id=owner or "", name=name or "", type=ext_type, value=value)


_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(tag: str) -> str:
    """The record attribute for a qbXML element name (see ``qbxml.records.base``)."""
    name = _SNAKE.sub("_", tag.removesuffix("Ref") if tag.endswith("Ref") else tag).lower()
    # Interned: records are built with **values, and CPython matches keyword names to
    # parameters by identity first; a non-interned name costs a string compare per parameter.
    return sys.intern("class_" if name == "class" else name)
