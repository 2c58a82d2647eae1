"""A simulated QuickBooks company that answers qbXML requests like QuickBooks Desktop does.

The books are generated deterministically from the constructor's arguments (same arguments,
byte-identical responses) and can be changed through a small API for tests (``add``,
``modify``, ``delete``, ``void``, ``apply_credit``, a controllable ``clock``), while
``snapshot`` gives the facts a consumer's end state must match. Voiding or deleting a payment
or credit memo gives its invoices their balances back without saving them (no new
TimeModified), so a consumer must read those invoices again to see it. Queries follow
QuickBooks' semantics where a sync depends on them: ``ActiveStatus`` defaults to ActiveOnly,
iterators hand out pages and report ``iteratorRemainingCount`` and live only until the session
ends (then status 3391), nothing matched is status 1, modified-date filters are inclusive, line
items and linked transactions come only when asked for, custom fields only for the OwnerIDs
asked for. A request the schema rejects fails the whole message set with HRESULT 0x80040400, as
QuickBooks does; one that QuickBooks would answer but this simulator does not implement raises
``SimulatorGap``.

The edition (Pro, Premier, Enterprise) and the feature preferences (estimates, sales orders,
inventory) show in the HostQuery and PreferencesQuery answers; a query for a feature the edition
lacks (sales orders in Pro) or that is switched off fails with status 3250, as QuickBooks does.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Collection
from datetime import datetime, tzinfo
from typing import Any

from lxml import etree

from .company_clock import QB_TZ, SimClock, Workstation
from .company_data import (
    COMPANY_OBJECT,
    CompanyData,
    EntitySnapshot,
    InUseError,
    owner_key,
)
from .company_edits import Edits
from .company_generate import CLOCK_START, Counts, SampleBooks, populate
from .company_invoice_writes import add_invoice
from .company_message_sets import MessageSets, msgs_attributes
from .company_queries import (
    NO_MATCH_MESSAGE,
    NOT_FOUND_MESSAGE,
    STALE_ITERATOR_MESSAGE,
    Iterators,
    MalformedRequest,
    QueryError,
    QueryIterator,
    QuerySpec,
    SimulatorGap,
    parse_list_query,
    parse_txn_query,
    select,
    total_balance_matcher,
)
from .company_records import (
    TXN_ENTITIES,
    SimCustomer,
    SimDeleted,
)
from .company_transactions import AllTxns, parse_transaction_query
from .company_writes import (
    STALE,
    WriteError,
    apply_customer,
    customer_changes,
    define,
    new_customer,
    set_value,
)
from .company_xml import (
    WriteOptions,
    class_ret,
    customer_ret,
    data_ext_xml,
    deleted_ret,
    document,
    esc,
    item_ret,
    rs,
    sales_rep_ret,
    terms_ret,
    transaction_ret,
    txn_ret,
    vendor_ret,
)

__all__ = [
    "PARSE_ERROR_HRESULT",
    "PARSE_ERROR_MESSAGE",
    "QB_TZ",
    "FakeCompany",
    "InUseError",
    "QuickBooksError",
    "SimCustomer",
    "SimulatorGap",
]

PARSE_ERROR_HRESULT = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."
NOT_PROCESSED_MESSAGE = "The request has not been processed."
FEATURE_NOT_ENABLED = 3250
FEATURE_NOT_ENABLED_MESSAGE = (
    "This feature is not enabled or not available in this version of QuickBooks."
)
# HostRet/ProductName of each edition (QuickBooks 2023, MajorVersion 33).
PRODUCT_NAMES = {
    "Pro": "QuickBooks Pro 2023",
    "Premier": "QuickBooks Premier Edition 2023",
    "Enterprise": "QuickBooks Enterprise Solutions 23.0",
}
# Features a company can switch off (Edit > Preferences); sales orders are not in Pro at all.
FEATURES = ("estimates", "sales_orders", "inventory")
_FEATURE_OF_TXN = {"Estimate": "estimates", "SalesOrder": "sales_orders"}
_QBXML_VERSION = re.compile(r'version\s*=\s*["\']([^"\']+)["\']')
_TXN_ITERATOR_QUERIES = {f"{t}QueryRq": t for t in TXN_ENTITIES}


class QuickBooksError(Exception):
    """QuickBooks failed the whole request (what QBWC passes on as hresult and message)."""

    def __init__(self, hresult: str, message: str) -> None:
        super().__init__(f"{hresult} {message}")
        self.hresult = hresult
        self.message = message


class FakeCompany:
    """A company file with generated books; see the module docstring.

    Counts: ``customers`` (jobs included), ``vendors``, ``items`` (every item type),
    ``estimates``, ``sales_orders``, ``invoices``, ``sales_receipts``, ``credit_memos`` (each
    with ``lines_per_txn`` lines) and ``payments`` (applied to invoices). ``tz`` is the
    workstation's zone (None: fixed UTC-5, timestamps printed with their own offset);
    ``dst_offset_bug`` prints the standard offset during daylight saving as older QuickBooks
    releases do. ``file_id`` + ``owner_id``: the file was opened by the Web Connector for that
    application before, so it carries the FileID (and AppLock) data extensions.
    ``request_schema`` (Intuit's qbxmlops XSD) makes requests the schema rejects fail as
    QuickBooks fails them. ``edition`` is Pro, Premier or Enterprise; ``features_off`` names
    features switched off in the preferences (see FEATURES); ``set_feature`` changes one later.
    ``keeps_message_sets=False``: error recovery finds no saved status (sim.company_message_sets).
    """

    def __init__(
        self,
        customers: int = 100,
        *,
        vendors: int = 0,
        items: int = 0,
        estimates: int = 0,
        sales_orders: int = 0,
        invoices: int = 0,
        sales_receipts: int = 0,
        payments: int = 0,
        credit_memos: int = 0,
        lines_per_txn: int = 5,
        seed: int = 1,
        company_name: str = "Sample Company",
        file_id: str | None = None,
        owner_id: str | None = None,
        supported_versions: tuple[str, ...] = tuple(f"{v}.0" for v in range(1, 14)),
        tz: tzinfo | None = None,
        dst_offset_bug: bool = False,
        clock_start: datetime | None = None,
        request_schema: etree.XMLSchema | None = None,
        machine_name: str = "QBSERVER",
        edition: str = "Enterprise",
        features_off: Collection[str] = (),
        keeps_message_sets: bool = True,
    ) -> None:
        if edition not in PRODUCT_NAMES:
            raise ValueError(f"edition must be one of {', '.join(PRODUCT_NAMES)}, not {edition!r}")
        unknown = set(features_off) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; known: {', '.join(FEATURES)}")
        if edition == "Pro" and sales_orders:
            raise ValueError("QuickBooks Pro has no sales orders: pass sales_orders=0")
        self.edition = edition
        self.features_off = set(features_off)
        if dst_offset_bug and tz is None:
            raise ValueError("dst_offset_bug needs tz: a zone with daylight-saving time")
        if file_id is not None and owner_id is None:
            raise ValueError("file_id is stored under an application's owner_id: pass both")
        self.customers = customers
        self.seed = seed
        self.company_name = company_name
        self.owner_id = owner_id
        self.supported_versions = tuple(supported_versions)
        self.request_schema = request_schema
        self.workstation = Workstation(tz, dst_offset_bug)
        self.clock = SimClock(clock_start or CLOCK_START, self.workstation.zone)
        self.data = CompanyData(self.workstation, self.clock)
        populate(
            self.data,
            Counts(
                customers=customers,
                vendors=vendors,
                items=items,
                estimates=estimates,
                sales_orders=sales_orders,
                invoices=invoices,
                sales_receipts=sales_receipts,
                payments=payments,
                credit_memos=credit_memos,
                lines_per_txn=lines_per_txn,
            ),
            seed,
        )
        self.lines_per_txn = lines_per_txn
        books = SampleBooks(self.data, random.Random(f"add:{seed}"), self.workstation.zone)
        self.edits = Edits(self.data, books, lines_per_txn, customers + vendors + items)
        self._iterators = Iterators(seed)
        self.message_sets = MessageSets(keeps_message_sets)
        if file_id is not None and owner_id is not None:
            # What the Web Connector stamps into a file it has opened for an application: an
            # AppLock (held while it works; .NET ticks) and the FileID of the QWC.
            self.data.define_ext(owner_id, "AppLock", "STR255TYPE", ("Company",))
            ticks = int((self.clock.now() - datetime(1, 1, 1, tzinfo=QB_TZ)).total_seconds())
            lock = f"LOCKED:{machine_name}:{ticks * 10_000_000}"
            self.data.set_ext(COMPANY_OBJECT, owner_id, "AppLock", lock)
            self.file_id = file_id
        self._handlers: dict[str, Callable[[Any, str], tuple[str, int]]] = {
            "HostQueryRq": self._host_query,
            "CompanyQueryRq": self._company_query,
            "PreferencesQueryRq": self._preferences_query,
            "CustomerQueryRq": self._customer_query,
            "VendorQueryRq": self._vendor_query,
            "ItemQueryRq": self._item_query,
            "TermsQueryRq": self._terms_query,
            "SalesRepQueryRq": self._sales_rep_query,
            "ClassQueryRq": self._class_query,
            **{name: self._txn_query for name in _TXN_ITERATOR_QUERIES},
            "ListDeletedQueryRq": self._list_deleted_query,
            "TxnDeletedQueryRq": self._txn_deleted_query,
            "TransactionQueryRq": self._transaction_query,
            "CustomerAddRq": self._customer_add,
            "CustomerModRq": self._customer_mod,
            "InvoiceAddRq": self._invoice_add,
            "DataExtDefAddRq": self._data_ext_def_add,
            "DataExtAddRq": self._data_ext_add,
            "DataExtModRq": self._data_ext_mod,
        }

    # --- compatibility views -------------------------------------------------------------

    @property
    def customer_list(self) -> list[SimCustomer]:
        """The customers (and jobs) in creation order; the objects are live."""
        return list(self.data.customers.values())

    @customer_list.setter
    def customer_list(self, customers: list[SimCustomer]) -> None:
        self.data.customers = {c.list_id: c for c in customers}
        self.data.customers_changed()

    @property
    def file_id(self) -> str | None:
        """The FileID data extension stored under ``owner_id``, if the file carries one."""
        if self.owner_id is None:
            return None
        values = self.data.ext_values.get(COMPANY_OBJECT, {})
        return values.get((owner_key(self.owner_id), "FileID"))

    @file_id.setter
    def file_id(self, value: str) -> None:
        """Stamp a FileID under ``owner_id``, as the Web Connector does when it opens the file."""
        if self.owner_id is None:
            raise ValueError("file_id is stored under an application's owner_id: set it first")
        if (owner_key(self.owner_id), "FileID") not in self.data.ext_defs:
            self.data.define_ext(self.owner_id, "FileID", "STR255TYPE", ("Company",))
        self.data.set_ext(COMPANY_OBJECT, self.owner_id, "FileID", value)

    def has_feature(self, feature: str) -> bool:
        """True when the edition has ``feature`` and it is switched on."""
        if feature == "sales_orders" and self.edition == "Pro":
            return False
        return feature not in self.features_off

    def set_feature(self, feature: str, on: bool) -> None:
        """Switch a feature on or off in the company's preferences."""
        if feature not in FEATURES:
            raise ValueError(f"unknown feature {feature!r}; known: {', '.join(FEATURES)}")
        if on:
            self.features_off.discard(feature)
        else:
            self.features_off.add(feature)

    # --- the Web Connector's side ----------------------------------------------------------

    def hcp_response(self, owner_id: str | None = None) -> str:
        """The answer to the HostQuery + CompanyQuery + PreferencesQuery the Web Connector
        sends on opening the file; the CompanyQuery asks for the application's OwnerID."""
        owner = owner_id or self.owner_id
        owners = frozenset({owner_key(owner)}) if owner else frozenset()
        return document(
            [
                self._host_query(None, "0")[0],
                self._company_xml("1", owners),
                self._preferences_query(None, "2")[0],
            ]
        )

    def end_session(self) -> None:
        """The Web Connector closed the QuickBooks session: its iterators are gone."""
        self._iterators.clear()

    def process(self, request: str) -> str:
        """Answer a qbXML request message set, or raise QuickBooksError as QuickBooks would."""
        try:
            root = etree.fromstring(
                request.encode("utf-8"),
                etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False),
            )
        except etree.XMLSyntaxError as exc:
            raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE) from exc
        self._check_envelope(root)
        msgs = root.find("QBXMLMsgsRq")
        assert msgs is not None
        on_error = msgs.get("onError")
        old_id, new_id = msgs.get("oldMessageSetID"), msgs.get("newMessageSetID")
        if old_id is not None:
            if any(isinstance(rq.tag, str) for rq in msgs):
                raise SimulatorGap("a message set with oldMessageSetID and requests")
            saved, attrs = self.message_sets.recover(old_id, new_id)
            return document(saved, msgs_attributes(attrs))
        out: list[str] = []
        stop = False
        for rq in msgs:
            if not isinstance(rq.tag, str):
                continue  # comments
            request_id = rq.get("requestID", "")
            if stop:
                out.append(rs(rq.tag[:-2] + "Rs", request_id, 3231, NOT_PROCESSED_MESSAGE))
                continue
            handler = self._handlers.get(rq.tag)
            if handler is None:
                raise SimulatorGap(f"the simulator does not implement <{rq.tag}>")
            try:
                xml, code = handler(rq, request_id)
            except MalformedRequest as exc:
                raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE) from exc
            out.append(xml)
            stop = code >= 1000 and on_error == "stopOnError"
        if new_id is None:
            return document(out)
        self.message_sets.save(new_id, out)
        return document(
            out, msgs_attributes({"newMessageSetID": new_id, "messageSetStatusCode": "0"})
        )

    def _check_envelope(self, root: Any) -> None:
        msgs = root.find("QBXMLMsgsRq") if root.tag == "QBXML" else None
        if msgs is None or msgs.get("onError") not in ("stopOnError", "continueOnError"):
            raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE)
        for node in root.itersiblings(preceding=True):
            if isinstance(node, etree._ProcessingInstruction) and node.target == "qbxml":
                match = _QBXML_VERSION.search(node.text or "")
                if match is None or match.group(1) not in self.supported_versions:
                    raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE)
        if self.request_schema is not None and not self.request_schema.validate(root):
            raise QuickBooksError(PARSE_ERROR_HRESULT, PARSE_ERROR_MESSAGE)

    # --- HCP queries -----------------------------------------------------------------------

    def _host_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        _only(rq, set())
        versions = "".join(
            f"<SupportedQBXMLVersion>{esc(v)}</SupportedQBXMLVersion>"
            for v in self.supported_versions
        )
        host = (
            f"<HostRet><ProductName>{esc(PRODUCT_NAMES[self.edition])}</ProductName>"
            "<MajorVersion>33</MajorVersion><MinorVersion>0</MinorVersion><Country>US</Country>"
            f"{versions}<IsAutomaticLogin>false</IsAutomaticLogin>"
            "<QBFileMode>SingleUser</QBFileMode></HostRet>"
        )
        return rs("HostQueryRs", request_id, 0, body=host), 0

    def _company_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        _only(rq, {"OwnerID"})
        owners = frozenset(owner_key(e.text or "") for e in rq.findall("OwnerID"))
        return self._company_xml(request_id, owners), 0

    def _company_xml(self, request_id: str, owners: frozenset[str]) -> str:
        extensions = "".join(
            data_ext_xml(definition, value)
            for definition, value in self.data.data_ext(COMPANY_OBJECT, set(owners))
        )
        company = (
            "<CompanyRet><IsSampleCompany>false</IsSampleCompany>"
            f"<CompanyName>{esc(self.company_name)}</CompanyName>{extensions}</CompanyRet>"
        )
        return rs("CompanyQueryRs", request_id, 0, body=company)

    def _preferences_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        _only(rq, set())
        # The accounting preferences, which the relay does not read; estimates and inventory,
        # which it does (the "use sales orders" preference has no element in PreferencesRet).
        flags = "".join(
            f"<{tag}>false</{tag}>"
            for tag in (
                "IsUsingAccountNumbers",
                "IsRequiringAccounts",
                "IsUsingClassTracking",
                "IsUsingAuditTrail",
                "IsAssigningJournalEntryNumbers",
            )
        )
        estimates = _bool(self.has_feature("estimates"))
        inventory = _bool(self.has_feature("inventory"))
        prefs = (
            f"<PreferencesRet><AccountingPreferences>{flags}</AccountingPreferences>"
            f"<JobsAndEstimatesPreferences><IsUsingEstimates>{estimates}</IsUsingEstimates>"
            "<IsUsingProgressInvoicing>false</IsUsingProgressInvoicing>"
            "<IsPrintingItemsWithZeroAmounts>false</IsPrintingItemsWithZeroAmounts>"
            "</JobsAndEstimatesPreferences>"
            f"<PurchasesAndVendorsPreferences><IsUsingInventory>{inventory}</IsUsingInventory>"
            "<DaysBillsAreDue>10</DaysBillsAreDue>"
            "<IsAutomaticallyUsingDiscounts>false</IsAutomaticallyUsingDiscounts>"
            "</PurchasesAndVendorsPreferences></PreferencesRet>"
        )
        return rs("PreferencesQueryRs", request_id, 0, body=prefs), 0

    # --- queries ---------------------------------------------------------------------------

    def _run(
        self,
        rq: Any,
        request_id: str,
        rs_tag: str,
        table: dict[str, Any],
        writer: Callable[[CompanyData, Any, WriteOptions], str],
        parse: Callable[[], QuerySpec],
        full_name: Callable[[Any], str] | None = None,
        iterators: bool = True,
    ) -> tuple[str, int]:
        """Run a list or transaction query, with or without an iterator."""
        iterator = rq.get("iterator")
        if iterator is not None and not iterators:
            raise MalformedRequest(f"{rq.tag} takes no iterator")
        if iterator not in (None, "Start", "Continue", "Stop"):
            raise MalformedRequest(f"iterator={iterator!r}")
        if iterator in ("Continue", "Stop"):
            return self._continue(rq, request_id, rs_tag, iterator == "Stop")
        try:
            spec = parse()
            selection = select(spec, table, full_name)
        except QueryError as exc:
            return rs(rs_tag, request_id, exc.code, exc.message), exc.code
        records = selection.records
        code, message = (500, selection.warning) if selection.warning else (0, "Status OK")
        if not records and code == 0:
            return rs(rs_tag, request_id, 1, NO_MATCH_MESSAGE), 1
        extra: tuple[tuple[str, str], ...] = ()
        if iterator == "Start":
            it = QueryIterator(rs_tag, records, spec.options, writer, _alive(table))
            page = it.page(spec.max_returned)
            iterator_id = self._iterators.start(it)
            if it.remaining == 0:
                self._iterators.stop(iterator_id)
            extra = (("iteratorRemainingCount", str(it.remaining)), ("iteratorID", iterator_id))
        else:
            page = records[: spec.max_returned] if spec.max_returned else records
        body = "".join(writer(self.data, r, spec.options) for r in page)
        return rs(
            rs_tag, request_id, code, message, body, (("retCount", str(len(page))), *extra)
        ), code

    def _continue(self, rq: Any, request_id: str, rs_tag: str, stop: bool) -> tuple[str, int]:
        iterator_id = rq.get("iteratorID", "")
        it = self._iterators.get(iterator_id, rs_tag)
        if it is None:
            return rs(rs_tag, request_id, 3391, STALE_ITERATOR_MESSAGE.format(iterator_id)), 3391
        if stop:
            self._iterators.stop(iterator_id)
            extra = (("iteratorRemainingCount", "0"), ("iteratorID", iterator_id))
            return rs(rs_tag, request_id, 0, extra=extra), 0
        try:
            size = _page_size(rq)
        except QueryError as exc:
            return rs(rs_tag, request_id, exc.code, exc.message), exc.code
        page = it.page(size)
        if it.remaining == 0:
            self._iterators.stop(iterator_id)
        body = "".join(it.writer(self.data, r, it.options) for r in page)
        extra = (
            ("retCount", str(len(page))),
            ("iteratorRemainingCount", str(it.remaining)),
            ("iteratorID", iterator_id),
        )
        return rs(rs_tag, request_id, 0, body=body, extra=extra), 0

    def _customer_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        data = self.data

        def parse() -> QuerySpec:
            spec = parse_list_query(rq, data, extra={"TotalBalanceFilter"})
            spec.matchers += total_balance_matcher(rq, data)
            return spec

        return self._run(
            rq, request_id, "CustomerQueryRs", data.customers, customer_ret, parse, data.full_name
        )

    def _vendor_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        data = self.data
        return self._run(
            rq,
            request_id,
            "VendorQueryRs",
            data.vendors,
            vendor_ret,
            lambda: parse_list_query(rq, data),
            data.full_name,
        )

    def _item_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        data = self.data
        return self._run(
            rq,
            request_id,
            "ItemQueryRs",
            data.items,
            item_ret,
            lambda: parse_list_query(rq, data),
            data.full_name,
        )

    def _simple_list(
        self, rq: Any, request_id: str, entity: str, writer: Callable[..., str]
    ) -> tuple[str, int]:
        data = self.data
        return self._run(
            rq,
            request_id,
            f"{entity}QueryRs",
            data.table(entity),
            writer,
            lambda: parse_list_query(rq, data),
            data.full_name,
            iterators=False,
        )

    def _terms_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        return self._simple_list(rq, request_id, "Terms", terms_ret)

    def _sales_rep_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        return self._simple_list(rq, request_id, "SalesRep", sales_rep_ret)

    def _class_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        return self._simple_list(rq, request_id, "Class", class_ret)

    def _txn_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        txn_type = _TXN_ITERATOR_QUERIES[rq.tag]
        feature = _FEATURE_OF_TXN.get(txn_type)
        if feature is not None and not self.has_feature(feature):
            message = FEATURE_NOT_ENABLED_MESSAGE
            return rs(
                f"{txn_type}QueryRs", request_id, FEATURE_NOT_ENABLED, message
            ), FEATURE_NOT_ENABLED
        data = self.data
        return self._run(
            rq,
            request_id,
            f"{txn_type}QueryRs",
            data.txns[txn_type],
            txn_ret,
            lambda: parse_txn_query(rq, data, txn_type),
        )

    def _transaction_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        data = self.data
        return self._run(
            rq,
            request_id,
            "TransactionQueryRs",
            AllTxns(data),  # type: ignore[arg-type]
            transaction_ret,
            lambda: parse_transaction_query(rq, data),
        )

    def _deleted_query(self, rq: Any, request_id: str, kind: str) -> tuple[str, int]:
        """ListDeletedQuery / TxnDeletedQuery (``kind`` "List" or "Txn")."""
        rs_tag = f"{kind}DeletedQueryRs"
        for child in rq:
            if child.tag not in (f"{kind}DelType", "DeletedDateRangeFilter", "IncludeRetElement"):
                raise MalformedRequest(f"{rq.tag} cannot hold <{child.tag}>")
        types = {e.text for e in rq.findall(f"{kind}DelType")}
        if not types:
            raise MalformedRequest(f"{rq.tag} needs {kind}DelType")
        window = rq.find("DeletedDateRangeFilter")
        try:
            lo = self._when(window, "FromDeletedDate")
            hi = self._when(window, "ToDeletedDate")
        except QueryError as exc:
            return rs(rs_tag, request_id, exc.code, exc.message), exc.code
        is_list = kind == "List"
        found = [
            d
            for d in self.data.deleted
            if d.is_list == is_list
            and d.del_type in types
            and (lo is None or d.time_deleted >= lo)
            and (hi is None or d.time_deleted <= hi)
        ]
        if not found:
            return rs(rs_tag, request_id, 1, NO_MATCH_MESSAGE), 1
        include = [e.text or "" for e in rq.findall("IncludeRetElement")]
        opts = WriteOptions(include=frozenset(include) if include else None)
        body = "".join(deleted_ret(self.data, d, opts) for d in found)
        return rs(rs_tag, request_id, 0, body=body, extra=(("retCount", str(len(found))),)), 0

    def _when(self, el: Any, tag: str) -> datetime | None:
        text = el.findtext(tag) if el is not None else None
        if text is None:
            return None
        try:
            return self.workstation.parse(text)
        except ValueError as exc:
            raise QueryError(
                3020,
                f'There was an error when converting the date value "{text}" in the field "{tag}".',
            ) from exc

    def _list_deleted_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        return self._deleted_query(rq, request_id, "List")

    def _txn_deleted_query(self, rq: Any, request_id: str) -> tuple[str, int]:
        return self._deleted_query(rq, request_id, "Txn")

    # --- writes ----------------------------------------------------------------------------

    def _customer_add(self, rq: Any, request_id: str) -> tuple[str, int]:
        add = rq.find("CustomerAdd")
        if add is None or add.find("Name") is None:
            raise MalformedRequest("CustomerAddRq needs CustomerAdd with a Name")
        try:
            customer = new_customer(self.data, customer_changes(add, self.data, exclude=None))
        except WriteError as exc:
            return rs("CustomerAddRs", request_id, exc.code, exc.message), exc.code
        body = customer_ret(self.data, customer, WriteOptions(include=_include(rq)))
        return rs("CustomerAddRs", request_id, 0, body=body), 0

    def _customer_mod(self, rq: Any, request_id: str) -> tuple[str, int]:
        mod = rq.find("CustomerMod")
        list_id = mod.findtext("ListID") if mod is not None else None
        edit_sequence = mod.findtext("EditSequence") if mod is not None else None
        if mod is None or list_id is None or edit_sequence is None:
            raise MalformedRequest("CustomerModRq needs ListID and EditSequence")
        customer = self.data.customers.get(list_id)
        try:
            if customer is None:
                raise WriteError(3120, NOT_FOUND_MESSAGE.format(list_id))
            if edit_sequence != customer.edit_sequence:
                raise WriteError(3200, STALE.format(edit_sequence))
            changes = customer_changes(mod, self.data, exclude=list_id)
        except WriteError as exc:
            return rs("CustomerModRs", request_id, exc.code, exc.message), exc.code
        apply_customer(customer, changes)
        if "parent_id" in changes:
            self.data.customers_changed()
        self.data.stamp(customer)
        body = customer_ret(self.data, customer, WriteOptions(include=_include(rq)))
        return rs("CustomerModRs", request_id, 0, body=body), 0

    def _invoice_add(self, rq: Any, request_id: str) -> tuple[str, int]:
        add = rq.find("InvoiceAdd")
        if add is None:
            raise MalformedRequest("InvoiceAddRq needs InvoiceAdd")
        try:
            txn = add_invoice(add, self.data, self.edits.books)
        except WriteError as exc:
            return rs("InvoiceAddRs", request_id, exc.code, exc.message), exc.code
        body = txn_ret(self.data, txn, WriteOptions(include=_include(rq)))
        return rs("InvoiceAddRs", request_id, 0, body=body), 0

    def _data_ext_def_add(self, rq: Any, request_id: str) -> tuple[str, int]:
        el = rq.find("DataExtDefAdd")
        if el is None:
            raise MalformedRequest("DataExtDefAddRq needs DataExtDefAdd")
        try:
            d = define(el, self.data)
        except WriteError as exc:
            return rs("DataExtDefAddRs", request_id, exc.code, exc.message), exc.code
        assigned = "".join(f"<AssignToObject>{esc(a)}</AssignToObject>" for a in d.assign_to)
        body = (
            f"<DataExtDefRet><OwnerID>{esc(d.owner_id)}</OwnerID><DataExtID>{d.ext_id}</DataExtID>"
            f"<DataExtName>{esc(d.name)}</DataExtName><DataExtType>{esc(d.ext_type)}</DataExtType>"
            f"{assigned}<DataExtListRequire>false</DataExtListRequire>"
            "<DataExtTxnRequire>false</DataExtTxnRequire>"
            "<DataExtFormatString></DataExtFormatString></DataExtDefRet>"
        )
        return rs("DataExtDefAddRs", request_id, 0, body=body), 0

    def _data_ext_set(self, rq: Any, request_id: str, adding: bool) -> tuple[str, int]:
        kind = "Add" if adding else "Mod"
        el = rq.find(f"DataExt{kind}")
        if el is None:
            raise MalformedRequest(f"DataExt{kind}Rq needs DataExt{kind}")
        try:
            definition, value = set_value(el, self.data, adding)
        except WriteError as exc:
            return rs(f"DataExt{kind}Rs", request_id, exc.code, exc.message), exc.code
        return rs(f"DataExt{kind}Rs", request_id, 0, body=data_ext_xml(definition, value)), 0

    def _data_ext_add(self, rq: Any, request_id: str) -> tuple[str, int]:
        return self._data_ext_set(rq, request_id, adding=True)

    def _data_ext_mod(self, rq: Any, request_id: str) -> tuple[str, int]:
        return self._data_ext_set(rq, request_id, adding=False)

    # --- the mutation API for tests (see sim.company_edits) ----------------------------------

    def record(self, entity: str, source_id: str) -> Any:
        """The live stored record of ``entity`` with ListID / TxnID ``source_id``."""
        return self.edits.record(entity, source_id)

    def snapshot(self, entity: str) -> EntitySnapshot:
        """The company's current ``entity`` records (facts keyed by ListID / TxnID) and the ids
        deleted so far: what a consumer's end state must match."""
        return self.data.snapshot(entity)

    def modify(self, entity: str, source_id: str, **changes: Any) -> str:
        """Change a record and save it now; return the new EditSequence (``Edits.modify``)."""
        return self.edits.modify(entity, source_id, **changes)

    def delete(self, entity: str, source_id: str) -> SimDeleted:
        """Delete a record now (raises InUseError where QuickBooks refuses); it then shows in
        ListDeletedQuery / TxnDeletedQuery."""
        return self.data.delete(entity, source_id)

    def add(self, entity: str, **values: Any) -> str:
        """Create a record now; return its ListID / TxnID (``Edits.add``)."""
        return self.edits.add(entity, **values)

    def void(self, entity: str, txn_id: str) -> str:
        """Void a ReceivePayment or CreditMemo now: it stays, with zero amounts and no
        applications; its invoices are owed again but not saved (``CompanyData.void``).
        Returns the voided record's new EditSequence."""
        return self.edits.void(entity, txn_id)

    def apply_credit(self, credit_memo_id: str, applied: dict[str, Any]) -> str:
        """Apply a credit memo to invoices ({invoice_id: amount}); only the credit memo is
        saved (``Edits.apply_credit``). Returns its new EditSequence."""
        return self.edits.apply_credit(credit_memo_id, applied)


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _only(rq: Any, allowed: set[str]) -> None:
    """Refuse children the simulator would otherwise ignore (IncludeRetElement ...)."""
    for child in rq if rq is not None else ():
        if isinstance(child.tag, str) and child.tag not in allowed:
            raise SimulatorGap(f"{rq.tag}: the simulator does not implement <{child.tag}>")


def _alive(table: dict[str, Any]) -> Callable[[Any], bool]:
    def alive(record: Any) -> bool:
        key = getattr(record, "list_id", None) or record.txn_id
        return table.get(key) is record

    return alive


def _include(rq: Any) -> frozenset[str] | None:
    names = [e.text or "" for e in rq.findall("IncludeRetElement")]
    return frozenset(names) if names else None


def _page_size(rq: Any) -> int | None:
    text = rq.findtext("MaxReturned")
    if text is None:
        return None
    try:
        size = int(text)
    except ValueError as exc:
        raise QueryError(3000, f'The given value "{text}" for MaxReturned is not valid.') from exc
    if size < 1:
        raise QueryError(3000, f'The given value "{text}" for MaxReturned is not valid.')
    return size
