"""Canonical typed records parsed from qbXML ``*Ret`` elements.

Money is ``Decimal``, timestamps are timezone-aware ``datetime``, dates are ``date``, references
keep both ListID and FullName. Records are plain dataclasses so they serialize to JSON (see
``to_dict``) and hash stably. Every record has ``entity`` and ``source_id``.
"""

from __future__ import annotations

from typing import Any

from .base import Address, CustomField, GenericRecord, Ref, fields_into, json_fields
from .deleted import ListDeleted, TxnDeleted
from .lists import ITEM_TYPES, Class, Customer, Item, SalesRep, Terms, Vendor
from .txns import (
    AppliedToTxn,
    CreditMemo,
    Estimate,
    Invoice,
    LinkedTxn,
    ReceivePayment,
    SalesOrder,
    SalesReceipt,
    SalesTxn,
    TxnLine,
    TxnLineGroup,
)

Record = (
    Customer
    | Vendor
    | Item
    | Terms
    | SalesRep
    | Class
    | Estimate
    | SalesOrder
    | Invoice
    | SalesReceipt
    | ReceivePayment
    | CreditMemo
    | ListDeleted
    | TxnDeleted
    | GenericRecord
)


def to_dict(record: Record) -> dict[str, Any]:
    """JSON-ready dict of a record: ``"entity"`` plus its fields (Decimals, dates as strings)."""
    return fields_into({"entity": record.entity}, record)


__all__ = [
    "ITEM_TYPES",
    "Address",
    "AppliedToTxn",
    "Class",
    "CreditMemo",
    "CustomField",
    "Customer",
    "Estimate",
    "GenericRecord",
    "Invoice",
    "Item",
    "LinkedTxn",
    "ListDeleted",
    "ReceivePayment",
    "Record",
    "Ref",
    "SalesOrder",
    "SalesReceipt",
    "SalesRep",
    "SalesTxn",
    "Terms",
    "TxnDeleted",
    "TxnLine",
    "TxnLineGroup",
    "Vendor",
    "json_fields",
    "to_dict",
]
