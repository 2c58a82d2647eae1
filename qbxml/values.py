"""Converters from qbXML text and elements to Python values, and the small shared structures.

The element converters are written for speed: the parser calls them for every reference,
address and custom field of every record.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .blanks import no_text
from .errors import QbxmlError
from .records import Address, CustomField, Ref

BOOLS = {"true": True, "false": False, "1": True, "0": False}
_fromiso = datetime.fromisoformat
_new = object.__new__


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
    value = BOOLS.get(text)
    if value is None:
        raise QbxmlError(f"not a qbXML boolean: {text!r}")
    return value


def parse_int(text: str) -> int:
    """INTTYPE."""
    try:
        return int(text)
    except (TypeError, ValueError) as exc:
        raise QbxmlError(f"not a qbXML integer: {text!r}") from exc


def parse_ref(el: Any) -> Ref:
    """``*Ref`` element -> Ref (ListID and FullName, either may be absent)."""
    # Built without __init__, which would double the cost (Ref has no __post_init__): a
    # document has a few references per record and per line.
    out = _new(Ref)
    if len(el) == 2:
        # A Ref has at most ListID then FullName (schema order), so with two children and
        # ListID first the second is the FullName. Indexing skips the loop (and is cheaper
        # than unpacking an element, which builds an iterator and a list).
        first = el[0]
        if first.tag == "ListID":
            out.list_id = first.text or no_text(first)
            second = el[1]
            out.full_name = second.text or no_text(second)
            return out
    list_id = full_name = None
    for child in el:
        if child.tag == "ListID":
            list_id = child.text or no_text(child)
        elif child.tag == "FullName":
            full_name = child.text or no_text(child)
    out.list_id = list_id
    out.full_name = full_name
    return out


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
            values[slot] = child.text or no_text(child)
    return Address(*values)


def parse_custom_field(el: Any) -> CustomField:
    """``DataExtRet`` element -> CustomField."""
    if len(el) == 4:
        # Schema order: OwnerID, DataExtName, DataExtType, DataExtValue. A slice is a list made
        # in C; unpacking the element itself would go through an iterator.
        owner_el, name_el, type_el, value_el = el[:]
        if owner_el.tag == "OwnerID" and value_el.tag == "DataExtValue":
            return CustomField(
                owner_el.text or no_text(owner_el),
                name_el.text or no_text(name_el),
                type_el.text or no_text(type_el),
                value_el.text or no_text(value_el),
            )
    owner = name = ext_type = value = None
    for child in el:
        tag = child.tag
        if tag == "DataExtValue":
            value = child.text or no_text(child)
        elif tag == "DataExtName":
            name = child.text or no_text(child)
        elif tag == "DataExtType":
            ext_type = child.text or no_text(child)
        elif tag == "OwnerID":
            owner = child.text or no_text(child)
    return CustomField(owner_id=owner or "", name=name or "", type=ext_type, value=value)


_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def snake(tag: str) -> str:
    """The record attribute for a qbXML element name (see ``qbxml.records.base``)."""
    name = _SNAKE.sub("_", tag.removesuffix("Ref") if tag.endswith("Ref") else tag).lower()
    # Interned: records are built with **values, and CPython matches keyword names to
    # parameters by identity first; a non-interned name costs a string compare per parameter.
    return sys.intern("class_" if name == "class" else name)
