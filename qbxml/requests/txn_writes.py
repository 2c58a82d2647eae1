"""Add requests of transactions for write-back: ``InvoiceAdd`` and its lines.

Table-driven like the list writes (``writes.py``): each table lists the elements in the order
of qbxml130.xsd with their limits and the version that introduced them (from the per-element
annotations of Intuit's qbxmlopsNN.xml spec files: TemplateRef 3.0, BillAddress/ShipAddress
2.0, Other 6.0, ExternalGUID 9.0). Lines follow the header fields; a line carries an item and
either a rate (with a quantity) or an amount, or both (QuickBooks then checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from lxml import etree

from ..errors import QbxmlError
from ..records import Address, Ref
from ..versions import QbxmlVersion
from .core import include_ret_elements, start_request, v
from .writes import V1_0, V6_0, FieldSpec, render_fields

V2_0 = v("2.0")
V3_0 = v("3.0")
V9_0 = v("9.0")


@dataclass(frozen=True, slots=True)
class InvoiceLineData:
    """One ``InvoiceLineAdd``: None leaves an element out."""

    item: Ref | None = None
    desc: str | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    class_: Ref | None = None
    amount: Decimal | None = None
    service_date: date | None = None


INVOICE_LINE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("ItemRef", "item", "ref", max_length=159),
    FieldSpec("Desc", "desc", max_length=4095),
    FieldSpec("Quantity", "quantity", "decimal"),
    FieldSpec("Rate", "rate", "decimal"),
    FieldSpec("ClassRef", "class_", "ref", max_length=159),
    FieldSpec("Amount", "amount", "amount"),
    FieldSpec("ServiceDate", "service_date", "date"),
)


@dataclass(frozen=True, slots=True)
class InvoiceData:
    """The writable invoice header fields and the lines; ``customer`` is required."""

    customer: Ref | None = None
    class_: Ref | None = None
    template: Ref | None = None
    txn_date: date | None = None
    ref_number: str | None = None  # None: QuickBooks numbers the invoice
    bill_address: Address | None = None
    ship_address: Address | None = None
    is_pending: bool | None = None
    po_number: str | None = None
    terms: Ref | None = None
    due_date: date | None = None
    sales_rep: Ref | None = None
    memo: str | None = None
    other: str | None = None
    external_guid: str | None = None
    lines: tuple[InvoiceLineData, ...] = ()


INVOICE_ADD_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("CustomerRef", "customer", "ref", max_length=209),
    FieldSpec("ClassRef", "class_", "ref", max_length=159),
    FieldSpec("TemplateRef", "template", "ref", max_length=31, since=V3_0),
    FieldSpec("TxnDate", "txn_date", "date"),
    FieldSpec("RefNumber", "ref_number", max_length=11),
    FieldSpec("BillAddress", "bill_address", "address", since=V2_0),
    FieldSpec("ShipAddress", "ship_address", "address", since=V2_0),
    FieldSpec("IsPending", "is_pending", "bool"),
    FieldSpec("PONumber", "po_number", max_length=25),
    FieldSpec("TermsRef", "terms", "ref", max_length=31),
    FieldSpec("DueDate", "due_date", "date"),
    FieldSpec("SalesRepRef", "sales_rep", "ref", max_length=5),
    FieldSpec("Memo", "memo", max_length=4095),
    FieldSpec("Other", "other", max_length=29, since=V6_0),
    FieldSpec("ExternalGUID", "external_guid", "guid", since=V9_0),
)


@dataclass(frozen=True, slots=True)
class InvoiceAdd:
    """``InvoiceAddRq``: the header fields of ``data`` in schema order, then its lines."""

    request_id: str
    data: InvoiceData
    include_ret_elements: tuple[str, ...] = ()

    TAG: ClassVar[str] = "InvoiceAddRq"
    SINCE: ClassVar[QbxmlVersion] = V1_0

    def to_element(self, version: QbxmlVersion) -> Any:
        el = start_request(self.TAG, self.request_id)
        if self.data.customer is None:
            raise QbxmlError("InvoiceAdd needs CustomerRef")
        body = etree.SubElement(el, "InvoiceAdd")
        render_fields(body, INVOICE_ADD_FIELDS, self.data, version)
        for index, line in enumerate(self.data.lines, 1):
            if not isinstance(line, InvoiceLineData):
                raise QbxmlError(f"InvoiceAdd line {index} needs an InvoiceLineData")
            if line.rate is None and line.amount is None and line.item is not None:
                # QuickBooks would take the item's price; write-back always says what it sells.
                raise QbxmlError(f"InvoiceLineAdd {index} needs a Rate or an Amount")
            line_el = etree.SubElement(body, "InvoiceLineAdd")
            render_fields(line_el, INVOICE_LINE_FIELDS, line, version, context="InvoiceLineAdd")
        include_ret_elements(el, self.include_ret_elements, version)
        return el
