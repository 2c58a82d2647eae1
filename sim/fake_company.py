"""A simulated QuickBooks company that answers qbXML requests like QuickBooks Desktop does.

Data is generated deterministically from the arguments (same seed, same company). Queries follow
QuickBooks' semantics where a sync depends on them: ``ActiveStatus`` defaults to ActiveOnly,
iterators hand out pages and report ``iteratorRemainingCount``, an unknown iteratorID is status
3391, nothing matched is status 1, and a request the parser cannot take fails the whole message
set with HRESULT 0x80040400, as QuickBooks does.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from lxml import etree

PARSE_ERROR_HRESULT = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."
QB_TZ = timezone(timedelta(hours=-5))  # the QuickBooks workstation's offset

_FIRST = ["Ada", "Björn", "Chloé", "Dmitri", "Eve", "Farah", "Gus", "Hana", "Ivo", "Jo"]
_LAST = ["Smith", "O'Neil", "Müller", "García", "Nguyen", "Kowalski", "Brown", "Rossi"]
_KINDS = ["Supply", "Builders", "& Sons", "Consulting", "<Design>", "Café", '"Quoted" Ltd']
_CITIES = [("Springfield", "IL"), ("Austin", "TX"), ("Portland", "OR"), ("Boston", "MA")]


class QuickBooksError(Exception):
    """QuickBooks failed the whole request (what QBWC passes on as hresult and message)."""

    def __init__(self, hresult: str, message: str) -> None:
        super().__init__(f"{hresult} {message}")
        self.hresult = hresult
        self.message = message


@dataclass(slots=True)
class SimCustomer:
    list_id: str
    name: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    is_active: bool
    company_name: str
    first_name: str
    last_name: str
    city: str
    state: str
    phone: str
    email: str
    balance: Decimal


@dataclass(slots=True)
class _Iterator:
    remaining: list[Any]


@dataclass
class FakeCompany:
    """A company file with ``customers`` generated customers."""

    customers: int = 100
    seed: int = 1
    company_name: str = "Sample Company"
    file_id: str | None = None
    owner_id: str | None = None
    supported_versions: tuple[str, ...] = tuple(f"{v}.0" for v in range(1, 14))
    customer_list: list[SimCustomer] = field(init=False)
    _iterators: dict[str, _Iterator] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        base = datetime(2024, 1, 2, 9, 0, tzinfo=QB_TZ)
        self.customer_list = []
        for i in range(1, self.customers + 1):
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            city, state = rng.choice(_CITIES)
            created = base + timedelta(minutes=7 * i)
            modified = created + timedelta(days=rng.randint(0, 300), seconds=rng.randint(0, 86399))
            self.customer_list.append(
                SimCustomer(
                    list_id=f"{0x80000000 + i:X}-{1400000000 + i}",
                    name=f"{last} {rng.choice(_KINDS)} {i}"[:41],
                    time_created=created,
                    time_modified=modified,
                    edit_sequence=str(int(modified.timestamp())),
                    is_active=rng.random() > 0.05,
                    company_name=f"{last} {rng.choice(_KINDS)}",
                    first_name=first,
                    last_name=last,
                    city=city,
                    state=state,
                    phone=f"555-{rng.randint(1000, 9999)}",
                    email=f"{first.lower()}.{i}@example.com",
                    balance=Decimal(rng.randint(0, 500000)) / 100,
                )
            )

    # --- the Web Connector's side ------------------------------------------------------------

    def hcp_response(self) -> str:
        """The answer to HostQuery + CompanyQuery + PreferencesQuery sent on the first call."""
        root = etree.Element("QBXML")
        msgs = etree.SubElement(root, "QBXMLMsgsRs")
        self._HostQueryRq(None, msgs)
        self._CompanyQueryRq(None, msgs)
        self._PreferencesQueryRq(None, msgs)
        return _document(root)

    def process(self, request: str) -> str:
        """Answer a qbXML request message set, or raise QuickBooksError as QuickBooks would."""
        try:
            root = etree.fromstring(
                request.encode("utf-8"), etree.XMLParser(resolve_entities=False)
            )
        except etree.XMLSyntaxError as exc:
            raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE) from exc
        msgs = root.find("QBXMLMsgsRq") if root.tag == "QBXML" else None
        if msgs is None or msgs.get("onError") not in ("stopOnError", "continueOnError"):
            raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE)
        out_root = etree.Element("QBXML")
        out = etree.SubElement(out_root, "QBXMLMsgsRs")
        stop = False
        for rq in msgs:
            request_id = rq.get("requestID")
            if stop:
                _rs(
                    out, rq.tag[:-2] + "Rs", request_id, 3231, "The request has not been processed."
                )
                continue
            handler = getattr(self, f"_{rq.tag}", None)
            if handler is None:
                raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE)
            code = handler(rq, out)
            stop = code >= 1000 and msgs.get("onError") == "stopOnError"
        return _document(out_root)

    # --- request handlers (named after the request element) ----------------------------------

    def _HostQueryRq(self, rq: Any, out: Any) -> int:
        host = etree.SubElement(_rs(out, "HostQueryRs", _request_id(rq), 0).el, "HostRet")
        _sub(host, "ProductName", "QuickBooks Enterprise Solutions 23.0")
        _sub(host, "MajorVersion", "33")
        _sub(host, "MinorVersion", "0")
        _sub(host, "Country", "US")
        for v in self.supported_versions:
            _sub(host, "SupportedQBXMLVersion", v)
        _sub(host, "IsAutomaticLogin", "false")
        _sub(host, "QBFileMode", "SingleUser")
        return 0

    def _CompanyQueryRq(self, rq: Any, out: Any) -> int:
        company = etree.SubElement(_rs(out, "CompanyQueryRs", _request_id(rq), 0).el, "CompanyRet")
        _sub(company, "IsSampleCompany", "false")
        _sub(company, "CompanyName", self.company_name)
        if self.file_id and self.owner_id:
            ext = etree.SubElement(company, "DataExtRet")
            _sub(ext, "OwnerID", self.owner_id)
            _sub(ext, "DataExtName", "FileID")
            _sub(ext, "DataExtType", "STR255TYPE")
            _sub(ext, "DataExtValue", self.file_id)
        return 0

    def _PreferencesQueryRq(self, rq: Any, out: Any) -> int:
        # An empty PreferencesRet is not valid qbXML; the relay reads nothing from it yet.
        prefs = etree.SubElement(
            _rs(out, "PreferencesQueryRs", _request_id(rq), 0).el, "PreferencesRet"
        )
        accounting = etree.SubElement(prefs, "AccountingPreferences")
        for tag in (
            "IsUsingAccountNumbers",
            "IsRequiringAccounts",
            "IsUsingClassTracking",
            "IsUsingAuditTrail",
            "IsAssigningJournalEntryNumbers",
        ):
            _sub(accounting, tag, "false")
        return 0

    def _CustomerQueryRq(self, rq: Any, out: Any) -> int:
        request_id = rq.get("requestID")
        iterator = rq.get("iterator")
        max_returned = _int(rq.findtext("MaxReturned"))
        if iterator == "Continue":
            it = self._iterators.get(rq.get("iteratorID", ""))
            if it is None:
                return _rs(
                    out,
                    "CustomerQueryRs",
                    request_id,
                    3391,
                    f'The iteratorID "{rq.get("iteratorID")}" is not valid.',
                ).code
            matches = it.remaining
        else:
            matches = self._match_customers(rq)
        page = matches[:max_returned] if max_returned else matches
        rest = matches[len(page) :]
        if not page and iterator != "Continue":
            return _rs(
                out,
                "CustomerQueryRs",
                request_id,
                1,
                "A query request did not find a matching object in QuickBooks",
            ).code
        rs = _rs(out, "CustomerQueryRs", request_id, 0)
        if iterator in ("Start", "Continue"):
            iterator_id = rq.get("iteratorID") or "{" + str(uuid.uuid4()).upper() + "}"
            rs.el.set("iteratorRemainingCount", str(len(rest)))
            rs.el.set("iteratorID", iterator_id)
            if rest:
                self._iterators[iterator_id] = _Iterator(remaining=rest)
            else:
                self._iterators.pop(iterator_id, None)
        rs.el.set("retCount", str(len(page)))
        for customer in page:
            _customer_ret(rs.el, customer)
        return 0

    def _match_customers(self, rq: Any) -> list[SimCustomer]:
        ids = {e.text for e in rq.findall("ListID")}
        names = {e.text for e in rq.findall("FullName")}
        status = rq.findtext("ActiveStatus") or "ActiveOnly"
        start = _dt(rq.findtext("FromModifiedDate"))
        end = _dt(rq.findtext("ToModifiedDate"))
        out = []
        for c in self.customer_list:
            if ids and c.list_id not in ids:
                continue
            if names and c.name not in names:
                continue
            if status == "ActiveOnly" and not c.is_active:
                continue
            if status == "InactiveOnly" and c.is_active:
                continue
            if start and c.time_modified < start:
                continue
            if end and c.time_modified > end:
                continue
            out.append(c)
        return out


def _request_id(rq: Any) -> str | None:
    return rq.get("requestID") if rq is not None else None


@dataclass(slots=True)
class _Rs:
    el: Any
    code: int


def _rs(
    parent: Any, tag: str, request_id: str | None, code: int, message: str = "Status OK"
) -> _Rs:
    severity = "Info" if code < 500 else "Warn" if code < 1000 else "Error"
    el = etree.SubElement(parent, tag)
    if request_id is not None:
        el.set("requestID", request_id)
    el.set("statusCode", str(code))
    el.set("statusSeverity", severity)
    el.set("statusMessage", message)
    return _Rs(el, code)


def _sub(parent: Any, tag: str, text: str) -> Any:
    el = etree.SubElement(parent, tag)
    el.text = text
    return el


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _dt(text: str | None) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    # QuickBooks reads a zone-less time as the workstation's local time.
    return value if value.tzinfo else value.replace(tzinfo=QB_TZ)


def _qb_time(value: datetime) -> str:
    return value.isoformat(timespec="seconds")


def _customer_ret(parent: Any, c: SimCustomer) -> None:
    ret = etree.SubElement(parent, "CustomerRet")
    _sub(ret, "ListID", c.list_id)
    _sub(ret, "TimeCreated", _qb_time(c.time_created))
    _sub(ret, "TimeModified", _qb_time(c.time_modified))
    _sub(ret, "EditSequence", c.edit_sequence)
    _sub(ret, "Name", c.name)
    _sub(ret, "FullName", c.name)
    _sub(ret, "IsActive", "true" if c.is_active else "false")
    _sub(ret, "Sublevel", "0")
    _sub(ret, "CompanyName", c.company_name)
    _sub(ret, "FirstName", c.first_name)
    _sub(ret, "LastName", c.last_name)
    bill = etree.SubElement(ret, "BillAddress")
    _sub(bill, "City", c.city)
    _sub(bill, "State", c.state)
    _sub(bill, "Country", "US")
    _sub(ret, "Phone", c.phone)
    _sub(ret, "Email", c.email)
    _sub(ret, "Balance", f"{c.balance:.2f}")
    _sub(ret, "TotalBalance", f"{c.balance:.2f}")


def _document(root: Any) -> str:
    return '<?xml version="1.0" ?>\n' + etree.tostring(root, encoding="unicode")
