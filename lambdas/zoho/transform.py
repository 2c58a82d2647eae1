"""Canonical record + entity spec -> the body of one ZOHO write, with its parent references.

Parent references (the Account of a Contact or Invoice, the Product of each line) are returned
unresolved: the forwarder fills them in from the mapping store, or as external-id references.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from ..model.identity import source_id
from .mapping import EntitySpec, read_source

# A Contact is created only when the customer names a person: Last_Name is mandatory in ZOHO.
CONTACT_REQUIRED = "Last_Name"


@dataclass(frozen=True, slots=True)
class ParentRef:
    """A lookup to fill: ``field`` of the record, or of line ``line`` of the subform."""

    field: str
    line: int | None
    entity: str
    source_id: str


@dataclass(slots=True)
class ZohoWrite:
    """One record's body for an upsert into ``spec.module``."""

    spec: EntitySpec
    body: dict[str, Any]
    parents: list[ParentRef]


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _line_row(spec: EntitySpec, line: dict[str, Any]) -> dict[str, Any]:
    assert spec.lines is not None
    quantity = _decimal(line.get("quantity"))
    rate = _decimal(line.get("rate"))
    amount = _decimal(line.get("amount"))
    # Amount-only lines (no quantity) become one unit at the line's amount.
    if quantity is None or quantity == 0:
        quantity, price = Decimal(1), amount if amount is not None else rate
    else:
        price = rate if rate is not None else (amount / quantity if amount is not None else None)
    row: dict[str, Any] = {spec.lines.quantity: float(quantity)}
    if price is not None:
        row[spec.lines.price] = float(price)
    desc = line.get("desc")
    if spec.lines.description and desc:
        row[spec.lines.description] = str(desc)
    return row


def build_write(spec: EntitySpec, record: dict[str, Any], today: date) -> ZohoWrite | None:
    """The write for ``record`` under ``spec``; None when the record yields nothing to write."""
    body: dict[str, Any] = {spec.id_field: source_id(record)}
    for name, src in spec.fields.items():
        value = read_source(record, src, today)
        if value is not None:
            body[name] = value
    if spec.module == "Contacts" and CONTACT_REQUIRED not in body:
        return None
    parents = []
    for lookup in spec.lookups:
        value = read_source(record, lookup.source, today)
        if value:
            parents.append(ParentRef(lookup.field, None, lookup.entity, str(value)))
    if spec.lines is not None:
        rows = []
        for line in record.get("lines") or []:
            item = (line.get("item") or {}).get("list_id") if isinstance(line, dict) else None
            # Lines without an item (subtotals, free-text lines) have no Product in ZOHO.
            if not item:
                continue
            parents.append(ParentRef(spec.lines.product, len(rows), "Item", str(item)))
            rows.append(_line_row(spec, line))
        body[spec.lines.field] = rows
    return ZohoWrite(spec, body, parents)
