"""What every request builder shares: the text rule, limits, version gates, the message set.

Version gates: each optional element a builder can emit names the qbXML version that introduced
it (``Since``). Below that version an element the caller asked for explicitly is refused with a
QbxmlError naming it and the version; an element the builder would only add by default is left
out. Sources for the versions: the per-element annotations (``v8.0``, ``v12.0`` ...) of Intuit's
qbXML sample files for every spec 2.0 to 13.0 (``qbxmlopsNN.xml``, as collected in the public
qbwc/qbxml repository), cross-checked by the element's presence in each version's file; where
an element has no annotation it dates from the request type's own version.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from lxml import etree

from ..errors import FieldTooLongError, QbxmlError
from ..text import to_qb_text
from ..versions import MAX_VERSION, QbxmlVersion

OnError = Literal["stopOnError", "continueOnError"]
Iterator = Literal["Start", "Continue", "Stop"]
ActiveStatus = Literal["ActiveOnly", "InactiveOnly", "All"]

MAX_REQUEST_ID = 50  # longer IDs are refused with status 1060
# GUIDTYPE (qbxmltypes130.xsd): "0" or a braced GUID.
_GUID = re.compile(r"0|\{[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\}")
MAX_INCLUDE_RET_ELEMENT = 50


def v(text: str) -> QbxmlVersion:
    """A version constant, e.g. ``v("12.0")``."""
    return QbxmlVersion.parse(text)


# Versions the builders rely on (see the module docstring for the source).
V2_0 = v("2.0")  # OwnerID, ListDeletedQuery, TxnDeletedQuery, DataExtAdd/DataExtDefAdd
V4_0 = v("4.0")  # IncludeRetElement
V5_0 = v("5.0")  # iterator / iteratorID attributes


class Request(Protocol):
    """Anything that renders one ``*Rq`` element."""

    request_id: str

    def to_element(self, version: QbxmlVersion) -> Any: ...


def sub_text(
    parent: Any, tag: str, value: str, max_length: int | None = None, label: str | None = None
) -> Any:
    """Append ``<tag>value</tag>`` with the QuickBooks text rule and length limit applied.

    ``label`` names the field in a FieldTooLongError when the tag alone is ambiguous
    (``BillAddress/City``).
    """
    if not isinstance(value, str):
        raise QbxmlError(f"{label or tag} needs text, not {value!r}")
    text = to_qb_text(value)
    if max_length is not None and len(text) > max_length:
        raise FieldTooLongError(label or tag, max_length, len(text))
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def format_datetime(value: datetime) -> str:
    """DATETIMETYPE: seconds precision, with the offset when the value carries one."""
    return value.replace(microsecond=0).isoformat()


def format_value(value: str | bool | int | Decimal | datetime | date) -> str:
    """The qbXML text of a typed value (BOOLTYPE, INTTYPE, AMTTYPE, DATETYPE, DATETIMETYPE)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def supports(version: QbxmlVersion, since: QbxmlVersion, element: str, explicit: bool) -> bool:
    """Whether ``element`` may be sent at ``version``.

    False (leave it out) for an element the builder adds by default; QbxmlError for one the
    caller asked for, so a request never silently loses what it was meant to carry.
    """
    if version >= since:
        return True
    if explicit:
        raise QbxmlError(
            f"{element} needs qbXML {since} or newer; this session speaks qbXML {version}"
        )
    return False


def check_guid(value: str, name: str) -> str:
    """``value`` when it is a GUIDTYPE ("0" or "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}")."""
    if not isinstance(value, str) or not _GUID.fullmatch(value):
        raise QbxmlError(f'{name} must be "0" or a braced GUID, not {value!r}')
    return value


def check_request_id(request_id: str) -> None:
    """Every request carries a requestID of 1 to 50 characters."""
    if not request_id:
        raise QbxmlError("every request needs a requestID")
    if len(request_id) > MAX_REQUEST_ID:
        raise FieldTooLongError("requestID", MAX_REQUEST_ID, len(request_id))


def start_request(tag: str, request_id: str) -> Any:
    """The ``<tag requestID=...>`` element, the ID checked."""
    check_request_id(request_id)
    if to_qb_text(request_id) != request_id:
        # QuickBooks would echo a different ID and the response could not be matched.
        raise QbxmlError(f"requestID {request_id!r} has characters QuickBooks cannot store")
    return etree.Element(tag, requestID=request_id)


def iterator_attrs(
    el: Any, iterator: Iterator | None, iterator_id: str | None, version: QbxmlVersion
) -> None:
    """Set ``iterator``/``iteratorID`` after checking they make sense together."""
    if iterator is None:
        if iterator_id is not None:
            raise QbxmlError("iteratorID given without iterator")
        return
    if iterator not in ("Start", "Continue", "Stop"):
        raise QbxmlError(f"iterator must be Start, Continue or Stop, not {iterator!r}")
    supports(version, V5_0, "iterator", explicit=True)
    if iterator in ("Continue", "Stop") and not iterator_id:
        raise QbxmlError(f'iterator="{iterator}" needs the iteratorID of the running query')
    if iterator == "Start" and iterator_id:
        raise QbxmlError('iterator="Start" must not carry an iteratorID')
    el.set("iterator", iterator)
    if iterator_id:
        el.set("iteratorID", iterator_id)


def max_returned(el: Any, value: int | None) -> None:
    """``MaxReturned`` (at least 1) when given."""
    if value is None:
        return
    if value < 1:
        raise QbxmlError("MaxReturned must be at least 1")
    sub_text(el, "MaxReturned", str(value))


def include_ret_elements(el: Any, names: Sequence[str], version: QbxmlVersion) -> None:
    """``IncludeRetElement`` for each name (qbXML 4.0+)."""
    if names and supports(version, V4_0, "IncludeRetElement", explicit=True):
        for name in names:
            sub_text(el, "IncludeRetElement", name, max_length=MAX_INCLUDE_RET_ELEMENT)


def owner_ids(el: Any, owners: Sequence[str] | None, version: QbxmlVersion) -> None:
    """``OwnerID`` elements; None means the default "0" (public custom fields as DataExtRet)."""
    explicit = owners is not None
    values = ("0",) if owners is None else owners
    if values and supports(version, V2_0, "OwnerID", explicit=explicit):
        for owner in values:
            sub_text(el, "OwnerID", check_guid(owner, "OwnerID"))


# Error recovery (``newMessageSetID`` / ``oldMessageSetID``): in the qbXML 2.0 spec file and
# Intuit's ErrRecovery samples, which speak 2.0.
V_ERROR_RECOVERY = V2_0


def build_message_set(
    requests: Sequence[Request],
    version: QbxmlVersion = MAX_VERSION,
    on_error: OnError = "stopOnError",
    *,
    new_message_set_id: str | None = None,
    old_message_set_id: str | None = None,
) -> str:
    """Render a complete qbXML request document for the negotiated ``version``.

    ``new_message_set_id`` asks QuickBooks to save this set's status and responses under that
    id; ``old_message_set_id`` (error recovery) asks for the saved status of that set instead:
    with ``new_message_set_id`` equal to it and no requests QuickBooks answers the saved
    responses; alone it clears them (Intuit's ErrRecovery1-3 samples).
    """
    if not requests and old_message_set_id is None:
        raise QbxmlError("a message set needs at least one request")
    if on_error not in ("stopOnError", "continueOnError"):
        # rollbackOnError is in the schema but QuickBooks does not support it.
        raise QbxmlError(f"onError must be stopOnError or continueOnError, not {on_error!r}")
    ids = [r.request_id for r in requests]
    if len(set(ids)) != len(ids):
        raise QbxmlError("requestIDs in one message set must be unique")
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRq")
    for attr, value in (
        ("oldMessageSetID", old_message_set_id),
        ("newMessageSetID", new_message_set_id),
    ):
        if value is None:
            continue
        supports(version, V_ERROR_RECOVERY, attr, explicit=True)
        if not value or to_qb_text(value) != value or len(value) > MAX_REQUEST_ID:
            raise QbxmlError(f"{attr} must be 1 to {MAX_REQUEST_ID} plain characters")
        msgs.set(attr, value)
    msgs.set("onError", on_error)
    for request in requests:
        msgs.append(request.to_element(version))
    body = etree.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="{version}"?>\n{body}'
