"""Building blocks shared by every record: references, addresses, custom fields, JSON form.

Field names follow one rule (the records contract): snake_case of the qbXML element name, with
``*Ref`` elements losing the suffix (``CustomerRef`` -> ``customer``). ``ClassRef`` becomes the
attribute ``class_`` because ``class`` is a Python keyword; ``to_dict`` writes it as ``"class"``.
A field whose element is absent is None; an element that is present but empty gives "".
"""

from __future__ import annotations

import dataclasses
import operator
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# Not frozen: a frozen dataclass sets every field through object.__setattr__, which made these
# small values the most expensive part of parsing. They stay hashable by value; treat them as
# immutable.


@dataclass(slots=True, unsafe_hash=True)
class Ref:
    """A reference to a list element (``CustomerRef``, ``TermsRef`` ...)."""

    list_id: str | None = None
    full_name: str | None = None


@dataclass(slots=True, unsafe_hash=True)
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


@dataclass(slots=True, unsafe_hash=True)
class CustomField:
    """A custom field (``DataExtRet``); owner_id "0" marks the public, user-visible ones."""

    owner_id: str
    name: str
    type: str | None
    value: str | None


@dataclass(slots=True)
class GenericRecord:
    """A ``*Ret`` element the library has no typed record for, kept as nested dicts."""

    kind: str
    fields: dict[str, Any]

    @property
    def entity(self) -> str:
        return self.kind.removesuffix("Ret")

    @property
    def source_id(self) -> str | None:
        value = self.fields.get("ListID") or self.fields.get("TxnID")
        return value if isinstance(value, str) else None


def _json_name(name: str) -> str:
    # "class_" is the only trailing-underscore field; JSON carries the contract name "class".
    return name[:-1] if name.endswith("_") else name


def json_fields(cls: type) -> dict[str, Any]:
    """Each field of record dataclass ``cls`` by the name ``plain`` writes it under, with its type.

    Types are resolved (the record modules use ``from __future__ import annotations``, so the raw
    annotations are strings); the JSON consumers of records derive what they may read from this.
    """
    hints = typing.get_type_hints(cls)
    return {_json_name(f.name): hints[f.name] for f in dataclasses.fields(cls)}


# Values ``plain`` returns as they are, and each record class's JSON names with one getter of
# all its attributes: looked up by exact class, so serializing a record costs no
# dataclasses.fields() call per value, and no call at all for a plain scalar field.
_AS_IS = frozenset({str, int, bool, float, type(None)})
# Exact classes of the converted scalars (subclasses take the isinstance path below).
_SCALARS: dict[type, Callable[[Any], str]] = {
    Decimal: str,
    datetime: datetime.isoformat,
    date: date.isoformat,
}
_FIELDS: dict[type, tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, ...], Callable[[Any], tuple[Any, ...]]]:
    fields = dataclasses.fields(cls)
    attrs = [f.name for f in fields]
    # attrgetter of one name returns the value, not a 1-tuple.
    getter = operator.attrgetter(*attrs) if len(attrs) > 1 else lambda v: (getattr(v, attrs[0]),)
    names = (tuple(_json_name(a) for a in attrs), getter)
    _FIELDS[cls] = names
    return names


def fields_into(out: dict[str, Any], value: Any) -> dict[str, Any]:
    """Add dataclass ``value``'s fields to ``out``, JSON-ready (see ``plain``)."""
    names, getter = _FIELDS.get(value.__class__) or _fields_of(value.__class__)
    as_is = _AS_IS
    for name, v in zip(names, getter(value), strict=True):
        out[name] = v if v.__class__ in as_is else plain(v)
    return out


def plain(value: Any) -> Any:
    """``value`` with Decimals, dates and dataclasses turned into JSON-ready values."""
    cls = value.__class__
    if cls in _AS_IS:
        return value
    convert = _SCALARS.get(cls)
    if convert is not None:
        return convert(value)
    if cls in _FIELDS:
        return fields_into({}, value)
    if cls is list or cls is tuple:
        as_is = _AS_IS
        return [v if v.__class__ in as_is else plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return fields_into({}, value)
    return value
