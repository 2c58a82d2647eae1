"""The lines of a QuickBooks Online sales form, as the canonical record's lines and groups."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from qbxml.records import LinkedTxn, TxnLine, TxnLineGroup

from .values import canonical_id, day, number, ref, text

# Transaction types named in LinkedTxn, as Desktop names them.
TXN_TYPES = {"Payment": "ReceivePayment"}


def txn_type(value: Any) -> str | None:
    """A linked transaction's type in Desktop's names (``Payment`` is ``ReceivePayment``)."""
    name = text(value)
    return TXN_TYPES.get(name, name) if name else None


def _item_line(line: dict[str, Any], group: str | None = None) -> TxnLine:
    detail = line.get("SalesItemLineDetail") or {}
    return TxnLine(
        txn_line_id=text(line.get("Id")),
        item=ref(detail.get("ItemRef")),
        desc=text(line.get("Description")),
        quantity=number(detail.get("Qty")),
        rate=number(detail.get("UnitPrice")),
        class_=ref(detail.get("ClassRef")),
        amount=number(line.get("Amount")),
        service_date=day(detail.get("ServiceDate")),
        sales_tax_code=ref(detail.get("TaxCodeRef")),
        group_line_id=group,
    )


def sales_lines(raw: Any) -> tuple[list[TxnLine], list[TxnLineGroup], Decimal | None]:
    """(lines, line groups, subtotal) of a sales form's ``Line`` array.

    Item lines and a group's component lines are lines (components carry the group's id);
    description-only and discount lines are lines without an item (a discount as a negative
    amount, as Desktop's discount items are); the subtotal line is the form's subtotal.
    """
    lines: list[TxnLine] = []
    groups: list[TxnLineGroup] = []
    subtotal: Decimal | None = None
    for line in raw if isinstance(raw, list) else []:
        if not isinstance(line, dict):
            continue
        kind = line.get("DetailType")
        if kind == "SalesItemLineDetail":
            lines.append(_item_line(line))
        elif kind == "GroupLineDetail":
            detail = line.get("GroupLineDetail") or {}
            gid = text(line.get("Id"))
            groups.append(
                TxnLineGroup(
                    txn_line_id=gid,
                    item_group=ref(detail.get("GroupItemRef")),
                    desc=text(line.get("Description")),
                    quantity=number(detail.get("Quantity")),
                    total_amount=number(line.get("Amount")),
                )
            )
            for part in detail.get("Line") or []:
                if isinstance(part, dict) and part.get("DetailType") == "SalesItemLineDetail":
                    lines.append(_item_line(part, gid))
        elif kind == "DescriptionOnly":
            lines.append(
                TxnLine(
                    txn_line_id=text(line.get("Id")),
                    desc=text(line.get("Description")),
                    amount=number(line.get("Amount")),
                )
            )
        elif kind == "DiscountLineDetail":
            detail = line.get("DiscountLineDetail") or {}
            amount = number(line.get("Amount"))
            lines.append(
                TxnLine(
                    txn_line_id=text(line.get("Id")),
                    desc=text(line.get("Description")) or "Discount",
                    amount=-amount if amount is not None else None,
                    rate_percent=number(detail.get("DiscountPercent"))
                    if detail.get("PercentBased")
                    else None,
                )
            )
        elif kind == "SubTotalLineDetail":
            subtotal = number(line.get("Amount"))
    return lines, groups, subtotal


def linked_txns(raw: Any) -> list[LinkedTxn]:
    """``LinkedTxn`` entries (the payments, estimates ... linked to a form)."""
    return [
        LinkedTxn(txn_id=canonical_id(lt["TxnId"]), txn_type=txn_type(lt.get("TxnType")))
        for lt in (raw if isinstance(raw, list) else [])
        if isinstance(lt, dict) and lt.get("TxnId") not in (None, "")
    ]
