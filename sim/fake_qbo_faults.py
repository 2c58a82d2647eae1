"""Answers of the fake QuickBooks Online: Intuit's error bodies in both casings, injected faults,
and the validation checks a sync runs into (unique names, references, missing objects)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .fake_qbo_company import QboCompany


@dataclass(frozen=True, slots=True)
class Fault:
    """An injected answer: HTTP status, Intuit error code, body casing ("Fault"/"fault"/"xml")."""

    status: int
    code: str = ""
    casing: str = "Fault"
    message: str = "injected"


@dataclass(slots=True)
class Reply:
    """One HTTP answer of the fake: JSON (or text) body, extra headers, content type."""

    status: int
    body: Any = None
    headers: dict[str, str] | None = None
    content_type: str = "application/json;charset=UTF-8"


def fault_body(code: str, message: str, detail: str, kind: str, casing: str = "Fault") -> Any:
    """An Intuit error body in either casing (``fault``: the API gateway's, e.g. for 401)."""
    if casing == "fault":
        return {
            "fault": {
                "error": [{"message": message, "detail": detail, "code": code}],
                "type": kind,
            }
        }
    return {
        "Fault": {
            "Error": [{"Message": message, "Detail": detail, "code": code, "element": ""}],
            "type": kind,
        },
        "time": datetime.now(UTC).isoformat(),
    }


THROTTLE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?><IntuitResponse><Fault '
    'type="SERVICE"><Error code="3001"><Message>message=ThrottleExceeded; errorCode=003001; '
    "statusCode=429</Message><Detail>The request limit was reached. Try again later</Detail>"
    "</Error></Fault></IntuitResponse>"
)


def validate(
    entity: str, company: QboCompany, body: dict[str, Any], obj_id: str | None
) -> Reply | None:
    """Intuit's checks that matter for a sync: unique names, existing references."""
    name_field = {"Customer": "DisplayName", "Item": "Name"}.get(entity)
    if name_field:
        name = body.get(name_field)
        if obj_id is None and not name:
            return Reply(
                400, fault_body("2020", "Required param missing", name_field, "ValidationFault")
            )
        if name and any(o[name_field] == name and o["Id"] != obj_id for o in company.all(entity)):
            detail = f"The name supplied already exists. : Id={obj_id or ''}"
            return Reply(
                400, fault_body("6240", "Duplicate Name Exists Error", detail, "ValidationFault")
            )
        return None
    ref = body.get("CustomerRef", {}).get("value")
    if (obj_id is None or ref) and company.get("Customer", str(ref)) is None:
        detail = f"Invalid Reference Id : Customer {ref}"
        return Reply(400, fault_body("2500", "Invalid Reference Id", detail, "ValidationFault"))
    return None


def not_found(entity: str, obj_id: str) -> Reply:
    detail = (
        "Object Not Found : Something you're trying to use has been made inactive or is not "
        f"found: {entity} {obj_id}"
    )
    return Reply(400, fault_body("610", "Object Not Found", detail, "ValidationFault"))


def fault_reply(fault: Fault) -> Reply:
    if fault.status == 429:
        if fault.casing == "xml":
            return Reply(429, THROTTLE_XML, None, "application/xml")
        body = fault_body(
            fault.code or "3001",
            "message=ThrottleExceeded; errorCode=003001; statusCode=429",
            "The request limit was reached. Try again later",
            "SERVICE",
            fault.casing,
        )
        return Reply(429, body)
    if fault.status == 401:
        body = fault_body(
            fault.code or "3200",
            "message=AuthenticationFailed",
            fault.message,
            "AUTHENTICATION",
            fault.casing,
        )
        return Reply(401, body)
    kind = "SystemFault" if fault.status >= 500 else "ValidationFault"
    return Reply(
        fault.status,
        fault_body(fault.code or str(fault.status), fault.message, "", kind, fault.casing),
    )
