"""The record builder: conversion tables compiled against a record class's field order.

A table (see ``qbxml.rets``) maps a child element name to an attribute name (plain text), to
``(attribute, converter, what)`` (the converter takes the element's text; ``what`` names the
qbXML type in the error), or to a binder: a function of the record's field positions that
returns a handler adding to the values itself (references, addresses, repeating children,
flattened wrappers).

``compile_table`` turns attribute names into positions in the record's ``__init__``, and
``builder`` returns a function that fills a copy of the record's default arguments and calls
the class with them positionally. This is the parser's innermost loop, once per field element
of every record: keyword arguments cost a name match per parameter, and a Python call per
converted field cost as much as the conversion, so both are avoided.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import InvalidOperation
from typing import Any

from .blanks import no_text
from .errors import QbxmlError
from .records import Ref
from .values import parse_address, parse_ref

Fields = dict[str, int]
Handler = Callable[[Any, list[Any]], None]
Binder = Callable[[Fields], Handler]
TextConverter = tuple[str, Callable[[str], Any], str]
Spec = str | TextConverter | Binder
Table = dict[str, Spec]
Compiled = int | tuple[int, Callable[[str], Any], str] | Handler

# What the text converters raise for text that is not of their type (int, Decimal, the ISO
# date parsers, a dict lookup for booleans); translated into QbxmlError naming the element.
_CONVERSION_ERRORS = (TypeError, ValueError, KeyError, InvalidOperation)


class RefAt(int):
    """The position of a ``*Ref`` field: converted inline by ``fill`` (the commonest nested
    element, a few per record and per line)."""

    __slots__ = ()


_new = object.__new__


def fill(el: Any, specs: dict[str, Compiled], values: list[Any]) -> list[Any]:
    """Convert the children of ``el`` named in ``specs`` into ``values`` (by position)."""
    get = specs.get
    spec: Any = None
    try:
        for child in el:
            spec = get(child.tag)
            kind = spec.__class__
            # Plain text is by far the most common field, so it is tested first.
            if kind is int:
                values[spec] = child.text or no_text(child)
            elif kind is tuple:
                values[spec[0]] = spec[1](child.text)
            elif kind is RefAt:
                # parse_ref inlined: ListID then FullName is the schema order. Indexing is
                # cheaper than unpacking an element (which builds an iterator and a list).
                if len(child) == 2:
                    first = child[0]
                    if first.tag == "ListID":
                        out = _new(Ref)
                        out.list_id = first.text or no_text(first)
                        second = child[1]
                        out.full_name = second.text or no_text(second)
                        values[spec] = out
                        continue
                values[spec] = parse_ref(child)
            elif spec is not None:
                spec(child, values)
    except _CONVERSION_ERRORS:
        if spec.__class__ is not tuple:
            raise
        if child.text is None:
            no_text(child)  # the text may be whitespace the parser left out
        raise QbxmlError(f"<{child.tag}> is not a qbXML {spec[2]}: {child.text!r}") from None
    return values


def compile_table(spec_table: Table, fields: Fields) -> dict[str, Compiled]:
    """``spec_table`` with attribute names replaced by their positions in ``fields``."""
    out: dict[str, Compiled] = {}
    for tag, spec in spec_table.items():
        if isinstance(spec, str):
            out[tag] = fields[spec]
        elif isinstance(spec, tuple):
            attr, convert, what = spec
            out[tag] = (fields[attr], convert, what)
        else:
            out[tag] = spec(fields)
    return out


def field_positions(cls: type) -> tuple[Fields, list[Any], int]:
    """The positions of ``cls``'s ``__init__`` parameters, its default arguments, and how many
    parameters (the first ones) have no default.

    Required parameters get None in the defaults: the builder checks that they were filled.
    Passing a default positionally is the same as leaving the argument out, default factories
    included.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    init = cls.__init__  # type: ignore[misc]
    code = init.__code__
    if list(code.co_varnames[1 : code.co_argcount]) != names:
        raise TypeError(f"{cls.__name__}.__init__ does not take its fields in order")
    defaults = list(init.__defaults__ or ())
    required = len(names) - len(defaults)
    return {name: i for i, name in enumerate(names)}, [None] * required + defaults, required


def builder(cls: type, spec_table: Table, id_attr: str, **fixed: Any) -> Callable[[Any], Any]:
    """A function from a ``*Ret`` element to a ``cls`` record built by ``spec_table``.

    ``id_attr`` (list_id or txn_id) must be present and not empty; any other field without a
    default must be present.
    """
    fields, template, required_count = field_positions(cls)
    specs = compile_table(spec_table, fields)
    for name, value in fixed.items():
        template[fields[name]] = value
    id_position = fields[id_attr]
    id_name = "TxnID" if id_attr == "txn_id" else "ListID"
    required = [
        (position, "".join(part.title() for part in name.split("_")))
        for name, position in fields.items()
        if position < required_count and position != id_position and name not in fixed
    ]

    def build(el: Any) -> Any:
        values = fill(el, specs, template.copy())
        if not values[id_position]:
            raise QbxmlError(f"<{el.tag}> has no {id_name}")
        for position, element in required:
            if values[position] is None:
                raise QbxmlError(f"<{el.tag}> has no {element}")
        return cls(*values)

    return build


def parts(attr: str, cls: type, spec_table: Table) -> Binder:
    """A repeating child built by ``spec_table`` into a ``cls`` (lines, linked transactions),
    appended to the list ``attr``."""
    part_fields, template, _ = field_positions(cls)
    specs = compile_table(spec_table, part_fields)

    def bind(fields: Fields) -> Handler:
        position = fields[attr]

        def handle(child: Any, values: list[Any]) -> None:
            part = cls(*fill(child, specs, template.copy()))
            items = values[position]
            # Until the first item the position holds the field's default (factory) marker.
            if items.__class__ is list:
                items.append(part)
            else:
                values[position] = [part]

        return handle

    return bind


def ref(attr: str) -> Binder:
    """A ``*Ref`` element -> Ref (ListID and FullName, either may be absent)."""
    return lambda fields: RefAt(fields[attr])  # type: ignore[return-value]


def address(attr: str) -> Binder:
    """An address element -> Address."""

    def bind(fields: Fields) -> Handler:
        position = fields[attr]

        def handle(child: Any, values: list[Any]) -> None:
            values[position] = parse_address(child)

        return handle

    return bind


def appender(attr: str, convert: Callable[[Any], Any]) -> Binder:
    """A repeating child: ``convert(child)`` appended to the list ``attr``."""

    def bind(fields: Fields) -> Handler:
        position = fields[attr]

        def handle(child: Any, values: list[Any]) -> None:
            items = values[position]
            # Until the first item the position holds the field's default (factory) marker.
            if items.__class__ is list:
                items.append(convert(child))
            else:
                values[position] = [convert(child)]

        return handle

    return bind


def flattener(inner: Table) -> Binder:
    """A wrapper element whose children are fields of the enclosing record."""

    def bind(fields: Fields) -> Handler:
        specs = compile_table(inner, fields)

        def handle(child: Any, values: list[Any]) -> None:
            fill(child, specs, values)

        return handle

    return bind
