"""Canonical typed records parsed from qbXML ``*Ret`` elements.

Money is ``Decimal``, timestamps are timezone-aware, references keep both ListID and FullName.
Records are plain dataclasses so they serialize to JSON (see ``to_dict``) and hash stably.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Ref:
    """A reference to a list element (``CustomerRef``, ``TermsRef`` ...)."""

    list_id: str | None = None
    full_name: str | None = None


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address as QuickBooks stores it."""

    addr1: str | None = None
    addr2: str | None = None
    addr3: str | None = None
    addr4: str | None = None
    addr5: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CustomField:
    """A custom field (``DataExtRet``); owner_id "0" marks the public, user-visible ones."""

    owner_id: str
    name: str
    type: str | None
    value: str | None


@dataclass(slots=True)
class Customer:
    """A QuickBooks customer or job (``CustomerRet``)."""

    list_id: str
    time_created: datetime | None = None
    time_modified: datetime | None = None
    edit_sequence: str | None = None
    name: str | None = None
    full_name: str | None = None
    is_active: bool = True
    parent: Ref | None = None
    sublevel: int = 0
    company_name: str | None = None
    salutation: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    phone: str | None = None
    alt_phone: str | None = None
    fax: str | None = None
    email: str | None = None
    cc: str | None = None
    contact: str | None = None
    alt_contact: str | None = None
    customer_type: Ref | None = None
    terms: Ref | None = None
    sales_rep: Ref | None = None
    balance: Decimal | None = None
    total_balance: Decimal | None = None
    account_number: str | None = None
    credit_limit: Decimal | None = None
    notes: str | None = None
    custom_fields: list[CustomField] = field(default_factory=list)

    entity = "Customer"

    @property
    def source_id(self) -> str:
        """The QuickBooks identifier the CRM upserts on."""
        return self.list_id


@dataclass(slots=True)
class GenericRecord:
    """A ``*Ret`` element the library has no typed record for yet, kept as nested dicts."""

    kind: str
    fields: dict[str, Any]

    @property
    def entity(self) -> str:
        return self.kind.removesuffix("Ret")

    @property
    def source_id(self) -> str | None:
        value = self.fields.get("ListID") or self.fields.get("TxnID")
        return value if isinstance(value, str) else None


Record = Customer | GenericRecord


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def to_dict(record: Record) -> dict[str, Any]:
    """JSON-ready dict of a record: Decimals and datetimes become ISO strings."""
    body = _plain(record)
    return {"entity": record.entity, **body}
