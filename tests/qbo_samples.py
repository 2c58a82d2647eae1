"""QuickBooks Online object bodies shaped like Intuit's answers (minor version 75), for tests."""

from __future__ import annotations

from typing import Any


def customer(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "DisplayName": f"Customer {n}",
        "FullyQualifiedName": f"Customer {n}",
        "CompanyName": f"Customer {n} Ltd",
        "GivenName": "Ann",
        "FamilyName": f"Lee{n}",
        "PrimaryEmailAddr": {"Address": f"ann.{n}@example.com"},
        "PrimaryPhone": {"FreeFormNumber": "555-0100"},
        "Mobile": {"FreeFormNumber": "555-0101"},
        "BillAddr": {
            "Id": "9",
            "Line1": f"{n} Main St",
            "City": "Austin",
            "CountrySubDivisionCode": "TX",
            "PostalCode": "78701",
            "Country": "USA",
        },
        "Balance": 0,
        "BalanceWithJobs": 0,
        "Job": False,
        "Level": 0,
        "Active": True,
        **kw,
    }


def item(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "Name": f"Service {n}",
        "FullyQualifiedName": f"Service {n}",
        "Type": "Service",
        "Description": f"Service number {n}",
        "UnitPrice": n + 0.5,
        "IncomeAccountRef": {"value": "79", "name": "Sales of Product Income"},
        "Active": True,
        **kw,
    }


def sales_line(line_id: str, item_id: str, qty: float, price: float) -> dict[str, Any]:
    return {
        "Id": line_id,
        "LineNum": int(line_id),
        "Description": f"line {line_id}",
        "Amount": round(qty * price, 2),
        "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {
            "ItemRef": {"value": item_id, "name": f"Service {item_id}"},
            "UnitPrice": price,
            "Qty": qty,
            "TaxCodeRef": {"value": "NON"},
        },
    }


def invoice(customer_id: str, item_ids: list[str], **kw: Any) -> dict[str, Any]:
    lines = [sales_line(str(i + 1), it, 1, 10.0) for i, it in enumerate(item_ids)]
    total = 10.0 * len(item_ids)
    lines.append({"Amount": total, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}})
    return {
        "DocNumber": "1037",
        "TxnDate": "2026-03-01",
        "DueDate": "2099-03-31",
        "CustomerRef": {"value": customer_id, "name": f"Customer {customer_id}"},
        "Line": lines,
        "TxnTaxDetail": {"TotalTax": 0},
        "TotalAmt": total,
        "Balance": total,
        "PrivateNote": "internal note",
        "PrintStatus": "NotSet",
        "EmailStatus": "NotSet",
        "BillAddr": {"Line1": "1 Main St", "City": "Austin", "Country": "CAN"},
        **kw,
    }


def payment(customer_id: str, invoice_id: str, amount: float, **kw: Any) -> dict[str, Any]:
    return {
        "TxnDate": "2026-03-05",
        "CustomerRef": {"value": customer_id},
        "TotalAmt": amount,
        "UnappliedAmt": 0,
        "PaymentRefNum": "CHK-77",
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
        **kw,
    }
