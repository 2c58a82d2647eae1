"""Data extensions: define one and set its value (the relay stamps a FileID on the company).

``DataExtDefAdd`` defines a named extension under an OwnerID (our app's GUID keeps it private);
``DataExtAdd`` sets its value on the company (``OtherDataExtType`` Company) or on one list
element. Both arrived in qbXML 2.0; DataExtDefAdd's require/format elements in 12.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from lxml import etree

from ..errors import QbxmlError
from ..versions import QbxmlVersion
from .core import V2_0, check_guid, format_value, start_request, sub_text, supports, v

DataExtType = Literal[
    "AMTTYPE",
    "DATETIMETYPE",
    "INTTYPE",
    "PERCENTTYPE",
    "PRICETYPE",
    "QUANTYPE",
    "STR1024TYPE",
    "STR255TYPE",
]
DATA_EXT_TYPES = frozenset(DataExtType.__args__)  # type: ignore[attr-defined]
ASSIGN_TO_OBJECTS = frozenset(
    {
        *("Account", "ARRefundCreditCard", "Bill", "BillPaymentCheck", "BillPaymentCreditCard"),
        *("BuildAssembly", "Charge", "Check", "Company", "CreditCardCharge", "CreditCardCredit"),
        *("CreditMemo", "Customer", "Deposit", "Employee", "Estimate", "InventoryAdjustment"),
        *("Invoice", "Item", "ItemReceipt", "JournalEntry", "OtherName", "PurchaseOrder"),
        *("ReceivePayment", "SalesOrder", "SalesReceipt", "SalesTaxPaymentCheck", "Vendor"),
        "VendorCredit",
    }
)
LIST_DATA_EXT_TYPES = frozenset({"Account", "Customer", "Employee", "Item", "OtherName", "Vendor"})
MAX_DATA_EXT_NAME = 31
# The longest value QuickBooks stores for the string types; the numeric ones are far shorter.
MAX_DATA_EXT_VALUE = 1024
V12_0 = v("12.0")


def _head(el: Any, owner_id: str, name: str) -> None:
    sub_text(el, "OwnerID", check_guid(owner_id, "OwnerID"))
    sub_text(el, "DataExtName", name, max_length=MAX_DATA_EXT_NAME)


@dataclass(frozen=True, slots=True)
class DataExtDefAdd:
    """``DataExtDefAddRq``: define extension ``name`` of ``ext_type`` on ``assign_to``."""

    request_id: str
    owner_id: str
    name: str
    ext_type: DataExtType = "STR255TYPE"
    assign_to: tuple[str, ...] = ("Company",)
    list_require: bool | None = None
    txn_require: bool | None = None
    format_string: str | None = None

    def to_element(self, version: QbxmlVersion) -> Any:
        supports(version, V2_0, "DataExtDefAdd", explicit=True)
        el = start_request("DataExtDefAddRq", self.request_id)
        body = etree.SubElement(el, "DataExtDefAdd")
        _head(body, self.owner_id, self.name)
        if self.ext_type not in DATA_EXT_TYPES:
            raise QbxmlError(f"not a DataExtType: {self.ext_type!r}")
        sub_text(body, "DataExtType", self.ext_type)
        for target in self.assign_to:
            if target not in ASSIGN_TO_OBJECTS:
                raise QbxmlError(f"not an AssignToObject: {target!r}")
            sub_text(body, "AssignToObject", target)
        for tag, value in (
            ("DataExtListRequire", self.list_require),
            ("DataExtTxnRequire", self.txn_require),
            ("DataExtFormatString", self.format_string),
        ):
            if value is not None and supports(version, V12_0, tag, explicit=True):
                sub_text(body, tag, format_value(value))
        return el


@dataclass(frozen=True, slots=True)
class DataExtAdd:
    """``DataExtAddRq``: set ``name`` to ``value`` on the company, or on one list element.

    With ``list_type`` (Customer, Vendor, Item ...) and ``list_id`` the value goes on that
    element; otherwise on the company (``OtherDataExtType`` Company).
    """

    request_id: str
    owner_id: str
    name: str
    value: str
    list_type: str | None = None
    list_id: str | None = None

    def to_element(self, version: QbxmlVersion) -> Any:
        supports(version, V2_0, "DataExtAdd", explicit=True)
        el = start_request("DataExtAddRq", self.request_id)
        body = etree.SubElement(el, "DataExtAdd")
        _head(body, self.owner_id, self.name)
        if self.list_type is None and self.list_id is None:
            sub_text(body, "OtherDataExtType", "Company")
        elif self.list_type in LIST_DATA_EXT_TYPES and self.list_id:
            sub_text(body, "ListDataExtType", self.list_type)
            ref = etree.SubElement(body, "ListObjRef")
            sub_text(ref, "ListID", self.list_id)
        else:
            raise QbxmlError(
                "DataExtAdd on a list element needs list_type (one of "
                f"{', '.join(sorted(LIST_DATA_EXT_TYPES))}) and its list_id"
            )
        sub_text(body, "DataExtValue", self.value, max_length=MAX_DATA_EXT_VALUE)
        return el
