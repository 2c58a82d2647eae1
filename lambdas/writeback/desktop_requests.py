"""The qbXML requests of Desktop write-back: an operation's Add/Mod and the queries around it.

Every write carries the operation id as its ``requestID``, so an answer (or a recovered one)
names its operation. Customer fields travel flat (``CUSTOMER_FIELDS``); here they become the
``CustomerData`` of the builders, the street split back into Addr1..Addr4 within QuickBooks'
41 characters. Values QuickBooks would refuse (too long, not ISO-8859-1) raise QbxmlError from
the builders before anything is sent.
"""

from __future__ import annotations

import textwrap
from collections.abc import Collection, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qbxml import (
    Address,
    CustomerAdd,
    CustomerData,
    CustomerMod,
    CustomerQuery,
    InvoiceAdd,
    InvoiceData,
    InvoiceLineData,
    InvoiceQuery,
    QbxmlError,
    Ref,
)
from qbxml.records import Customer

from .model import ADDRESS_PARTS, CUSTOMER_FIELDS, PLAIN_FIELDS, STREET_SEPARATOR, WriteOp

ADDRESS_LINE = 41  # Addr1..Addr4 (qbxml/requests/writes.py ADDRESS_FIELDS)
ADDRESS_LINES = 4
NO_INVOICE_ITEM = "set an invoice item: qbrelay tenant set {tenant} --invoice-item NAME"


class WriteRefused(ValueError):
    """An operation that cannot become a valid request; the message is shown on ZOHO."""


def query_id(op_id: str) -> str:
    """The requestID of a query made for operation ``op_id`` (distinct from its write's)."""
    return f"q-{op_id}"


def split_street(street: str) -> tuple[str, ...]:
    """Addr lines of a joined street: its parts one a line while they fit (so an address read
    from QuickBooks goes back as it was), else packed, a part longer than a line wrapped.
    QbxmlError when it cannot fit in four lines of 41 characters."""
    parts = [p.strip() for line in street.splitlines() for p in line.split(STREET_SEPARATOR)]
    parts = [p for p in parts if p]
    if len(parts) <= ADDRESS_LINES and all(len(p) <= ADDRESS_LINE for p in parts):
        return tuple(parts)
    lines: list[str] = []
    for part in parts:
        for chunk in textwrap.wrap(part, ADDRESS_LINE) or [part]:
            if lines and len(lines[-1]) + len(STREET_SEPARATOR) + len(chunk) <= ADDRESS_LINE:
                lines[-1] += STREET_SEPARATOR + chunk
            else:
                lines.append(chunk)
    if len(lines) > ADDRESS_LINES or any(len(line) > ADDRESS_LINE for line in lines):
        raise QbxmlError(
            f"the street {street[:60]!r} does not fit in QuickBooks' {ADDRESS_LINES} address "
            f"lines of {ADDRESS_LINE} characters"
        )
    return tuple(lines)


def _address(fields: Mapping[str, Any], prefix: str, adding: bool) -> Address:
    street = split_street(str(fields.get(f"{prefix}.street") or ""))
    lines = [*street, *([""] * (ADDRESS_LINES - len(street)))]
    values = {p: str(fields.get(f"{prefix}.{p}") or "") for p in ADDRESS_PARTS if p != "street"}
    values.update(zip(("addr1", "addr2", "addr3", "addr4"), lines, strict=True))
    # An Add leaves empty parts out; a Mod sends them empty, which clears them.
    return Address(**{k: v for k, v in values.items() if v or not adding})


def customer_data(fields: Mapping[str, Any], only: Collection[str] | None = None) -> CustomerData:
    """CustomerData of the flat fields; ``only`` (a Mod) limits it to those fields, an address
    going whole when any part of it is named (QuickBooks replaces the address it is given).
    An empty value clears the field in a Mod; an Add leaves empty fields out."""
    names = set(CUSTOMER_FIELDS if only is None else only)
    adding = only is None
    values: dict[str, Any] = {}
    for name in PLAIN_FIELDS:
        if name in names and name in fields:
            text = str(fields.get(name) or "")
            if text or not adding:
                values[name] = text
    for prefix in ("bill_address", "ship_address"):
        touched = {f"{prefix}.{p}" for p in ADDRESS_PARTS} & names
        if touched and (not adding or any(fields.get(f) for f in touched)):
            values[prefix] = _address(fields, prefix, adding)
    return CustomerData(**values)


def customer_add(op: WriteOp) -> CustomerAdd:
    """The CustomerAdd of an ADD operation."""
    if not str(op.fields.get("name") or "").strip():
        raise WriteRefused("the account has no name to give the QuickBooks customer")
    return CustomerAdd(op.op_id, customer_data(op.fields))


def customer_mod(
    request_id: str, list_id: str, edit_sequence: str, fields: Mapping[str, Any]
) -> CustomerMod:
    """A CustomerMod that sets exactly ``fields`` (flat names) on customer ``list_id``."""
    return CustomerMod(request_id, list_id, edit_sequence, customer_data(fields, set(fields)))


def changed_fields(op: WriteOp) -> dict[str, str]:
    """The fields ZOHO changed since the operation's base (what a Mod must write)."""
    return {
        name: str(value or "")
        for name, value in op.fields.items()
        if name in CUSTOMER_FIELDS and str(value or "") != str(op.base.get(name) or "")
    }


def customer_values(customer: Customer) -> dict[str, str]:
    """The flat CUSTOMER_FIELDS of a QuickBooks customer (to compare with ZOHO's)."""
    out = {name: str(getattr(customer, name, None) or "") for name in PLAIN_FIELDS}
    for prefix in ("bill_address", "ship_address"):
        address = getattr(customer, prefix, None) or Address()
        lines = [address.addr1, address.addr2, address.addr3, address.addr4]
        out[f"{prefix}.street"] = STREET_SEPARATOR.join(x for x in lines if x)
        for part in ADDRESS_PARTS[1:]:
            out[f"{prefix}.{part}"] = str(getattr(address, part, None) or "")
    return out


def find_customer_by_name(op: WriteOp) -> CustomerQuery:
    """The customer named as the operation's account (a 3100 link, a lost Add)."""
    name = str(op.fields.get("name") or "")
    return CustomerQuery(request_id=query_id(op.op_id), active_status=None, full_names=(name,))


def find_customer_by_id(request_id: str, list_id: str) -> CustomerQuery:
    """The customer as QuickBooks holds it now (a 3200, a lost Mod)."""
    return CustomerQuery(request_id=request_id, active_status=None, list_ids=(list_id,))


def invoice_marker(op: WriteOp) -> str:
    """What an invoice's memo carries to name the operation that made it."""
    return f"[{op.op_id}]"


def invoice_add(op: WriteOp, customer_list_id: str, invoice_item: str, tenant: str) -> InvoiceAdd:
    """The InvoiceAdd of an INVOICE operation (see wb-iface: fields of a deal)."""
    fields = op.fields
    lines = tuple(_line(line, index) for index, line in enumerate(fields.get("lines") or (), 1))
    memo_name = str(fields.get("memo") or "").strip()
    if not lines:
        if not invoice_item:
            raise WriteRefused(NO_INVOICE_ITEM.format(tenant=tenant))
        lines = (
            InvoiceLineData(
                item=Ref(full_name=invoice_item),
                desc=memo_name or None,
                amount=_money(fields.get("amount"), "amount"),
            ),
        )
    marker = invoice_marker(op)
    # The marker must survive the memo's limit whole: the deal name gives way.
    memo = f"{memo_name[: 4095 - len(marker) - 1]} {marker}".strip()
    data = InvoiceData(
        customer=Ref(list_id=customer_list_id),
        txn_date=_day(fields.get("txn_date")),
        memo=memo,
        lines=lines,
    )
    return InvoiceAdd(op.op_id, data)


def find_invoice(op: WriteOp, customer_list_id: str, since: datetime) -> InvoiceQuery:
    """The customer's invoices modified since ``since`` (a lost InvoiceAdd's candidates)."""
    return InvoiceQuery(
        request_id=query_id(op.op_id),
        from_modified=since,
        entity_list_ids=(customer_list_id,),
        include_line_items=True,
        include_linked_txns=True,
    )


def _line(line: Any, index: int) -> InvoiceLineData:
    if not isinstance(line, Mapping) or not str(line.get("item") or "").strip():
        raise WriteRefused(f"invoice line {index} names no QuickBooks item")
    quantity = line.get("quantity")
    rate = line.get("rate")
    return InvoiceLineData(
        item=Ref(full_name=str(line["item"])),
        desc=str(line.get("description") or "") or None,
        quantity=_number(quantity, f"line {index} quantity")
        if quantity not in (None, "")
        else None,
        rate=_number(rate, f"line {index} rate") if rate not in (None, "") else None,
        amount=(
            _money(line.get("amount"), f"line {index} amount")
            if rate in (None, "") and line.get("amount") not in (None, "")
            else None
        ),
    )


def _number(value: Any, name: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise WriteRefused(f"the invoice's {name} is not a number: {value!r}") from None
    if not number.is_finite():
        raise WriteRefused(f"the invoice's {name} is not a number: {value!r}")
    return number


def _money(value: Any, name: str) -> Decimal:
    if value in (None, ""):
        raise WriteRefused(f"the invoice has no {name}")
    number = _number(value, name)
    cents = number.quantize(Decimal("0.01"))
    if cents != number:
        raise WriteRefused(f"the invoice's {name} has more than two decimals: {value}")
    return cents


def _day(value: Any) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise WriteRefused(f"the invoice date is not a date: {value!r}") from None
