"""The fake ZOHO's fields: their metadata (``GET /settings/fields``) and ZOHO's Create Custom
Fields API (``POST /settings/fields?module=``), for ``qbrelay zoho setup`` and its tests.

Modelled on ZOHO's v8 Create Custom Fields page: ``{"fields": [...]}`` with ``field_label``
and ``data_type`` mandatory, at most five fields a call, the length limits of each data type,
the keys some types require (``textarea.type``, ``currency.rounding_option``,
``pick_list_values``), external fields for ``text`` only, two unique fields per module, the API
name derived from the label (spaces become underscores), a duplicate label or API name refused
with DUPLICATE_DATA, and ``{"code": "SUCCESS", "details": {"id": ...}, "message": "field
created"}`` per field. The scope (ZohoCRM.settings.fields.CREATE, .ALL or ZohoCRM.settings.ALL)
is checked by the fake before this runs. ZOHO's page lists the error codes but shows no
per-field error body; like its records API, request-level errors here are one error object and
per-field ones are items of ``fields`` (HTTP 400 when every field failed, 207 when some did).
A created field is accepted on records at once, with its type and length checks.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

MAX_PER_CALL = 5
MAX_UNIQUE = 2
# data_type -> the lengths allowed (None: the type takes no length).
LENGTHS: dict[str, range | None] = {
    "text": range(1, 256),
    "textarea": range(2000, 50001),  # exactly the textarea type's size, see TEXTAREA
    "email": range(1, 101),
    "phone": range(1, 31),
    "integer": range(1, 10),
    "currency": range(1, 17),
    "percent": range(1, 6),
    "bigint": range(1, 19),
    "double": range(1, 19),
    "website": range(1, 451),
    "boolean": None,
    "date": None,
    "datetime": None,
    "picklist": None,
    "multiselectpicklist": None,
}
TEXTAREA = {"small": 2000, "large": 32000, "rich_text": 50000}
DEFAULT_LENGTH = {"text": 255, "email": 100, "phone": 30, "website": 255, "integer": 9}


@dataclass(frozen=True, slots=True)
class FakeField:
    """A field's metadata: type, length, and for lookups the module they point to."""

    api_name: str
    data_type: str = "text"
    length: int = 255
    mandatory: bool = False
    unique: bool = False  # a user-defined unique (external id) field
    lookup: str | None = None
    picklist: tuple[str, ...] = ()
    custom: bool = False  # created by the organisation (setup page or Fields API)
    label: str = ""  # the field label; "" for the API name with spaces for underscores
    decimals: int | None = None  # decimal places of a currency or double
    external: str | None = None  # "org" or "user" for an external id field
    field_id: str = ""

    @property
    def field_label(self) -> str:
        """The label ZOHO shows (and matches duplicate labels on)."""
        return self.label or self.api_name.replace("_", " ")


def metadata(module: str, f: FakeField) -> dict[str, Any]:
    """One field as ``GET /settings/fields?module=`` lists it."""
    meta: dict[str, Any] = {
        "id": f.field_id
        or str(5725767000000000000 + zlib.crc32(f"{module}.{f.api_name}".encode())),
        "api_name": f.api_name,
        "field_label": f.field_label,
        "data_type": f.data_type,
        "length": f.length,
        "system_mandatory": f.mandatory,
        "custom_field": f.custom,
    }
    if f.decimals is not None:
        meta["decimal_place"] = f.decimals
    if f.unique:
        meta["unique"] = {"casesensitive": "false"}
    if f.external:
        meta["external"] = {"show": True, "type": f.external, "allow_multiple_config": False}
    if f.picklist:
        meta["pick_list_values"] = [{"display_value": v, "actual_value": v} for v in f.picklist]
    if f.lookup:
        meta["lookup"] = {"module": {"api_name": f.lookup}}
    return meta


def api_name_of(label: str) -> str:
    """The API name ZOHO gives a field labelled ``label``."""
    return re.sub(r"[^A-Za-z0-9_]", "", label.strip().replace(" ", "_"))


def _error(code: str, message: str, **details: Any) -> dict[str, Any]:
    return {"code": code, "details": details, "message": message, "status": "error"}


def create(
    modules: dict[str, Any], query: dict[str, str], body: Any, new_id: Callable[[], int]
) -> tuple[int, dict[str, Any]]:
    """Answer ``POST /settings/fields?module=``: (HTTP status, body); created fields are added
    to the module's ``fields``."""
    name = query.get("module")
    if not name:
        return 400, _error(
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            param_name="module",
        )
    module = modules.get(name)
    if module is None:
        return 400, _error("INVALID_MODULE", "the module name given seems to be invalid")
    items = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        return 400, _error("INVALID_DATA", "invalid data", json_path="$.fields")
    if len(items) > MAX_PER_CALL:
        return 400, _error(
            "LIMIT_EXCEEDED", "The field has reached its maximum creation limit", limit=5
        )
    results = []
    for i, item in enumerate(items):
        result, made = _one(module, i, item)
        if made is not None:
            made = replace(made, field_id=str(new_id()))
            module.fields[made.api_name] = made
            result = {
                "code": "SUCCESS",
                "details": {"id": made.field_id},
                "message": "field created",
                "status": "success",
            }
        results.append(result)
    ok = [r["status"] == "success" for r in results]
    status = 201 if all(ok) else 207 if any(ok) else 400
    return status, {"fields": results}


def _one(module: Any, i: int, item: Any) -> tuple[dict[str, Any], FakeField | None]:
    """Validate one field of the request: (error, None) or ({}, the field to create)."""

    def fail(code: str, message: str, key: str) -> tuple[dict[str, Any], None]:
        return _error(code, message, api_name=key, json_path=f"$.fields[{i}].{key}"), None

    if not isinstance(item, dict):
        return _error("INVALID_DATA", "invalid data", json_path=f"$.fields[{i}]"), None
    label, kind = item.get("field_label"), item.get("data_type")
    if not isinstance(label, str) or not label.strip():
        return fail("MANDATORY_NOT_FOUND", "required field not found", "field_label")
    if not isinstance(kind, str) or not kind:
        return fail("MANDATORY_NOT_FOUND", "required field not found", "data_type")
    if kind not in LENGTHS:
        return fail("INVALID_DATA", "invalid data", "data_type")
    api_name = api_name_of(label)
    if not api_name or not api_name[0].isalpha():
        return fail("INVALID_DATA", "invalid data", "field_label")
    fields = module.fields.values()
    if any(f.field_label.lower() == label.strip().lower() for f in fields):
        return fail("DUPLICATE_DATA", "Duplicate field label", "field_label")
    if any(f.api_name.lower() == api_name.lower() for f in fields):
        return fail("DUPLICATE_DATA", "Duplicate API name has been found", "api_name")
    length = item.get("length")
    allowed = LENGTHS[kind]
    if kind == "textarea":
        size = TEXTAREA.get((item.get("textarea") or {}).get("type", ""))
        if size is None:
            return fail("DEPENDENT_FIELD_MISSING", "dependent field missing", "textarea")
        if length is not None and length != size:
            return fail(
                "DEPENDENT_MISMATCH", "The given length value seems to be invalid", "length"
            )
        length = size
    elif length is not None and (
        allowed is None or not isinstance(length, int) or length not in allowed
    ):
        return fail("DEPENDENT_MISMATCH", "The given length value seems to be invalid", "length")
    decimals = item.get("decimal_place")
    if decimals is not None and (
        kind not in ("double", "currency")
        or not isinstance(decimals, int)
        or not 0 <= decimals <= 9
        or (length is not None and decimals >= length)
    ):
        return fail("DEPENDENT_MISMATCH", "the decimal place seems to be invalid", "decimal_place")
    if kind == "currency" and not (item.get("currency") or {}).get("rounding_option"):
        return fail("DEPENDENT_FIELD_MISSING", "dependent field missing", "currency")
    values: tuple[str, ...] = ()
    if kind in ("picklist", "multiselectpicklist"):
        options = item.get("pick_list_values")
        if not isinstance(options, list) or not options:
            return fail(
                "EXPECTED_DEPENDENT_FIELD_MISSING",
                "Either global_picklist or picklist values is expected",
                "pick_list_values",
            )
        shown = [o.get("display_value") if isinstance(o, dict) else None for o in options]
        actual = [o.get("actual_value") if isinstance(o, dict) else None for o in options]
        if not all(isinstance(v, str) and v for v in shown + actual):
            return fail("INVALID_DATA", "invalid data", "pick_list_values")
        if len(set(shown)) != len(shown):
            return fail("DUPLICATE_DATA", "Duplicate display_value", "pick_list_values")
        values = tuple(actual)
    external = item.get("external")
    if external is not None:
        if not isinstance(external, dict) or external.get("type") not in ("org", "user"):
            return fail("INVALID_DATA", "invalid data", "external")
        if kind != "text":
            return fail("NOT_ALLOWED", "external field is not allowed for this type", "external")
    unique = item.get("unique")
    if unique is not None and not isinstance(unique, dict):
        return fail("INVALID_DATA", "invalid data", "unique")
    if (unique is not None or external is not None) and sum(
        1 for f in fields if f.unique
    ) >= MAX_UNIQUE:
        return fail("LIMIT_EXCEEDED", "The field has reached its maximum creation limit", "unique")
    made = FakeField(
        api_name,
        kind,
        length if isinstance(length, int) else DEFAULT_LENGTH.get(kind, 16),
        unique=unique is not None or external is not None,
        picklist=values,
        custom=True,
        label=label.strip(),
        decimals=decimals,
        external=external["type"] if external else None,
    )
    return {}, made
