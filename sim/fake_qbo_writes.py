"""Creates and updates of the fake QuickBooks Online: Intuit's checks and their Fault answers.

What a write-back runs into (../shared/research/quickbooks-online-api.md §2.4, §2.7):
- a customer's ``DisplayName`` is unique across customers, vendors and employees (6240
  "Duplicate Name Exists Error"); vendors and employees are not served as entities here, only
  their names are kept (``QboCompany.other_names``) so a collision with one can be staged;
- an update names ``Id`` and the current ``SyncToken`` (5010 "Stale Object Error" otherwise),
  sparse (omitted fields kept) or full (omitted fields dropped);
- a transaction's ``CustomerRef`` and every line's ``ItemRef`` name existing objects (2500
  "Invalid Reference Id"); an invoice without ``DocNumber`` gets the next number;
- every change bumps ``SyncToken`` and ``MetaData.LastUpdatedTime`` and is an event, so it shows
  in queries, change data capture and webhooks like an edit made in QuickBooks.
"""

from __future__ import annotations

import json
from typing import Any

from .fake_qbo_company import NAME_ENTITIES, TRANSACTIONS, QboCompany
from .fake_qbo_faults import Reply, fault_body, not_found

FIRST_DOC_NUMBER = 1001


def write(endpoint: str, entity: str, company: QboCompany, raw: bytes, stamp: str) -> Reply:
    """Apply one create / update / delete / void (``endpoint``) of ``entity``; the answer."""
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return _invalid("2010", "Request has invalid or unsupported JSON", "")
    if not isinstance(body, dict):
        return _invalid("2010", "Request has invalid JSON", "")
    if endpoint == "create":
        with company.lock:
            problem = validate(entity, company, body, None)
            if problem:
                return problem
            _defaults(entity, company, body)
            return Reply(200, {entity: company.add(entity, body), "time": stamp})
    obj_id = str(body.get("Id", ""))
    with company.lock:
        current = company.get(entity, obj_id)
        if current is None:
            return not_found(entity, obj_id)
        if str(body.get("SyncToken")) != current["SyncToken"]:
            detail = (
                "You and another user were working on the same thing. SyncToken "
                f"{body.get('SyncToken')} is stale"
            )
            return _invalid("5010", "Stale Object Error", detail)
        if endpoint == "delete":
            if entity in NAME_ENTITIES:
                detail = f"{entity} cannot be deleted; make it inactive"
                return _invalid("6000", "A business validation error", detail)
            company.delete(entity, obj_id)
            gone = {"Id": obj_id, "status": "Deleted", "domain": "QBO"}
            return Reply(200, {entity: gone, "time": stamp})
        if endpoint == "void":
            return Reply(200, {entity: company.void(entity, obj_id), "time": stamp})
        problem = validate(entity, company, body, obj_id)
        if problem:
            return problem
        updated = company.replace(entity, obj_id, body, sparse=bool(body.get("sparse")))
        return Reply(200, {entity: updated, "time": stamp})


def validate(
    entity: str, company: QboCompany, body: dict[str, Any], obj_id: str | None
) -> Reply | None:
    """Intuit's checks that matter for a sync: unique names, existing references."""
    name_field = {"Customer": "DisplayName", "Item": "Name"}.get(entity)
    if name_field:
        name = body.get(name_field)
        if obj_id is None and not name:
            return _invalid("2020", "Required param missing", name_field)
        if name and _name_taken(entity, company, name_field, name, obj_id):
            detail = f"The name supplied already exists. : Id={obj_id or ''}"
            return _invalid("6240", "Duplicate Name Exists Error", detail)
        return None
    ref = body.get("CustomerRef", {}).get("value")
    if (obj_id is None or ref) and company.get("Customer", str(ref)) is None:
        return _invalid("2500", "Invalid Reference Id", f"Invalid Reference Id : Customer {ref}")
    if entity in TRANSACTIONS:
        for line in body.get("Line") or []:
            detail = (line or {}).get("SalesItemLineDetail") or {}
            item = (detail.get("ItemRef") or {}).get("value")
            if "ItemRef" in detail and company.get("Item", str(item)) is None:
                return _invalid(
                    "2500", "Invalid Reference Id", f"Invalid Reference Id : Item {item}"
                )
    return None


def next_doc_number(company: QboCompany, entity: str) -> str:
    """The number QuickBooks Online gives a transaction without one: one past the highest."""
    numbers = [
        int(o["DocNumber"]) for o in company.all(entity) if str(o.get("DocNumber", "")).isdigit()
    ]
    return str(max(numbers, default=FIRST_DOC_NUMBER - 1) + 1)


def _defaults(entity: str, company: QboCompany, body: dict[str, Any]) -> None:
    """What QuickBooks Online fills in on a create: active names, a customer's full name and
    balances, an invoice's number."""
    if entity in NAME_ENTITIES:
        body.setdefault("Active", True)
    if entity == "Customer":
        body.setdefault("FullyQualifiedName", body.get("DisplayName"))
        body.setdefault("Balance", 0)
        body.setdefault("BalanceWithJobs", 0)
    if entity == "Invoice" and not body.get("DocNumber"):
        body["DocNumber"] = next_doc_number(company, entity)


def _name_taken(
    entity: str, company: QboCompany, name_field: str, name: str, obj_id: str | None
) -> bool:
    if entity == "Customer" and name in company.other_names:
        return True
    return any(o.get(name_field) == name and o["Id"] != obj_id for o in company.all(entity))


def _invalid(code: str, message: str, detail: str) -> Reply:
    return Reply(400, fault_body(code, message, detail, "ValidationFault"))
