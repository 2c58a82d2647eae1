"""Streaming parser for qbXML response message sets.

The input is fed to lxml's pull parser in chunks. After each chunk, every ``*Ret`` element that
is certainly complete (it has a following sibling, or its response or the document ended) is
converted to a record and unlinked from the tree, so a large response is never held as a tree
and as records at the same time, and the tree never holds more than about one chunk.

``stream_response`` is the lowest level: each ``Response`` header followed by its records, with
nothing kept. ``iter_responses`` gathers each response's records; ``parse_response`` (the
contract entry point) returns them all.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from lxml import etree

from .blanks import BlankDroppingParser, BlankTextDropped, may_drop_blanks
from .errors import QbxmlError
from .records import Customer, GenericRecord, Record
from .rets import RET_BUILDERS, generic_fields, parse_record
from .status import StatusClass, classify
from .values import (
    parse_address,
    parse_bool,
    parse_custom_field,
    parse_datetime,
    parse_int,
    parse_money,
    parse_ref,
)

_ENCODING_DECL = re.compile(rb"^(\s*<\?xml[^>]*?)encoding=[\"'][^\"']*[\"']")
_MSGS = "QBXMLMsgsRs"


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
    """A parsed ``QBXMLMsgsRs``: its responses in message-set order.

    ``new_message_set_id`` / ``message_set_status_code``: the error-recovery attributes of the
    answer to a message set sent with a ``newMessageSetID`` (None when QuickBooks set none).
    """

    responses: list[Response]
    new_message_set_id: str | None = None
    message_set_status_code: int | None = None


def _to_bytes(data: bytes | str) -> bytes:
    if isinstance(data, str):
        # The text came out of a SOAP envelope already decoded; re-encode it as what it now is.
        return _ENCODING_DECL.sub(rb'\1encoding="utf-8"', data.encode("utf-8"), count=1)
    return data


def _check_not_empty(raw: bytes) -> None:
    # isspace() stops at the first other byte; strip() would copy the whole response first.
    if not raw or raw.isspace():
        raise QbxmlError("empty qbXML response")


def _refuse_dtd(tree: Any) -> None:
    """Refuse a document that has a DTD, judged from the parsed document (not the text).

    qbXML never has one, and entities declared in one could expand without bound. lxml keeps
    the DOCTYPE in ``docinfo`` however it was reached: after comments, processing instructions
    or odd spacing, which a scan of the text before the first element could be fooled by.
    """
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise QbxmlError("qbXML response contains a DOCTYPE or entity declaration")


def _int_attr(el: Any, name: str) -> int | None:
    value = el.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise QbxmlError(f"<{el.tag}> has a non-integer {name}={value!r}") from exc


def _header(el: Any) -> Response:
    tag = el.tag
    if not isinstance(tag, str) or not tag.endswith("Rs"):
        raise QbxmlError(f"<{_MSGS}> holds <{tag}>, which is not a response element")
    code = _int_attr(el, "statusCode")
    if code is None:
        raise QbxmlError(f"<{tag}> has no statusCode")
    return Response(
        request_type=tag.removesuffix("Rs"),
        request_id=el.get("requestID") or None,
        status_code=code,
        status_severity=el.get("statusSeverity", ""),
        status_message=el.get("statusMessage", ""),
        iterator_id=el.get("iteratorID") or None,
        iterator_remaining_count=_int_attr(el, "iteratorRemainingCount"),
        ret_count=_int_attr(el, "retCount"),
    )


CHUNK_SIZE = 1 << 16


class _Walker:
    """Turns the partially built tree into items, unlinking whatever it has converted."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything read: the document is read again from its start."""
        self.root: Any = None
        self.msgs: Any = None
        self.open_rs: Any = None  # the response whose header was yielded last
        self.attrs: dict[str, str] = {}  # the attributes of <QBXMLMsgsRs>

    def on_start(self, el: Any) -> None:
        if el.tag == "QBXML":
            if self.root is None:
                # A DTD can only come before the root element, so it is known by now: refuse
                # it before any record is yielded.
                _refuse_dtd(el.getroottree())
                self.root = el
            return
        if self.msgs is not None or self.root is None or el.getparent() is not self.root:
            raise QbxmlError(f"<{_MSGS}> must appear once, directly under <QBXML>")
        self.msgs = el
        self.attrs = dict(el.attrib)

    def items(self, final: bool) -> Iterator[Response | Record]:
        """Yield what is complete; with ``final`` the document has ended and all of it is."""
        msgs = self.msgs
        if msgs is None:
            return
        while len(msgs):
            rs = msgs[0]
            rs_done = final or len(msgs) > 1
            if rs is not self.open_rs:
                self.open_rs = rs
                yield _header(rs)
            # The last child of a response still being parsed may be incomplete.
            ready = len(rs) if rs_done else len(rs) - 1
            if ready > 0:
                for el in rs[:ready]:
                    build = RET_BUILDERS.get(el.tag)
                    yield build(el) if build is not None else parse_record(el)
                del rs[:ready]
            if not rs_done:
                return
            del msgs[0]
            self.open_rs = None


def stream_response(data: bytes | str) -> Iterator[Response | Record]:
    """Yield each response header, then that response's records, as they are parsed.

    The headers' ``records`` lists stay empty: nothing is kept, so memory stays flat however
    large the response. Raises QbxmlError for anything that is not a well-formed qbXML response
    message set (possibly after earlier items were yielded).
    """
    return _stream(data, _Walker())


def _stream(data: bytes | str, walker: _Walker) -> Iterator[Response | Record]:
    raw = _to_bytes(data)
    _check_not_empty(raw)
    if not may_drop_blanks(raw):
        yield from _parse(raw, walker, etree.XMLPullParser)
        return
    done = 0
    try:
        for item in _parse(raw, walker, BlankDroppingParser):
            yield item
            done += 1
    except BlankTextDropped:
        # An element read as text holds elements (see qbxml.blanks): start again keeping blank
        # text. The items already yielded come out the same, so they are skipped.
        walker.reset()
        yield from islice(_parse(raw, walker, etree.XMLPullParser), done, None)


def _parse(raw: bytes, walker: _Walker, parser_class: type) -> Iterator[Response | Record]:
    # Start events only for the two envelope elements (the filter runs in C); records are read
    # from the tree between feeds, so the many field elements cost no Python events at all.
    parser = parser_class(
        events=("start",),
        tag=("QBXML", _MSGS),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        remove_blank_text=parser_class is BlankDroppingParser,
    )
    try:
        offset = 0
        while offset < len(raw):
            end = offset + CHUNK_SIZE
            # libxml2 tells blank text by the two characters after it: keep them together.
            if raw[end - 1 : end] == b"<":
                end += 1
            parser.feed(raw[offset:end])
            offset = end
            for _, el in parser.read_events():
                walker.on_start(el)
            yield from walker.items(final=False)
        root = parser.close()
        for _, el in parser.read_events():
            walker.on_start(el)
    except etree.XMLSyntaxError as exc:
        raise QbxmlError(f"qbXML response is not well-formed XML: {exc.msg}") from exc
    if root is not None:
        # Another root than <QBXML> raised no event: its DTD is refused here, first.
        _refuse_dtd(root.getroottree())
    if root is None or root.tag != "QBXML":
        found = "nothing" if root is None else f"<{root.tag}>"
        raise QbxmlError(f"qbXML response root is {found}, expected <QBXML>")
    if walker.msgs is None:
        raise QbxmlError(f"<QBXML> holds no <{_MSGS}>")
    yield from walker.items(final=True)


def iter_responses(data: bytes | str) -> Iterator[Response]:
    """Yield each response of a qbXML message set, with its records, once it is complete."""
    return _gather(stream_response(data))


def _gather(items: Iterator[Response | Record]) -> Iterator[Response]:
    current: Response | None = None
    for item in items:
        if isinstance(item, Response):
            if current is not None:
                yield current
            current = item
        else:
            current.records.append(item)  # type: ignore[union-attr]
    if current is not None:
        yield current


def parse_response(data: bytes | str) -> ResponseSet:
    """Parse a qbXML response message set; the contract entry point of this library."""
    # Keeping thousands of new records alive makes the cyclic garbage collector run over and
    # over, each time walking every record made so far (a third of the parse time for a large
    # response). Records hold no reference cycles, so the collector is paused while they are
    # built; the temporary objects of parsing are freed by reference counting as usual.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        walker = _Walker()
        responses = list(_gather(_stream(data, walker)))
        status = walker.attrs.get("messageSetStatusCode")
        try:
            code = int(status) if status not in (None, "") else None
        except ValueError as exc:
            raise QbxmlError(f"<{_MSGS}> has a non-integer messageSetStatusCode") from exc
        return ResponseSet(
            responses=responses,
            new_message_set_id=walker.attrs.get("newMessageSetID") or None,
            message_set_status_code=code,
        )
    finally:
        if was_enabled:
            gc.enable()


def parse_customer(el: Any) -> Customer:
    """Convert one ``CustomerRet`` element."""
    return RET_BUILDERS["CustomerRet"](el)  # type: ignore[return-value]


__all__ = [
    "GenericRecord",
    "Response",
    "ResponseSet",
    "generic_fields",
    "iter_responses",
    "parse_address",
    "parse_bool",
    "parse_custom_field",
    "parse_customer",
    "parse_datetime",
    "parse_int",
    "parse_money",
    "parse_record",
    "parse_ref",
    "parse_response",
    "stream_response",
]
