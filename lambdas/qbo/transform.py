"""QuickBooks Online objects -> the canonical records their Desktop twins become.

A QBO ``Customer``, ``Item``, ``Estimate``, ``Invoice``, ``SalesReceipt``, ``Payment`` or
``CreditMemo`` becomes the same qbxml record type the Web Connector path produces (``Payment`` is
``ReceivePayment``), so the forwarder, the mapping, change detection and the audit read it
unchanged. Ids live in their own id space (``values.canonical_id``). The version is QBO's
``SyncToken`` (an integer bumped on every change, carried as ``sync_token``, which
``identity.version`` reads and change detection ignores) and ``time_modified`` is
``MetaData.LastUpdatedTime``. A deleted object (change-data-capture's ``status: Deleted``, a
webhook's Delete, the loser of a customer merge) becomes a ``ListDeleted`` / ``TxnDeleted``.

Quirks: QBO keeps ``DisplayName`` unique across customers, vendors and employees, so it may carry
a disambiguating suffix; the customer's unique, hierarchical name is ``FullyQualifiedName``
("Parent:Job"), which becomes ``full_name`` as Desktop's FullName does. An object made inactive
(``Active: false``, QBO's way of deleting a list element) stays a normal update with
``is_active`` false, and the " (deleted)" QBO appends to its names is dropped so the CRM record
keeps its name. Countries arrive as ISO 3-letter codes and become names (``countries``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from qbxml.records import (
    AppliedToTxn,
    CreditMemo,
    Customer,
    Estimate,
    Invoice,
    Item,
    ListDeleted,
    ReceivePayment,
    SalesReceipt,
    SalesTxn,
    TxnDeleted,
    to_dict,
)

from ..model.entities import ENTITIES, Kind
from .lines import linked_txns, sales_lines, txn_type
from .values import (
    address,
    canonical_id,
    contact,
    custom_fields,
    day,
    meta,
    number,
    ref,
    text,
)

# QBO entity name -> canonical entity name.
QBO_ENTITIES: dict[str, str] = {
    "Customer": "Customer",
    "Item": "Item",
    "Estimate": "Estimate",
    "Invoice": "Invoice",
    "SalesReceipt": "SalesReceipt",
    "Payment": "ReceivePayment",
    "CreditMemo": "CreditMemo",
}
CANONICAL_TO_QBO: dict[str, str] = {v: k for k, v in QBO_ENTITIES.items()}
DELETED_SUFFIX = " (deleted)"


class TransformError(ValueError):
    """A QBO object cannot become a canonical record (no Id, an entity not synced)."""


def _undeleted(name: str | None, active: bool) -> str | None:
    if name is not None and not active and name.endswith(DELETED_SUFFIX):
        return name[: -len(DELETED_SUFFIX)]
    return name


def _id(obj: dict[str, Any]) -> str:
    raw = obj.get("Id")
    if raw in (None, ""):
        raise TransformError("a QuickBooks Online object without Id cannot be synced")
    return canonical_id(raw)


def customer(obj: dict[str, Any]) -> Customer:
    """A QBO ``Customer`` (a job when ``Job`` is true: its parent is ``ParentRef``)."""
    active = obj.get("Active") is not False
    display = _undeleted(text(obj.get("DisplayName")), active)
    return Customer(
        list_id=_id(obj),
        time_created=meta(obj, "CreateTime"),
        time_modified=meta(obj, "LastUpdatedTime"),
        name=display,
        full_name=_undeleted(text(obj.get("FullyQualifiedName")), active) or display,
        is_active=active,
        parent=ref(obj.get("ParentRef")),
        sublevel=int(obj.get("Level") or 0),
        company_name=text(obj.get("CompanyName")),
        salutation=text(obj.get("Title")),
        first_name=text(obj.get("GivenName")),
        middle_name=text(obj.get("MiddleName")),
        last_name=text(obj.get("FamilyName")),
        bill_address=address(obj.get("BillAddr")),
        ship_address=address(obj.get("ShipAddr")),
        phone=contact(obj.get("PrimaryPhone"), "FreeFormNumber"),
        alt_phone=contact(obj.get("Mobile"), "FreeFormNumber")
        or contact(obj.get("AlternatePhone"), "FreeFormNumber"),
        fax=contact(obj.get("Fax"), "FreeFormNumber"),
        email=contact(obj.get("PrimaryEmailAddr"), "Address"),
        terms=ref(obj.get("SalesTermRef")),
        balance=number(obj.get("Balance")),
        total_balance=number(obj.get("BalanceWithJobs")),
        notes=text(obj.get("Notes")),
        resale_number=text(obj.get("ResaleNum")),
        preferred_payment_method=ref(obj.get("PaymentMethodRef")),
        preferred_delivery_method=text(obj.get("PreferredDeliveryMethod")),
        currency=ref(obj.get("CurrencyRef")),
    )


def item(obj: dict[str, Any]) -> Item:
    """A QBO ``Item``, flattened as Desktop flattens its item types.

    Inventory items carry both sides (COGS is QBO's ``ExpenseAccountRef``); a service or
    non-inventory item bought as well as sold is two-way (``sales_*`` / ``purchase_*``), else
    one-way (``desc`` / ``price`` / ``account``); groups and categories only describe.
    """
    active = obj.get("Active") is not False
    kind = text(obj.get("Type")) or "Service"
    name = _undeleted(text(obj.get("Name")), active)
    common: dict[str, Any] = {
        "list_id": _id(obj),
        "item_type": kind,
        "time_created": meta(obj, "CreateTime"),
        "time_modified": meta(obj, "LastUpdatedTime"),
        "name": name,
        "full_name": _undeleted(text(obj.get("FullyQualifiedName")), active) or name,
        "is_active": active,
        "parent": ref(obj.get("ParentRef")),
        "sublevel": int(obj.get("Level") or 0),
        "is_tax_included": obj.get("SalesTaxIncluded")
        if isinstance(obj.get("SalesTaxIncluded"), bool)
        else None,
        "sales_tax_code": ref(obj.get("SalesTaxCodeRef")),
    }
    desc, price = text(obj.get("Description")), number(obj.get("UnitPrice"))
    income = ref(obj.get("IncomeAccountRef"))
    purchase_desc, cost = text(obj.get("PurchaseDesc")), number(obj.get("PurchaseCost"))
    expense = ref(obj.get("ExpenseAccountRef"))
    if kind in ("Group", "Category"):
        return Item(**common, item_desc=desc)
    if kind == "Inventory":
        return Item(
            **common,
            sales_desc=desc,
            sales_price=price,
            income_account=income,
            purchase_desc=purchase_desc,
            purchase_cost=cost,
            cogs_account=expense,
            asset_account=ref(obj.get("AssetAccountRef")),
            quantity_on_hand=number(obj.get("QtyOnHand")),
            reorder_point=number(obj.get("ReorderPoint")),
            pref_vendor=ref(obj.get("PrefVendorRef")),
        )
    if purchase_desc is not None or cost is not None or expense is not None:
        return Item(
            **common,
            sales_desc=desc,
            sales_price=price,
            income_account=income,
            purchase_desc=purchase_desc,
            purchase_cost=cost,
            expense_account=expense,
            pref_vendor=ref(obj.get("PrefVendorRef")),
        )
    return Item(**common, desc=desc, price=price, account=income)


def _sales(cls: type[SalesTxn], obj: dict[str, Any], **extra: Any) -> Any:
    lines, groups, subtotal = sales_lines(obj.get("Line"))
    tax = obj.get("TxnTaxDetail") if isinstance(obj.get("TxnTaxDetail"), dict) else {}
    calc = obj.get("GlobalTaxCalculation")
    return cls(
        txn_id=_id(obj),
        time_created=meta(obj, "CreateTime"),
        time_modified=meta(obj, "LastUpdatedTime"),
        customer=ref(obj.get("CustomerRef")),
        class_=ref(obj.get("ClassRef")),
        txn_date=day(obj.get("TxnDate")),
        ref_number=text(obj.get("DocNumber")),
        bill_address=address(obj.get("BillAddr")),
        ship_address=address(obj.get("ShipAddr")),
        terms=ref(obj.get("SalesTermRef")),
        ship_date=day(obj.get("ShipDate")),
        ship_method=ref(obj.get("ShipMethodRef")),
        subtotal=subtotal,
        sales_tax_total=number(tax.get("TotalTax")),
        currency=ref(obj.get("CurrencyRef")),
        exchange_rate=number(obj.get("ExchangeRate")),
        memo=text(obj.get("PrivateNote")),
        is_to_be_printed=(obj["PrintStatus"] == "NeedToPrint") if "PrintStatus" in obj else None,
        is_to_be_emailed=(obj["EmailStatus"] == "NeedToSend") if "EmailStatus" in obj else None,
        is_tax_included=(calc == "TaxInclusive") if isinstance(calc, str) else None,
        linked_txns=linked_txns(obj.get("LinkedTxn")),
        lines=lines,
        line_groups=groups,
        custom_fields=custom_fields(obj.get("CustomField")),
        **extra,
    )


def invoice(obj: dict[str, Any]) -> Invoice:
    """A QBO ``Invoice``: ``Balance`` is what remains owed (the payment status reads it)."""
    balance = number(obj.get("Balance"))
    return _sales(
        Invoice,
        obj,
        due_date=day(obj.get("DueDate")),
        ar_account=ref(obj.get("ARAccountRef")),
        balance_remaining=balance,
        is_paid=(balance == 0) if balance is not None else None,
    )


# Estimate statuses that end an estimate's life (Desktop: IsActive false).
_CLOSED_ESTIMATE = frozenset({"Closed", "Rejected", "Converted"})


def estimate(obj: dict[str, Any]) -> Estimate:
    """A QBO ``Estimate``: ``ExpirationDate`` is its due date; closed or rejected ones are
    inactive."""
    status = text(obj.get("TxnStatus"))
    return _sales(
        Estimate,
        obj,
        due_date=day(obj.get("ExpirationDate")),
        is_active=(status not in _CLOSED_ESTIMATE) if status else None,
        total_amount=number(obj.get("TotalAmt")),
    )


def sales_receipt(obj: dict[str, Any]) -> SalesReceipt:
    """A QBO ``SalesReceipt``."""
    return _sales(
        SalesReceipt,
        obj,
        total_amount=number(obj.get("TotalAmt")),
        payment_method=ref(obj.get("PaymentMethodRef")),
        deposit_to_account=ref(obj.get("DepositToAccountRef")),
        check_number=text(obj.get("PaymentRefNum")),
    )


def credit_memo(obj: dict[str, Any]) -> CreditMemo:
    """A QBO ``CreditMemo`` (its application to invoices comes as a ``Payment``)."""
    return _sales(
        CreditMemo,
        obj,
        ar_account=ref(obj.get("ARAccountRef")),
        total_amount=number(obj.get("TotalAmt")),
        credit_remaining=number(obj.get("RemainingCredit", obj.get("Balance"))),
    )


def payment(obj: dict[str, Any]) -> ReceivePayment:
    """A QBO ``Payment`` as a ``ReceivePayment``: each line's linked invoices (and credit memos)
    are where it was applied, which makes the relay read those invoices again."""
    applied = []
    for line in obj.get("Line") if isinstance(obj.get("Line"), list) else []:
        if not isinstance(line, dict):
            continue
        for lt in line.get("LinkedTxn") or []:
            if isinstance(lt, dict) and lt.get("TxnId") not in (None, ""):
                applied.append(
                    AppliedToTxn(
                        txn_id=canonical_id(lt["TxnId"]),
                        txn_type=txn_type(lt.get("TxnType")),
                        amount=number(line.get("Amount")),
                    )
                )
    return ReceivePayment(
        txn_id=_id(obj),
        time_created=meta(obj, "CreateTime"),
        time_modified=meta(obj, "LastUpdatedTime"),
        customer=ref(obj.get("CustomerRef")),
        ar_account=ref(obj.get("ARAccountRef")),
        txn_date=day(obj.get("TxnDate")),
        ref_number=text(obj.get("PaymentRefNum")),
        total_amount=number(obj.get("TotalAmt")),
        currency=ref(obj.get("CurrencyRef")),
        exchange_rate=number(obj.get("ExchangeRate")),
        payment_method=ref(obj.get("PaymentMethodRef")),
        memo=text(obj.get("PrivateNote")),
        deposit_to_account=ref(obj.get("DepositToAccountRef")),
        unused_payment=number(obj.get("UnappliedAmt")),
        applied_to_txns=applied,
    )


_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Customer": customer,
    "Item": item,
    "Estimate": estimate,
    "Invoice": invoice,
    "SalesReceipt": sales_receipt,
    "Payment": payment,
    "CreditMemo": credit_memo,
}


def is_deleted(obj: dict[str, Any]) -> bool:
    """True for change-data-capture's stand-in of a deleted object."""
    return str(obj.get("status") or "").lower() == "deleted"


def deletion(qbo_entity: str, qbo_object_id: str, when: datetime | None) -> dict[str, Any]:
    """The canonical deletion record (``ListDeleted`` / ``TxnDeleted``) of a QBO object."""
    entity = _canonical_entity(qbo_entity)
    sid = canonical_id(qbo_object_id)
    if ENTITIES[entity].kind is Kind.LIST:
        return to_dict(ListDeleted(list_del_type=entity, list_id=sid, time_deleted=when))
    return to_dict(TxnDeleted(txn_del_type=entity, txn_id=sid, time_deleted=when))


def _canonical_entity(qbo_entity: str) -> str:
    try:
        return QBO_ENTITIES[qbo_entity]
    except KeyError:
        raise TransformError(f"QuickBooks Online {qbo_entity!r} objects are not synced") from None


def transform(qbo_entity: str, obj: dict[str, Any]) -> Any:
    """The canonical record (a qbxml dataclass) of a QBO object that is not a deletion."""
    _canonical_entity(qbo_entity)
    return _BUILDERS[qbo_entity](obj)


def canonical(qbo_entity: str, obj: dict[str, Any]) -> dict[str, Any]:
    """The canonical record dict the hand-off queues: ``to_dict`` of the record plus the
    ``sync_token`` version, or the deletion record for a deleted object."""
    if is_deleted(obj):
        if obj.get("Id") in (None, ""):
            raise TransformError("a deleted QuickBooks Online object without Id")
        return deletion(qbo_entity, str(obj["Id"]), meta(obj, "LastUpdatedTime"))
    record = to_dict(transform(qbo_entity, obj))
    token = obj.get("SyncToken")
    record["sync_token"] = str(token) if token not in (None, "") else None
    return record
