"""InvoiceAdd as QuickBooks Desktop applies it: references checked, numbered, stamped.

The customer and every line's item must exist (by ListID or FullName), else status 3140, the
"invalid reference" QuickBooks gives (messages shaped after company_writes.BAD_REF). The new
invoice gets a TxnID, TxnNumber, EditSequence and TimeModified of now, the next RefNumber when
none is given, the customer's terms and bill address as QuickBooks fills them in, and then
answers InvoiceQuery like every other invoice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from .company_data import CompanyData
from .company_generate import SampleBooks, due_date
from .company_queries import MalformedRequest, SimulatorGap
from .company_records import ZERO, SimAddress, SimLine, SimTxn
from .company_writes import TOO_LONG, WriteError

INVOICE_BAD_REF = (
    'There is an invalid reference to QuickBooks {0} "{1}" in the Invoice.  QuickBooks error '
    "message: Invalid argument.  The specified record does not exist in the list."
)
CENT = Decimal("0.01")
# The InvoiceAdd children the simulator applies; any other is a SimulatorGap.
_HEADER = {"CustomerRef", "TxnDate", "RefNumber", "PONumber", "Memo", "InvoiceLineAdd"}
_LINE = {"ItemRef", "Desc", "Quantity", "Rate", "Amount"}
_LIMITS = {"RefNumber": 11, "PONumber": 25, "Memo": 4095, "Desc": 4095}


def add_invoice(el: Any, data: CompanyData, books: SampleBooks) -> SimTxn:
    """Apply one ``InvoiceAdd`` element; WriteError with QuickBooks' status when refused."""
    for child in el:
        if child.tag not in _HEADER:
            raise SimulatorGap(f"InvoiceAdd: the simulator does not implement <{child.tag}>")
    ref = el.find("CustomerRef")
    if ref is None:
        raise MalformedRequest("InvoiceAdd needs CustomerRef")
    customer_id = _resolve(ref, data.customers, data, "Customer")
    customer = data.customers[customer_id]
    texts = {tag: _text(el, tag) for tag in ("RefNumber", "PONumber", "Memo")}
    now = data.clock.now()
    lines = [_line(line, data, now) for line in el.findall("InvoiceLineAdd")]
    txn_date = _date(el.findtext("TxnDate")) or now.date()
    txn = SimTxn(
        txn_id=data.new_txn_id(now),
        txn_type="Invoice",
        time_created=now,
        time_modified=now,
        edit_sequence=str(int(now.timestamp())),
        txn_number=data.new_txn_number(),
        customer_id=customer_id,
        txn_date=txn_date,
        ref_number=texts["RefNumber"] or books.next_ref("Invoice"),
        memo=texts["Memo"],
        po_number=texts["PONumber"],
        lines=lines,
        is_pending=False,
    )
    bill = customer.bill_address or SimAddress()
    txn.bill_address = SimAddress(
        addr1=bill.addr1, addr2=bill.addr2, city=customer.city, state=customer.state
    )
    txn.terms_id = customer.terms_id
    if txn.terms_id is not None:
        txn.due_date = due_date(data.terms[txn.terms_id], txn_date)
    data.txns["Invoice"][txn.txn_id] = txn
    data.refresh_balance(customer_id)
    return txn


def _text(el: Any, tag: str) -> str | None:
    text = el.findtext(tag)
    if text is not None and len(text) > _LIMITS[tag]:
        raise WriteError(3070, TOO_LONG.format(text, tag))
    return text or None


def _resolve(ref: Any, table: dict[str, Any], data: CompanyData, label: str) -> str:
    list_id = ref.findtext("ListID")
    if list_id is not None:
        if list_id in table:
            return list_id
        raise WriteError(3140, INVOICE_BAD_REF.format(label, list_id))
    wanted = (ref.findtext("FullName") or "").casefold()
    for record in table.values():
        if data.full_name(record).casefold() == wanted:
            return record.list_id
    raise WriteError(3140, INVOICE_BAD_REF.format(label, ref.findtext("FullName") or ""))


def _line(el: Any, data: CompanyData, now: Any) -> SimLine:
    for child in el:
        if child.tag not in _LINE:
            raise SimulatorGap(f"InvoiceLineAdd: the simulator does not implement <{child.tag}>")
    ref = el.find("ItemRef")
    if ref is None:
        raise SimulatorGap("InvoiceLineAdd without an ItemRef (a description line)")
    item = data.items[_resolve(ref, data.items, data, "Item")]
    quantity = _number(el, "Quantity")
    rate = _number(el, "Rate")
    amount = _number(el, "Amount")
    if rate is None and amount is None:
        rate = item.price if item.price is not None else ZERO
    if amount is None:
        amount = ((quantity if quantity is not None else Decimal(1)) * (rate or ZERO)).quantize(
            CENT
        )
    desc = _text(el, "Desc")
    return SimLine(
        txn_line_id=data.new_txn_id(now),
        item_id=item.list_id,
        desc=desc if desc is not None else item.desc,
        quantity=quantity,
        rate=rate,
        amount=amount,
        sales_tax_code=item.sales_tax_code,
    )


def _number(el: Any, tag: str) -> Decimal | None:
    text = el.findtext(tag)
    if text is None:
        return None
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise WriteError(
            3040, f'There was an error when converting the amount "{text}" in the field "{tag}".'
        ) from exc


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise WriteError(
            3020,
            f'There was an error when converting the date value "{text}" in the field "TxnDate".',
        ) from exc
