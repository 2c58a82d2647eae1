"""qbXML request builders: correct by construction.

Each request type is a dataclass that renders its ``*Rq`` element with children in the order the
13.0 schema requires. ``build_message_set`` wraps them with the XML and qbXML declarations,
``onError`` and a ``requestID`` on every request. Text goes through lxml (escaped) and through
``qbxml.text.to_qb_text`` (ISO-8859-1 only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from lxml import etree

from .errors import FieldTooLongError, QbxmlError
from .text import to_qb_text
from .versions import MAX_VERSION, QbxmlVersion

OnError = Literal["stopOnError", "continueOnError"]
Iterator = Literal["Start", "Continue", "Stop"]
ActiveStatus = Literal["ActiveOnly", "InactiveOnly", "All"]

MAX_REQUEST_ID = 50


class Request(Protocol):
    """Anything that renders one ``*Rq`` element."""

    request_id: str

    def to_element(self, version: QbxmlVersion) -> Any: ...


def sub_text(parent: Any, tag: str, value: str, max_length: int | None = None) -> Any:
    """Append ``<tag>value</tag>`` with the QuickBooks text rule and length limit applied."""
    text = to_qb_text(value)
    if max_length is not None and len(text) > max_length:
        raise FieldTooLongError(tag, max_length, len(text))
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def format_datetime(value: datetime) -> str:
    """DATETIMETYPE: seconds precision, with the offset when the value carries one."""
    return value.replace(microsecond=0).isoformat()


def _check_request_id(request_id: str) -> None:
    if not request_id:
        raise QbxmlError("every request needs a requestID")
    if len(request_id) > MAX_REQUEST_ID:
        raise FieldTooLongError("requestID", MAX_REQUEST_ID, len(request_id))


def _iterator_attrs(el: Any, iterator: Iterator | None, iterator_id: str | None) -> None:
    if iterator is None:
        if iterator_id is not None:
            raise QbxmlError("iteratorID given without iterator")
        return
    if iterator in ("Continue", "Stop") and not iterator_id:
        raise QbxmlError(f'iterator="{iterator}" needs the iteratorID of the running query')
    if iterator == "Start" and iterator_id:
        raise QbxmlError('iterator="Start" must not carry an iteratorID')
    el.set("iterator", iterator)
    if iterator_id:
        el.set("iteratorID", iterator_id)


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """``CustomerQueryRq`` with the filters an incremental sync uses."""

    request_id: str
    max_returned: int | None = None
    iterator: Iterator | None = None
    iterator_id: str | None = None
    active_status: ActiveStatus | None = "All"
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    include_ret_elements: tuple[str, ...] = ()
    # "0" asks for the public custom fields as DataExtRet.
    owner_ids: tuple[str, ...] = ("0",)

    def to_element(self, version: QbxmlVersion) -> Any:
        _check_request_id(self.request_id)
        el = etree.Element("CustomerQueryRq", requestID=self.request_id)
        _iterator_attrs(el, self.iterator, self.iterator_id)
        if self.max_returned is not None:
            if self.max_returned < 1:
                raise QbxmlError("MaxReturned must be at least 1")
            sub_text(el, "MaxReturned", str(self.max_returned))
        if self.active_status is not None:
            sub_text(el, "ActiveStatus", self.active_status)
        if self.from_modified is not None:
            sub_text(el, "FromModifiedDate", format_datetime(self.from_modified))
        if self.to_modified is not None:
            sub_text(el, "ToModifiedDate", format_datetime(self.to_modified))
        for name in self.include_ret_elements:
            sub_text(el, "IncludeRetElement", name, max_length=50)
        for owner in self.owner_ids:
            sub_text(el, "OwnerID", owner)
        return el


@dataclass(frozen=True, slots=True)
class HostQuery:
    """``HostQueryRq``: product, version and the qbXML versions QuickBooks supports."""

    request_id: str

    def to_element(self, version: QbxmlVersion) -> Any:
        _check_request_id(self.request_id)
        return etree.Element("HostQueryRq", requestID=self.request_id)


@dataclass(frozen=True, slots=True)
class CompanyQuery:
    """``CompanyQueryRq``; owner_ids selects which private data extensions come back."""

    request_id: str
    owner_ids: tuple[str, ...] = ()

    def to_element(self, version: QbxmlVersion) -> Any:
        _check_request_id(self.request_id)
        el = etree.Element("CompanyQueryRq", requestID=self.request_id)
        for owner in self.owner_ids:
            sub_text(el, "OwnerID", owner)
        return el


@dataclass(frozen=True, slots=True)
class PreferencesQuery:
    """``PreferencesQueryRq``."""

    request_id: str

    def to_element(self, version: QbxmlVersion) -> Any:
        _check_request_id(self.request_id)
        return etree.Element("PreferencesQueryRq", requestID=self.request_id)


def build_message_set(
    requests: Sequence[Request],
    version: QbxmlVersion = MAX_VERSION,
    on_error: OnError = "stopOnError",
) -> str:
    """Render a complete qbXML request document for the negotiated ``version``."""
    if not requests:
        raise QbxmlError("a message set needs at least one request")
    ids = [r.request_id for r in requests]
    if len(set(ids)) != len(ids):
        raise QbxmlError("requestIDs in one message set must be unique")
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq", onError=on_error)
    for request in requests:
        msgs.append(request.to_element(version))
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n{body}'
