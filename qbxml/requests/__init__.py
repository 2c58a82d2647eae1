"""qbXML request builders: correct by construction.

Each request type is a frozen dataclass that renders its ``*Rq`` element with children in the
order the 13.0 schema requires, for the negotiated version (``to_element(version)``).
``build_message_set`` wraps them with the XML and qbXML declarations, ``onError`` and a
``requestID`` on every request. Text goes through lxml (escaped) and through
``qbxml.text.to_qb_text`` (ISO-8859-1 only); lengths are checked against QuickBooks' limits.
"""

from .company import CompanyQuery, HostQuery, PreferencesQuery
from .core import (
    MAX_REQUEST_ID,
    ActiveStatus,
    Iterator,
    OnError,
    Request,
    build_message_set,
    format_datetime,
    sub_text,
)
from .dataext import DataExtAdd, DataExtDefAdd
from .deleted import LIST_DEL_TYPES, TXN_DEL_TYPES, ListDeletedQuery, TxnDeletedQuery
from .lists import (
    ClassQuery,
    CustomerQuery,
    DateDrivenTermsQuery,
    ItemQuery,
    ListQuery,
    SalesRepQuery,
    StandardTermsQuery,
    TermsQuery,
    VendorQuery,
)
from .transactions import TXN_TYPE_FILTERS, TransactionQuery
from .txn_writes import InvoiceAdd, InvoiceData, InvoiceLineData
from .txns import (
    CreditMemoQuery,
    EstimateQuery,
    InvoiceQuery,
    ReceivePaymentQuery,
    SalesOrderQuery,
    SalesReceiptQuery,
    TxnQuery,
)
from .writes import CustomerAdd, CustomerData, CustomerMod, FieldSpec, ListAdd, ListMod

__all__ = [
    "LIST_DEL_TYPES",
    "MAX_REQUEST_ID",
    "TXN_DEL_TYPES",
    "TXN_TYPE_FILTERS",
    "ActiveStatus",
    "ClassQuery",
    "CompanyQuery",
    "CreditMemoQuery",
    "CustomerAdd",
    "CustomerData",
    "CustomerMod",
    "CustomerQuery",
    "DataExtAdd",
    "DataExtDefAdd",
    "DateDrivenTermsQuery",
    "EstimateQuery",
    "FieldSpec",
    "HostQuery",
    "InvoiceAdd",
    "InvoiceData",
    "InvoiceLineData",
    "InvoiceQuery",
    "ItemQuery",
    "Iterator",
    "ListAdd",
    "ListDeletedQuery",
    "ListMod",
    "ListQuery",
    "OnError",
    "PreferencesQuery",
    "ReceivePaymentQuery",
    "Request",
    "SalesOrderQuery",
    "SalesReceiptQuery",
    "SalesRepQuery",
    "StandardTermsQuery",
    "TermsQuery",
    "TransactionQuery",
    "TxnDeletedQuery",
    "TxnQuery",
    "VendorQuery",
    "build_message_set",
    "format_datetime",
    "sub_text",
]
