"""Query requests: their filters as QuickBooks applies them, and iterators.

Filters compare real instants (a zone-less date is the workstation's local time), both ends
inclusive. ``ActiveStatus`` defaults to ActiveOnly for lists. Asking for ListIDs / TxnIDs that
do not exist is error 3120; FullNames that do not exist are warning 500 (what was found is still
returned). A filter the simulator does not implement raises ``SimulatorGap`` rather than being
ignored, so a test never passes on a silently wrong answer.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .company_clock import Workstation
from .company_data import CompanyData, owner_key
from .company_xml import WriteOptions

NOT_FOUND_MESSAGE = (
    'Object "{0}" specified in the request cannot be found.  QuickBooks error message: '
    "Invalid argument.  The specified record does not exist in the list."
)
MISSING_NAME_MESSAGE = (
    "The query request has not been fully completed. There was a required element "
    '("{0}") that could not be found in QuickBooks.'
)
NO_MATCH_MESSAGE = "A query request did not find a matching object in QuickBooks"
STALE_ITERATOR_MESSAGE = 'The iteratorID "{0}" is not valid.'
BAD_DATE_MESSAGE = 'There was an error when converting the date value "{0}" in the field "{1}".'

_LIST_FILTERS = {
    "ListID",
    "FullName",
    "MaxReturned",
    "ActiveStatus",
    "FromModifiedDate",
    "ToModifiedDate",
    "NameFilter",
    "NameRangeFilter",
    "IncludeRetElement",
    "OwnerID",
}
_TXN_FILTERS = {
    "TxnID",
    "RefNumber",
    "RefNumberCaseSensitive",
    "MaxReturned",
    "ModifiedDateRangeFilter",
    "TxnDateRangeFilter",
    "EntityFilter",
    "PaidStatus",
    "IncludeLineItems",
    "IncludeLinkedTxns",
    "IncludeRetElement",
    "OwnerID",
}


class SimulatorGap(NotImplementedError):
    """A request QuickBooks would answer but this simulator does not implement."""


class MalformedRequest(Exception):
    """A request the qbXML schema rejects: QuickBooks fails the whole message set."""


class QueryError(Exception):
    """A query QuickBooks answers with an error status instead of records."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class Selection:
    """What a query selected: records in order, and a warning if some names were missing."""

    records: list[Any]
    warning: str | None = None


@dataclass(slots=True)
class QuerySpec:
    """A parsed query request."""

    ids: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    max_returned: int | None = None
    options: WriteOptions = field(default_factory=WriteOptions)
    matchers: list[Callable[[Any], bool]] = field(default_factory=list)


def _check_children(rq: Any, allowed: set[str]) -> None:
    for child in rq:
        if child.tag not in allowed:
            raise SimulatorGap(f"{rq.tag}: the simulator does not implement <{child.tag}>")


def _when(ws: Workstation, el: Any, tag: str) -> datetime | None:
    text = el.findtext(tag) if el is not None else None
    if text is None:
        return None
    try:
        return ws.parse(text)
    except ValueError as exc:
        raise QueryError(3020, BAD_DATE_MESSAGE.format(text, tag)) from exc


def _day(el: Any, tag: str) -> date | None:
    text = el.findtext(tag) if el is not None else None
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise QueryError(3020, BAD_DATE_MESSAGE.format(text, tag)) from exc


def _max_returned(rq: Any) -> int | None:
    text = rq.findtext("MaxReturned")
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError as exc:
        raise QueryError(3000, f'The given value "{text}" for MaxReturned is not valid.') from exc
    if value < 1:
        raise QueryError(3000, f'The given value "{text}" for MaxReturned is not valid.')
    return value


def _owners(rq: Any) -> frozenset[str]:
    return frozenset(owner_key(e.text or "") for e in rq.findall("OwnerID"))


def _include(rq: Any) -> frozenset[str] | None:
    names = [e.text or "" for e in rq.findall("IncludeRetElement")]
    return frozenset(names) if names else None


def _flag(rq: Any, tag: str) -> bool:
    return (rq.findtext(tag) or "false").strip() in ("true", "1")


def _modified(lo: datetime | None, hi: datetime | None) -> list[Callable]:
    out: list[Callable[[Any], bool]] = []
    if lo is not None:
        out.append(lambda r: r.time_modified >= lo)
    if hi is not None:
        out.append(lambda r: r.time_modified <= hi)
    return out


def _name_filter(rq: Any, full_name: Callable[[Any], str]) -> list[Callable]:
    out: list[Callable[[Any], bool]] = []
    name_filter = rq.find("NameFilter")
    if name_filter is not None:
        how = name_filter.findtext("MatchCriterion")
        wanted = (name_filter.findtext("Name") or "").casefold()
        tests = {
            "StartsWith": lambda r: full_name(r).casefold().startswith(wanted),
            "Contains": lambda r: wanted in full_name(r).casefold(),
            "EndsWith": lambda r: full_name(r).casefold().endswith(wanted),
        }
        if how not in tests:
            raise QueryError(3000, f'The given value "{how}" for MatchCriterion is not valid.')
        out.append(tests[how])
    name_range = rq.find("NameRangeFilter")
    if name_range is not None:
        lo = (name_range.findtext("FromName") or "").casefold() or None
        hi = (name_range.findtext("ToName") or "").casefold() or None
        if lo is not None:
            out.append(lambda r: full_name(r).casefold() >= lo)
        if hi is not None:
            out.append(lambda r: full_name(r).casefold() <= hi)
    return out


def parse_list_query(
    rq: Any, data: CompanyData, extra: set[str] = frozenset(), active_default: str = "ActiveOnly"
) -> QuerySpec:
    """A list query (Customer, Vendor, Item, Terms, SalesRep, Class)."""
    _check_children(rq, _LIST_FILTERS | extra)
    ws = data.workstation
    spec = QuerySpec(
        ids=[e.text or "" for e in rq.findall("ListID")],
        names=[e.text or "" for e in rq.findall("FullName")],
        max_returned=_max_returned(rq),
        options=WriteOptions(include=_include(rq), owners=_owners(rq)),
    )
    if spec.ids or spec.names:
        return spec
    status = (rq.findtext("ActiveStatus") or active_default).strip()
    if status == "ActiveOnly":
        spec.matchers.append(lambda r: r.is_active)
    elif status == "InactiveOnly":
        spec.matchers.append(lambda r: not r.is_active)
    elif status != "All":
        raise QueryError(3000, f'The given value "{status}" for ActiveStatus is not valid.')
    lo, hi = _when(ws, rq, "FromModifiedDate"), _when(ws, rq, "ToModifiedDate")
    spec.matchers += _modified(lo, hi)
    spec.matchers += _name_filter(rq, data.full_name)
    return spec


def total_balance_matcher(rq: Any, data: CompanyData) -> list[Callable]:
    """CustomerQuery's TotalBalanceFilter."""
    el = rq.find("TotalBalanceFilter")
    if el is None:
        return []
    operator = el.findtext("Operator")
    try:
        amount = Decimal(el.findtext("Amount") or "")
    except InvalidOperation as exc:
        raise QueryError(3040, "There was an error when converting the amount in Amount.") from exc
    compare = {
        "LessThan": lambda v: v < amount,
        "LessThanEqual": lambda v: v <= amount,
        "Equal": lambda v: v == amount,
        "GreaterThan": lambda v: v > amount,
        "GreaterThanEqual": lambda v: v >= amount,
    }
    if operator not in compare:
        raise QueryError(3000, f'The given value "{operator}" for Operator is not valid.')
    test = compare[operator]
    return [lambda c: test(data.total_balance(c))]


def parse_txn_query(rq: Any, data: CompanyData, txn_type: str) -> QuerySpec:
    """A transaction query (Estimate, SalesOrder, Invoice, SalesReceipt, ReceivePayment,
    CreditMemo). Lines come back only with IncludeLineItems, links with IncludeLinkedTxns."""
    _check_children(rq, _TXN_FILTERS)
    if rq.find("PaidStatus") is not None and txn_type != "Invoice":
        raise MalformedRequest(f"{rq.tag} takes no PaidStatus")
    no_links = txn_type in ("SalesReceipt", "ReceivePayment")
    if no_links and rq.find("IncludeLinkedTxns") is not None:
        raise MalformedRequest(f"{rq.tag} takes no IncludeLinkedTxns")
    ws = data.workstation
    spec = QuerySpec(
        ids=[e.text or "" for e in rq.findall("TxnID")],
        max_returned=_max_returned(rq),
        options=WriteOptions(
            include=_include(rq),
            owners=_owners(rq),
            lines=_flag(rq, "IncludeLineItems"),
            linked=_flag(rq, "IncludeLinkedTxns"),
        ),
    )
    refs = [e.text or "" for e in rq.findall("RefNumber")]
    exact_refs = [e.text or "" for e in rq.findall("RefNumberCaseSensitive")]
    if refs:
        wanted = {r.casefold() for r in refs}
        spec.matchers.append(lambda t: (t.ref_number or "").casefold() in wanted)
    if exact_refs:
        exact = set(exact_refs)
        spec.matchers.append(lambda t: t.ref_number in exact)
    if spec.ids or refs or exact_refs:
        return spec
    modified = rq.find("ModifiedDateRangeFilter")
    if modified is not None:
        lo = _when(ws, modified, "FromModifiedDate")
        hi = _when(ws, modified, "ToModifiedDate")
        spec.matchers += _modified(lo, hi)
    dates = rq.find("TxnDateRangeFilter")
    if dates is not None:
        if dates.find("DateMacro") is not None:
            raise SimulatorGap(f"{rq.tag}: the simulator does not implement <DateMacro>")
        lo_day, hi_day = _day(dates, "FromTxnDate"), _day(dates, "ToTxnDate")
        if lo_day is not None:
            spec.matchers.append(lambda t: t.txn_date >= lo_day)
        if hi_day is not None:
            spec.matchers.append(lambda t: t.txn_date <= hi_day)
    entity = rq.find("EntityFilter")
    if entity is not None:
        spec.matchers.append(_entity_matcher(entity, data))
    paid = rq.findtext("PaidStatus")
    if paid is not None and paid != "All":
        want_paid = paid == "PaidOnly"
        if paid not in ("PaidOnly", "NotPaidOnly"):
            raise QueryError(3000, f'The given value "{paid}" for PaidStatus is not valid.')
        spec.matchers.append(lambda t: (t.balance_remaining == 0) == want_paid)
    return spec


def _entity_matcher(el: Any, data: CompanyData) -> Callable[[Any], bool]:
    ids = {e.text for e in el.findall("ListID")}
    names = {(e.text or "").casefold() for e in el.findall("FullName")}
    with_children_id = el.findtext("ListIDWithChildren")
    with_children_name = (el.findtext("FullNameWithChildren") or "").casefold() or None

    def match(txn: Any) -> bool:
        customer = data.customers.get(txn.customer_id)
        if customer is None:
            return False
        if ids and txn.customer_id in ids:
            return True
        if names and data.full_name(customer).casefold() in names:
            return True
        family = [customer, *data.ancestors(customer)]
        if with_children_id and any(c.list_id == with_children_id for c in family):
            return True
        return bool(
            with_children_name
            and any(data.full_name(c).casefold() == with_children_name for c in family)
        )

    return match


def select(
    spec: QuerySpec,
    table: dict[str, Any],
    full_name: Callable[[Any], str] | None,
    candidates: Callable[[], Any] | None = None,
) -> Selection:
    """Apply a spec to a table of records (``candidates`` narrows which records qualify)."""
    if spec.ids:
        found = [table[i] for i in spec.ids if i in table]
        found = [r for r in found if all(m(r) for m in spec.matchers)]
        missing = [i for i in spec.ids if i not in table]
        if missing and not found:
            raise QueryError(3120, NOT_FOUND_MESSAGE.format(missing[0]))
        warning = NOT_FOUND_MESSAGE.format(missing[0]) if missing else None
        return Selection(found, warning)
    if spec.names:
        assert full_name is not None
        by_name = {full_name(r).casefold(): r for r in table.values()}
        found = [by_name[n.casefold()] for n in spec.names if n.casefold() in by_name]
        missing = [n for n in spec.names if n.casefold() not in by_name]
        return Selection(found, MISSING_NAME_MESSAGE.format(missing[0]) if missing else None)
    source = candidates() if candidates is not None else table.values()
    matchers = spec.matchers
    return Selection([r for r in source if all(m(r) for m in matchers)])


@dataclass(slots=True)
class QueryIterator:
    """A result set handed out page by page; records are read live when their page is sent,
    and records deleted meanwhile are skipped."""

    rs_tag: str
    records: list[Any]
    options: WriteOptions
    writer: Callable[[CompanyData, Any, WriteOptions], str]
    alive: Callable[[Any], bool]
    position: int = 0

    def page(self, size: int | None) -> list[Any]:
        end = len(self.records) if size is None else min(len(self.records), self.position + size)
        out = [r for r in self.records[self.position : end] if self.alive(r)]
        self.position = end
        return out

    @property
    def remaining(self) -> int:
        return len(self.records) - self.position


class Iterators:
    """The iterators of one QuickBooks session; they die with it."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"iterators:{seed}")
        self._live: dict[str, QueryIterator] = {}

    def new_id(self) -> str:
        """A GUID in braces, from the company's own random stream (reproducible runs)."""
        return "{" + str(uuid.UUID(int=self._rng.getrandbits(128), version=4)) + "}"

    def start(self, iterator: QueryIterator) -> str:
        iterator_id = self.new_id()
        self._live[iterator_id] = iterator
        return iterator_id

    def get(self, iterator_id: str, rs_tag: str) -> QueryIterator | None:
        iterator = self._live.get(iterator_id)
        return iterator if iterator is not None and iterator.rs_tag == rs_tag else None

    def stop(self, iterator_id: str) -> None:
        self._live.pop(iterator_id, None)

    def clear(self) -> None:
        self._live.clear()

    def __len__(self) -> int:
        return len(self._live)
