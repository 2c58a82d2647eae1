"""The generic ``TransactionQueryRq``: transactions of several types in one query.

Schema shape (qbxmlops130.xsd, group ``TransactionFilter``): ``MaxReturned``, then
``TransactionModifiedDateRangeFilter`` and ``TransactionTypeFilter`` (``TxnTypeFilter``*), among
others the relay does not use; then ``IncludeRetElement``*. It takes an iterator. Its
``TransactionRet`` carries only what all transactions share (TxnType, TxnID, TimeModified, ...;
no EditSequence), one per transaction at the default ``TransactionDetailLevelFilter`` of
SummaryOnly. The live mode's change probes use it to ask, in one request, whether any synced
transaction changed (lambdas/sync/gate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from ..errors import QbxmlError
from ..versions import QbxmlVersion
from .core import (
    Iterator,
    format_datetime,
    include_ret_elements,
    iterator_attrs,
    max_returned,
    start_request,
    sub_text,
)

# TxnTypeFilter values (qbxml130.xsd) the relay may ask for: the sales transactions it syncs.
TXN_TYPE_FILTERS: frozenset[str] = frozenset(
    {"CreditMemo", "Estimate", "Invoice", "ReceivePayment", "SalesOrder", "SalesReceipt"}
)


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    """``TransactionQueryRq`` over ``txn_types`` modified in a range."""

    request_id: str
    txn_types: tuple[str, ...]
    max_returned: int | None = None
    iterator: Iterator | None = None
    iterator_id: str | None = None
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    include_ret_elements: tuple[str, ...] = ()

    TAG = "TransactionQueryRq"

    def to_element(self, version: QbxmlVersion) -> Any:
        el = start_request(self.TAG, self.request_id)
        iterator_attrs(el, self.iterator, self.iterator_id, version)
        if not self.txn_types:
            raise QbxmlError("TransactionQuery needs at least one TxnTypeFilter")
        for txn_type in self.txn_types:
            if txn_type not in TXN_TYPE_FILTERS:
                raise QbxmlError(f"not a TxnTypeFilter the relay asks for: {txn_type!r}")
        max_returned(el, self.max_returned)
        if self.from_modified is not None or self.to_modified is not None:
            rng = etree.SubElement(el, "TransactionModifiedDateRangeFilter")
            if self.from_modified is not None:
                sub_text(rng, "FromModifiedDate", format_datetime(self.from_modified))
            if self.to_modified is not None:
                sub_text(rng, "ToModifiedDate", format_datetime(self.to_modified))
        types = etree.SubElement(el, "TransactionTypeFilter")
        for txn_type in self.txn_types:
            sub_text(types, "TxnTypeFilter", txn_type)
        include_ret_elements(el, self.include_ret_elements, version)
        return el
