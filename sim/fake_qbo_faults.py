"""Answers of the fake QuickBooks Online: Intuit's error bodies in both casings, injected faults,
missing objects (the checks of creates and updates are in :mod:`sim.fake_qbo_writes`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


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
    lost: bool = False  # the write was applied but the connection drops before the answer


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
