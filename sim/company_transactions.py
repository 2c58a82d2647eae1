"""The generic TransactionQuery as the simulated company answers it.

One query over several transaction types: ``TxnTypeFilter`` (or All) and
``TransactionModifiedDateRangeFilter`` (both ends inclusive, a zone-less date being the
workstation's local time), ``MaxReturned``, ``IncludeRetElement``, an iterator. Each transaction
comes back once (``TransactionDetailLevelFilter`` SummaryOnly, the schema's default). The other
filters of the schema raise ``SimulatorGap``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .company_data import CompanyData
from .company_queries import (
    MalformedRequest,
    QuerySpec,
    SimulatorGap,
    _check_children,
    _include,
    _max_returned,
    _modified,
    _when,
)
from .company_records import TXN_ENTITIES, SimTxn
from .company_xml import WriteOptions

_FILTERS = {
    "TxnID",
    "MaxReturned",
    "TransactionModifiedDateRangeFilter",
    "TransactionTypeFilter",
    "IncludeRetElement",
}
# The TxnTypeFilter enumeration of qbxml130.xsd; the simulator holds only TXN_ENTITIES.
TXN_TYPE_FILTER_VALUES = frozenset(
    {
        *("All", "ARRefundCreditCard", "Bill", "BillPaymentCheck", "BillPaymentCreditCard"),
        *("BuildAssembly", "Charge", "Check", "CreditCardCharge", "CreditCardCredit"),
        *("CreditMemo", "Deposit", "Estimate", "InventoryAdjustment", "Invoice", "ItemReceipt"),
        *("JournalEntry", "LiabilityAdjustment", "Paycheck", "PayrollLiabilityCheck"),
        *("PurchaseOrder", "ReceivePayment", "SalesOrder", "SalesReceipt"),
        *("SalesTaxPaymentCheck", "Transfer", "VendorCredit", "YTDAdjustment"),
    }
)


class AllTxns(Mapping[str, SimTxn]):
    """Every transaction of the company by TxnID, read live (an iterator's page skips those
    deleted since the query started)."""

    def __init__(self, data: CompanyData) -> None:
        self.data = data

    def __getitem__(self, txn_id: str) -> SimTxn:
        for table in self.data.txns.values():
            if txn_id in table:
                return table[txn_id]
        raise KeyError(txn_id)

    def __iter__(self) -> Iterator[str]:
        for entity in TXN_ENTITIES:
            yield from self.data.txns[entity]

    def __len__(self) -> int:
        return sum(len(t) for t in self.data.txns.values())


def parse_transaction_query(rq: Any, data: CompanyData) -> QuerySpec:
    """A ``TransactionQueryRq`` as a query spec over ``AllTxns``."""
    _check_children(rq, _FILTERS)
    spec = QuerySpec(
        ids=[e.text or "" for e in rq.findall("TxnID")],
        max_returned=_max_returned(rq),
        options=WriteOptions(include=_include(rq)),
    )
    if spec.ids:
        return spec
    modified = rq.find("TransactionModifiedDateRangeFilter")
    if modified is not None:
        if modified.find("DateMacro") is not None:
            raise SimulatorGap(f"{rq.tag}: the simulator does not implement <DateMacro>")
        ws = data.workstation
        spec.matchers += _modified(
            _when(ws, modified, "FromModifiedDate"), _when(ws, modified, "ToModifiedDate")
        )
    types_el = rq.find("TransactionTypeFilter")
    if types_el is not None:
        types = {e.text or "" for e in types_el.findall("TxnTypeFilter")}
        unknown = types - TXN_TYPE_FILTER_VALUES
        if not types or unknown:
            raise MalformedRequest(f"{rq.tag}: TxnTypeFilter {sorted(unknown) or 'missing'}")
        if "All" not in types:
            spec.matchers.append(lambda t: t.txn_type in types)
    return spec
