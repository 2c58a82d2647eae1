"""Queries of sales transactions: estimates, sales orders, invoices, receipts, payments, credits.

Schema shape (qbxmlops130.xsd): ``TxnID``* or ``RefNumber``* or the filters ``MaxReturned``,
``ModifiedDateRangeFilter`` or ``TxnDateRangeFilter``, ``EntityFilter``, (``PaidStatus`` for
invoices); then ``IncludeLineItems``, ``IncludeLinkedTxns`` (not for sales receipts and received
payments, whose schema lacks it), ``IncludeRetElement``*, ``OwnerID``*. All take an iterator.
Versions (see ``core``): SalesOrderQuery 2.1, ReceivePaymentQuery 1.1; IncludeLinkedTxns 1.1
(Invoice, CreditMemo), 2.0 on SalesOrder (so 2.1 with the query), 3.0 on Estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from lxml import etree

from ..errors import QbxmlError
from ..versions import QbxmlVersion
from .core import (
    Iterator,
    format_datetime,
    format_value,
    include_ret_elements,
    iterator_attrs,
    max_returned,
    owner_ids,
    start_request,
    sub_text,
    supports,
    v,
)

V1_0 = v("1.0")
V1_1 = v("1.1")

PaidStatus = Literal["All", "PaidOnly", "NotPaidOnly"]


@dataclass(frozen=True, slots=True)
class TxnQuery:
    """A transaction query; subclasses name the element and what its schema allows."""

    request_id: str
    max_returned: int | None = None
    iterator: Iterator | None = None
    iterator_id: str | None = None
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    from_txn_date: date | None = None
    to_txn_date: date | None = None
    entity_list_ids: tuple[str, ...] = ()
    paid_status: PaidStatus | None = None
    include_line_items: bool | None = None
    include_linked_txns: bool | None = None
    include_ret_elements: tuple[str, ...] = ()
    owner_ids: tuple[str, ...] | None = None
    txn_ids: tuple[str, ...] = ()
    ref_numbers: tuple[str, ...] = ()

    TAG: ClassVar[str] = ""
    HAS_LINKED_TXNS: ClassVar[bool] = True
    HAS_PAID_STATUS: ClassVar[bool] = False
    SINCE: ClassVar[QbxmlVersion] = V1_0  # the request type itself
    LINKED_TXNS_SINCE: ClassVar[QbxmlVersion] = V1_1

    def to_element(self, version: QbxmlVersion) -> Any:
        supports(version, self.SINCE, self.TAG, explicit=True)
        el = start_request(self.TAG, self.request_id)
        iterator_attrs(el, self.iterator, self.iterator_id, version)
        if self.txn_ids or self.ref_numbers:
            self._by_identity(el)
        else:
            self._filters(el)
        if self.include_line_items is not None:
            sub_text(el, "IncludeLineItems", format_value(self.include_line_items))
        if self.include_linked_txns is not None:
            if not self.HAS_LINKED_TXNS:
                raise QbxmlError(f"{self.TAG} has no IncludeLinkedTxns in the qbXML schema")
            supports(version, self.LINKED_TXNS_SINCE, "IncludeLinkedTxns", explicit=True)
            sub_text(el, "IncludeLinkedTxns", format_value(self.include_linked_txns))
        include_ret_elements(el, self.include_ret_elements, version)
        owner_ids(el, self.owner_ids, version)
        return el

    def _by_identity(self, el: Any) -> None:
        if self.txn_ids and self.ref_numbers:
            raise QbxmlError(f"{self.TAG}: TxnID and RefNumber cannot be combined")
        filters = (
            *(self.max_returned, self.from_modified, self.to_modified, self.from_txn_date),
            *(self.to_txn_date, self.paid_status),
        )
        if any(f is not None for f in filters) or self.entity_list_ids:
            raise QbxmlError(f"{self.TAG}: a TxnID/RefNumber lookup takes no filters")
        for txn_id in self.txn_ids:
            sub_text(el, "TxnID", txn_id)
        for ref in self.ref_numbers:
            sub_text(el, "RefNumber", ref)

    def _filters(self, el: Any) -> None:
        max_returned(el, self.max_returned)
        modified = self.from_modified is not None or self.to_modified is not None
        dated = self.from_txn_date is not None or self.to_txn_date is not None
        if modified and dated:
            raise QbxmlError(f"{self.TAG}: modified-date and txn-date ranges are exclusive")
        if modified:
            rng = etree.SubElement(el, "ModifiedDateRangeFilter")
            if self.from_modified is not None:
                sub_text(rng, "FromModifiedDate", format_datetime(self.from_modified))
            if self.to_modified is not None:
                sub_text(rng, "ToModifiedDate", format_datetime(self.to_modified))
        if dated:
            rng = etree.SubElement(el, "TxnDateRangeFilter")
            if self.from_txn_date is not None:
                sub_text(rng, "FromTxnDate", format_value(self.from_txn_date))
            if self.to_txn_date is not None:
                sub_text(rng, "ToTxnDate", format_value(self.to_txn_date))
        if self.entity_list_ids:
            entity = etree.SubElement(el, "EntityFilter")
            for list_id in self.entity_list_ids:
                sub_text(entity, "ListID", list_id)
        if self.paid_status is not None:
            if not self.HAS_PAID_STATUS:
                raise QbxmlError(f"{self.TAG} has no PaidStatus in the qbXML schema")
            if self.paid_status not in ("All", "PaidOnly", "NotPaidOnly"):
                raise QbxmlError(f"not a PaidStatus: {self.paid_status!r}")
            sub_text(el, "PaidStatus", self.paid_status)


@dataclass(frozen=True, slots=True)
class EstimateQuery(TxnQuery):
    """``EstimateQueryRq``."""

    TAG: ClassVar[str] = "EstimateQueryRq"
    LINKED_TXNS_SINCE: ClassVar[QbxmlVersion] = v("3.0")


@dataclass(frozen=True, slots=True)
class SalesOrderQuery(TxnQuery):
    """``SalesOrderQueryRq``."""

    TAG: ClassVar[str] = "SalesOrderQueryRq"
    SINCE: ClassVar[QbxmlVersion] = v("2.1")
    LINKED_TXNS_SINCE: ClassVar[QbxmlVersion] = v("2.1")


@dataclass(frozen=True, slots=True)
class InvoiceQuery(TxnQuery):
    """``InvoiceQueryRq``."""

    TAG: ClassVar[str] = "InvoiceQueryRq"
    HAS_PAID_STATUS: ClassVar[bool] = True


@dataclass(frozen=True, slots=True)
class SalesReceiptQuery(TxnQuery):
    """``SalesReceiptQueryRq`` (no IncludeLinkedTxns in its schema)."""

    TAG: ClassVar[str] = "SalesReceiptQueryRq"
    HAS_LINKED_TXNS: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class ReceivePaymentQuery(TxnQuery):
    """``ReceivePaymentQueryRq`` (no IncludeLinkedTxns; applied-to txns always come back)."""

    TAG: ClassVar[str] = "ReceivePaymentQueryRq"
    SINCE: ClassVar[QbxmlVersion] = V1_1
    HAS_LINKED_TXNS: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class CreditMemoQuery(TxnQuery):
    """``CreditMemoQueryRq``."""

    TAG: ClassVar[str] = "CreditMemoQueryRq"
