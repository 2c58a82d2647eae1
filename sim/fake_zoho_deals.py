"""The fake ZOHO's Deals: the module, its Products related list, and the write-back fields.

ZOHO's standard Deals module (Deal_Name, the Account and Contact lookups, the standard sales
stages, Amount, Closing_Date) with the fields the relay's write-back sets (QB_TxnID and
QB_RefNumber of the invoice made, QB_Sync_Status / QB_Sync_Message, also on Accounts).

A deal's products are a related list, not a subform: ZOHO relates existing Products records to
the deal, and reads them with the Related Records API, ``GET /crm/v8/Deals/{id}/Products``
with the mandatory ``fields`` parameter and ``page`` / ``per_page`` (at most 200), answering
``{"data": [...], "info": {"count", "page", "per_page", "more_records"}}`` or 204 when the list
is empty. Products are related by ``FakeZoho.relate`` (the CRM's "Add Products" button).
"""

from __future__ import annotations

from typing import Any

from .fake_fields import FakeField

# ZOHO's standard Deal stages, in their pipeline order.
DEAL_STAGES = (
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Id. Decision Makers",
    "Perception Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
    "Closed Lost to Competition",
)
SYNC_STATUSES = ("Synced", "Failed", "Pending", "Conflict")
# Related lists the fake serves: (parent module, related list API name) -> related module.
RELATED_LISTS = {("Deals", "Products"): "Products"}
MAX_PER_PAGE = 200

Reply = tuple[int, Any]  # HTTP status and JSON body (None for 204)


def sync_fields() -> list[FakeField]:
    """The write-back status fields (created by ``qbrelay zoho setup``)."""
    return [
        FakeField("QB_Sync_Status", "picklist", picklist=SYNC_STATUSES, custom=True),
        FakeField("QB_Sync_Message", "text", 255, custom=True),
    ]


def deal_fields(with_qb_fields: bool) -> list[FakeField]:
    """The Deals module's fields; ``with_qb_fields`` adds the relay's custom fields."""
    out = [
        FakeField("Deal_Name", "text", 120, mandatory=True),
        FakeField("Account_Name", "lookup", lookup="Accounts"),
        FakeField("Contact_Name", "lookup", lookup="Contacts"),
        FakeField("Stage", "picklist", picklist=DEAL_STAGES),
        FakeField("Amount", "currency", decimals=2),
        FakeField("Closing_Date", "date"),
        FakeField("Description", "textarea", 32000),
    ]
    if with_qb_fields:
        out += [
            FakeField("QB_TxnID", "text", 255, unique=True, custom=True, external="org"),
            FakeField("QB_RefNumber", "text", 255, custom=True),
            *sync_fields(),
        ]
    return out


def _error(status: int, code: str, message: str, **details: Any) -> Reply:
    return status, {"code": code, "details": details, "message": message, "status": "error"}


def related_records(
    records: dict[str, dict[str, dict[str, Any]]],
    related: dict[str, list[str]],
    module: str,
    record_id: str,
    list_name: str,
    query: dict[str, str],
) -> Reply:
    """``GET /crm/v8/{module}/{record_id}/{list_name}`` (call under the fake's lock)."""
    target = RELATED_LISTS.get((module, list_name))
    if target is None:
        message = "the related list name given seems to be invalid"
        return _error(400, "INVALID_DATA", message, resource_path_index=2)
    if record_id not in records.get(module, {}):
        message = "the related id given seems to be invalid"
        return _error(400, "INVALID_DATA", message, resource_path_index=1)
    if not query.get("fields"):
        return _error(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            param_name="fields",
        )
    try:
        page = int(query.get("page") or 1)
        per_page = int(query.get("per_page") or MAX_PER_PAGE)
    except ValueError:
        return _error(400, "INVALID_DATA", "invalid data", param_name="page")
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        return _error(400, "INVALID_DATA", "invalid data", param_name="per_page", maximum=200)
    wanted = [f for f in query["fields"].split(",") if f]
    store = records.get(target, {})
    # A related record deleted since is no longer listed.
    rows = [store[i] for i in related.get(f"{module}/{record_id}/{list_name}", []) if i in store]
    chosen = rows[(page - 1) * per_page : page * per_page]
    if not chosen:
        return 204, None
    data = [{"id": r["id"], **{f: r.get(f) for f in wanted}} for r in chosen]
    info = {
        "count": len(data),
        "page": page,
        "per_page": per_page,
        "more_records": page * per_page < len(rows),
    }
    return 200, {"data": data, "info": info}


def relate(
    records: dict[str, dict[str, dict[str, Any]]],
    related: dict[str, list[str]],
    module: str,
    record_id: str,
    list_name: str,
    ids: list[str],
) -> None:
    """Relate records ``ids`` to ``module``/``record_id`` in ``list_name`` (once each).

    The parent's Modified_Time is left alone (relating is not an edit of the deal's fields)."""
    target = RELATED_LISTS.get((module, list_name))
    if target is None:
        raise ValueError(f"the fake has no related list {module}/{list_name}")
    if record_id not in records[module]:
        raise KeyError(f"no {module} record {record_id}")
    missing = [i for i in ids if i not in records[target]]
    if missing:
        raise KeyError(f"no {target} records {missing}")
    key = f"{module}/{record_id}/{list_name}"
    current = related.setdefault(key, [])
    current.extend(i for i in ids if i not in current)
