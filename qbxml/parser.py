"""Streaming parser for qbXML response message sets.

``iter_responses`` yields each ``*Rs`` with its records converted as soon as each ``*Ret`` element
closes; the element is then cleared, so a large response is never held as a tree and as records
at the same time. ``parse_response`` is the list form most callers want.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from .errors import QbxmlError
from .records import Address, Customer, CustomField, GenericRecord, Record, Ref
from .status import StatusClass, classify

_ENCODING_DECL = re.compile(rb"^(\s*<\?xml[^>]*?)encoding=[\"'][^\"']*[\"']")
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


@dataclass(slots=True)
class Response:
    """One ``*Rs`` element of a response message set."""

    request_type: str
    request_id: str | None
    status_code: int
    status_severity: str
    status_message: str
    iterator_id: str | None = None
    iterator_remaining_count: int | None = None
    ret_count: int | None = None
    records: list[Record] = field(default_factory=list)

    @property
    def status_class(self) -> StatusClass:
        """What the status code means for a sync (see ``qbxml.status``)."""
        return classify(self.status_code)


@dataclass(slots=True)
class ResponseSet:
    """A parsed ``QBXMLMsgsRs``: its responses in message-set order."""

    responses: list[Response]


def _to_bytes(data: bytes | str) -> bytes:
    if isinstance(data, str):
        # The text came out of a SOAP envelope already decoded; re-encode it as what it now is.
        return _ENCODING_DECL.sub(rb'\1encoding="utf-8"', data.encode("utf-8"), count=1)
    return data


def _int_attr(el: Any, name: str) -> int | None:
    value = el.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise QbxmlError(f"{el.tag} has a non-integer {name}={value!r}") from exc


def iter_responses(data: bytes | str) -> Iterator[Response]:
    """Yield each response of a qbXML message set as soon as it is complete.

    Raises QbxmlError for anything that is not a well-formed qbXML response message set.
    """
    raw = _to_bytes(data)
    if not raw.strip():
        raise QbxmlError("empty qbXML response")
    if _DOCTYPE.search(raw):
        raise QbxmlError("qbXML response contains a DOCTYPE or entity declaration")
    events = etree.iterparse(
        io.BytesIO(raw),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth = 0
    current: Response | None = None
    try:
        for event, el in events:
            if event == "start":
                depth += 1
                if depth == 1 and el.tag != "QBXML":
                    raise QbxmlError(f"root element is <{el.tag}>, expected <QBXML>")
                if depth == 2 and el.tag != "QBXMLMsgsRs":
                    raise QbxmlError(f"<QBXML> holds <{el.tag}>, expected <QBXMLMsgsRs>")
                if depth == 3:
                    current = _start_response(el)
                continue
            depth -= 1
            if depth == 3 and current is not None:
                current.records.append(parse_record(el))
                el.clear(keep_tail=False)
                parent = el.getparent()
                while parent is not None and el.getprevious() is not None:
                    del parent[0]
            elif depth == 2 and current is not None:
                yield current
                current = None
                el.clear(keep_tail=False)
    except etree.XMLSyntaxError as exc:
        raise QbxmlError(f"qbXML response is not well-formed XML: {exc.msg}") from exc
    if depth != 0:
        raise QbxmlError("qbXML response ended early")


def _start_response(el: Any) -> Response:
    if not el.tag.endswith("Rs"):
        raise QbxmlError(f"<QBXMLMsgsRs> holds <{el.tag}>, which is not a response element")
    code = _int_attr(el, "statusCode")
    if code is None:
        raise QbxmlError(f"<{el.tag}> has no statusCode")
    return Response(
        request_type=el.tag.removesuffix("Rs"),
        request_id=el.get("requestID") or None,
        status_code=code,
        status_severity=el.get("statusSeverity", ""),
        status_message=el.get("statusMessage", ""),
        iterator_id=el.get("iteratorID") or None,
        iterator_remaining_count=_int_attr(el, "iteratorRemainingCount"),
        ret_count=_int_attr(el, "retCount"),
    )


def parse_response(data: bytes | str) -> ResponseSet:
    """Parse a qbXML response message set; the contract entry point of this library."""
    return ResponseSet(responses=list(iter_responses(data)))


# --- value helpers -------------------------------------------------------------------------------


def parse_datetime(text: str) -> datetime:
    """QuickBooks datetimes carry an offset; a zone-less one is taken as UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise QbxmlError(f"not a qbXML datetime: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_money(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise QbxmlError(f"not a qbXML amount: {text!r}") from exc


def parse_bool(text: str) -> bool:
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise QbxmlError(f"not a qbXML boolean: {text!r}")


def parse_int(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise QbxmlError(f"not a qbXML integer: {text!r}") from exc


def _text(el: Any) -> str:
    return el.text or ""


def parse_ref(el: Any) -> Ref:
    list_id = full_name = None
    for child in el:
        if child.tag == "ListID":
            list_id = _text(child)
        elif child.tag == "FullName":
            full_name = _text(child)
    return Ref(list_id=list_id, full_name=full_name)


_ADDRESS_FIELDS = {
    "Addr1": "addr1",
    "Addr2": "addr2",
    "Addr3": "addr3",
    "Addr4": "addr4",
    "Addr5": "addr5",
    "City": "city",
    "State": "state",
    "PostalCode": "postal_code",
    "Country": "country",
    "Note": "note",
}


def parse_address(el: Any) -> Address:
    values = {_ADDRESS_FIELDS[c.tag]: _text(c) for c in el if c.tag in _ADDRESS_FIELDS}
    return Address(**values)


def parse_custom_field(el: Any) -> CustomField:
    values = {c.tag: _text(c) for c in el}
    return CustomField(
        owner_id=values.get("OwnerID", ""),
        name=values.get("DataExtName", ""),
        type=values.get("DataExtType"),
        value=values.get("DataExtValue"),
    )


# CustomerRet child element -> (attribute, converter). Unlisted children are ignored on purpose:
# they are read-only details the CRM mapping does not use.
_CUSTOMER_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "ListID": ("list_id", _text),
    "TimeCreated": ("time_created", lambda e: parse_datetime(_text(e))),
    "TimeModified": ("time_modified", lambda e: parse_datetime(_text(e))),
    "EditSequence": ("edit_sequence", _text),
    "Name": ("name", _text),
    "FullName": ("full_name", _text),
    "IsActive": ("is_active", lambda e: parse_bool(_text(e))),
    "ParentRef": ("parent", parse_ref),
    "Sublevel": ("sublevel", lambda e: parse_int(_text(e))),
    "CompanyName": ("company_name", _text),
    "Salutation": ("salutation", _text),
    "FirstName": ("first_name", _text),
    "MiddleName": ("middle_name", _text),
    "LastName": ("last_name", _text),
    "JobTitle": ("job_title", _text),
    "BillAddress": ("bill_address", parse_address),
    "ShipAddress": ("ship_address", parse_address),
    "Phone": ("phone", _text),
    "AltPhone": ("alt_phone", _text),
    "Fax": ("fax", _text),
    "Email": ("email", _text),
    "Cc": ("cc", _text),
    "Contact": ("contact", _text),
    "AltContact": ("alt_contact", _text),
    "CustomerTypeRef": ("customer_type", parse_ref),
    "TermsRef": ("terms", parse_ref),
    "SalesRepRef": ("sales_rep", parse_ref),
    "Balance": ("balance", lambda e: parse_money(_text(e))),
    "TotalBalance": ("total_balance", lambda e: parse_money(_text(e))),
    "AccountNumber": ("account_number", _text),
    "CreditLimit": ("credit_limit", lambda e: parse_money(_text(e))),
    "Notes": ("notes", _text),
}


def parse_customer(el: Any) -> Customer:
    values: dict[str, Any] = {}
    custom: list[CustomField] = []
    for child in el:
        if child.tag == "DataExtRet":
            custom.append(parse_custom_field(child))
            continue
        spec = _CUSTOMER_FIELDS.get(child.tag)
        if spec is not None:
            values[spec[0]] = spec[1](child)
    if not values.get("list_id"):
        raise QbxmlError("CustomerRet without a ListID")
    return Customer(custom_fields=custom, **values)


def _generic(el: Any) -> Any:
    if len(el) == 0:
        return el.text or ""
    out: dict[str, Any] = {}
    for child in el:
        value = _generic(child)
        if child.tag in out:
            existing = out[child.tag]
            out[child.tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[child.tag] = value
    return out


_RECORD_PARSERS: dict[str, Callable[[Any], Record]] = {"CustomerRet": parse_customer}


def parse_record(el: Any) -> Record:
    """Convert one ``*Ret`` element into its canonical record."""
    parser = _RECORD_PARSERS.get(el.tag)
    if parser is not None:
        return parser(el)
    fields = _generic(el)
    return GenericRecord(kind=el.tag, fields=fields if isinstance(fields, dict) else {})
