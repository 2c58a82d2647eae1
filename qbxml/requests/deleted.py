"""Deletion queries: what was deleted from lists and transactions in a date range.

Neither has an iterator, MaxReturned or OwnerID in the schema (qbxmlops130.xsd); both appeared
in qbXML 2.0. The del-type values are the 13.0 enumerations; every value the sync uses exists
since 3.0 at the latest (ItemFixedAsset and SalesOrder), below the relay's minimum of 5.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from lxml import etree

from ..errors import QbxmlError
from ..versions import QbxmlVersion
from .core import V2_0, format_datetime, include_ret_elements, start_request, sub_text, supports

LIST_DEL_TYPES: frozenset[str] = frozenset(
    {
        *("Account", "BillingRate", "Class", "Currency", "Customer", "CustomerMsg"),
        *("CustomerType", "DateDrivenTerms", "Employee", "InventorySite", "ItemDiscount"),
        *("ItemFixedAsset", "ItemGroup", "ItemInventory", "ItemInventoryAssembly"),
        *("ItemNonInventory", "ItemOtherCharge", "ItemPayment", "ItemSalesTax"),
        *("ItemSalesTaxGroup", "ItemService", "ItemSubtotal", "JobType", "OtherName"),
        *("PaymentMethod", "PayrollItemNonWage", "PayrollItemWage", "PriceLevel", "SalesRep"),
        *("SalesTaxCode", "ShipMethod", "StandardTerms", "ToDo", "UnitOfMeasureSet"),
        *("Vehicle", "Vendor", "VendorType", "WorkersCompCode"),
    }
)
TXN_DEL_TYPES: frozenset[str] = frozenset(
    {
        *("ARRefundCreditCard", "Bill", "BillPaymentCheck", "BillPaymentCreditCard"),
        *("BuildAssembly", "Charge", "Check", "CreditCardCharge", "CreditCardCredit"),
        *("CreditMemo", "Deposit", "Estimate", "InventoryAdjustment", "Invoice"),
        *("ItemReceipt", "JournalEntry", "PurchaseOrder", "ReceivePayment", "SalesOrder"),
        *("SalesReceipt", "SalesTaxPaymentCheck", "TimeTracking", "TransferInventory"),
        *("VehicleMileage", "VendorCredit"),
    }
)


@dataclass(frozen=True, slots=True)
class _DeletedQuery:
    request_id: str
    del_types: tuple[str, ...]
    from_deleted: datetime | None = None
    to_deleted: datetime | None = None
    include_ret_elements: tuple[str, ...] = ()

    NAME: ClassVar[str] = ""
    ALLOWED: ClassVar[frozenset[str]] = frozenset()

    def to_element(self, version: QbxmlVersion) -> Any:
        supports(version, V2_0, f"{self.NAME}Query", explicit=True)
        el = start_request(f"{self.NAME}QueryRq", self.request_id)
        if not self.del_types:
            raise QbxmlError(f"{self.NAME}Query needs at least one {self._type_tag}")
        for del_type in self.del_types:
            if del_type not in self.ALLOWED:
                raise QbxmlError(f"not a {self._type_tag}: {del_type!r}")
            sub_text(el, self._type_tag, del_type)
        if self.from_deleted is not None or self.to_deleted is not None:
            rng = etree.SubElement(el, "DeletedDateRangeFilter")
            if self.from_deleted is not None:
                sub_text(rng, "FromDeletedDate", format_datetime(self.from_deleted))
            if self.to_deleted is not None:
                sub_text(rng, "ToDeletedDate", format_datetime(self.to_deleted))
        include_ret_elements(el, self.include_ret_elements, version)
        return el

    @property
    def _type_tag(self) -> str:
        return f"{self.NAME.removesuffix('Deleted')}DelType"


@dataclass(frozen=True, slots=True)
class ListDeletedQuery(_DeletedQuery):
    """``ListDeletedQueryRq`` over ``del_types`` (ListDelType values such as "Customer")."""

    NAME: ClassVar[str] = "ListDeleted"
    ALLOWED: ClassVar[frozenset[str]] = LIST_DEL_TYPES


@dataclass(frozen=True, slots=True)
class TxnDeletedQuery(_DeletedQuery):
    """``TxnDeletedQueryRq`` over ``del_types`` (TxnDelType values such as "Invoice")."""

    NAME: ClassVar[str] = "TxnDeleted"
    ALLOWED: ClassVar[frozenset[str]] = TXN_DEL_TYPES
