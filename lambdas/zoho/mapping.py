"""Which QuickBooks entity becomes which ZOHO module, field by field, and how to read a value.

The default mapping (``DEFAULT_MAPPING``) is plain JSON-shaped data; a tenant's mapping file has
the same shape and is merged over it, entity by entity and field by field (``null`` removes an
entity or a field). Everything is validated at load: an unknown entity, module, source field or
ZOHO field is a ``MappingError`` naming it.

A *source* says where a ZOHO field's value comes from:
  - ``"bill_address.city"``: a dotted path into the canonical record;
  - ``{"path": "sales_price", "type": "number"}``: with a conversion (string, number, boolean,
    date);
  - ``{"template": "Invoice {ref_number}"}``: text with ``{path}`` holes (none may be empty);
  - ``{"join": ["bill_address.addr1", "bill_address.addr2"], "sep": ", "}``: non-empty parts;
  - ``{"const": true}``; ``{"compute": "payment_status"}`` (see ``payment_status``);
  - a list of sources: the first that gives a value.

Deletions follow ``deletion_policy``: ``mark_inactive`` (default: the entity's ``on_delete``
values are written, e.g. ``QB_Active`` false), ``delete`` (ZOHO records are deleted; logged) or
``ignore`` (only the mapping is marked deleted). Deactivated QuickBooks records are ordinary
updates: ``is_active`` maps to the active field.
"""

from __future__ import annotations

import copy
import json
import re
import string
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..model.entities import ENTITIES, LIST_ENTITIES, PAYMENT
from .catalogue import (
    CUSTOM_FIELD_TYPES,
    LINE_FIELDS,
    LINE_ITEM_ARRAYS,
    LINE_ITEM_FIELDS,
    LINE_NESTED,
    NESTED,
    SOURCE_FIELDS,
    ZOHO_FIELDS,
)


class MappingError(ValueError):
    """A mapping file is invalid; the message names the entity, module or field at fault."""


DELETION_POLICIES = ("mark_inactive", "delete", "ignore")
TRIGGERS = ("workflow", "approval", "blueprint", "pathfinder", "orchestration")
TYPES = ("string", "number", "boolean", "date")
COMPUTED = ("payment_status",)
PAYMENT_STATUSES = ("Paid", "Overdue", "Pending")

_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _addr(prefix: str, code: str, src: str) -> dict[str, Any]:
    return {
        f"{prefix}_Street": {
            "join": [f"{src}.addr1", f"{src}.addr2", f"{src}.addr3", f"{src}.addr4"],
            "sep": ", ",
        },
        f"{prefix}_City": f"{src}.city",
        f"{prefix}_State": f"{src}.state",
        f"{prefix}_{code}": f"{src}.postal_code",
        f"{prefix}_Country": f"{src}.country",
    }


def _module(entity: str, index: int = 0) -> str:
    """The ZOHO module the entity table says the default mapping writes ``entity`` to."""
    return ENTITIES[entity].zoho_modules[index]


def _txn(subject: str, entity: str, extra: dict[str, Any]) -> dict[str, Any]:
    module = _module(entity)
    return {
        "module": module,
        "id_field": "QB_TxnID",
        "fields": {
            "Subject": [
                {"template": f"{subject} {{ref_number}}"},
                {"template": f"{subject} {{txn_id}}"},
            ],
            "Description": "memo",
            "QB_Active": {"const": True},
            **_addr("Billing", "Code", "bill_address"),
            **_addr("Shipping", "Code", "ship_address"),
            **extra,
        },
        "lookups": {"Account_Name": {"entity": "Customer", "source": "customer.list_id"}},
        "lines": {
            "field": LINE_ITEM_ARRAYS[module],
            "product": "Product_Name",
            "quantity": "Quantity",
            "price": "List_Price",
            "description": "Description",
        },
        "on_delete": {"QB_Active": False},
    }


DEFAULT_MAPPING: dict[str, Any] = {
    "triggers": [],
    "deletion_policy": "mark_inactive",
    "custom_fields": {
        _module("Customer"): {"QB_ListID": "text", "QB_Active": "boolean"},
        _module("Customer", 1): {"QB_ListID": "text", "QB_Active": "boolean"},
        _module("Item"): {"QB_ListID": "text"},
        _module("Estimate"): {"QB_TxnID": "text", "QB_Active": "boolean"},
        _module("SalesOrder"): {"QB_TxnID": "text", "QB_Active": "boolean"},
        _module("Invoice"): {"QB_TxnID": "text", "QB_Active": "boolean"},
    },
    "entities": {
        "Customer": {
            "module": _module("Customer"),
            "id_field": "QB_ListID",
            "fields": {
                # FullName is unique in QuickBooks (a job is "Parent:Job"); CompanyName is not.
                "Account_Name": "full_name",
                "Account_Number": "account_number",
                "Phone": "phone",
                "Fax": "fax",
                "Description": "notes",
                "QB_Active": {"path": "is_active", "type": "boolean"},
                **_addr("Billing", "Code", "bill_address"),
                **_addr("Shipping", "Code", "ship_address"),
            },
            "lookups": {"Parent_Account": {"entity": "Customer", "source": "parent.list_id"}},
            "on_delete": {"QB_Active": False},
            "contact": {
                "module": _module("Customer", 1),
                "id_field": "QB_ListID",
                "fields": {
                    "Last_Name": "last_name",
                    "First_Name": "first_name",
                    "Salutation": "salutation",
                    "Title": "job_title",
                    "Email": "email",
                    "Phone": "phone",
                    "Mobile": "alt_phone",
                    "Fax": "fax",
                    "QB_Active": {"path": "is_active", "type": "boolean"},
                    "Mailing_Street": {
                        "join": ["bill_address.addr1", "bill_address.addr2", "bill_address.addr3"],
                        "sep": ", ",
                    },
                    "Mailing_City": "bill_address.city",
                    "Mailing_State": "bill_address.state",
                    "Mailing_Zip": "bill_address.postal_code",
                    "Mailing_Country": "bill_address.country",
                },
                "lookups": {"Account_Name": {"entity": "Customer", "source": "list_id"}},
                "on_delete": {"QB_Active": False},
            },
        },
        "Item": {
            "module": _module("Item"),
            "id_field": "QB_ListID",
            "fields": {
                "Product_Name": "full_name",
                "Description": ["sales_desc", "desc"],
                "Unit_Price": [
                    {"path": "sales_price", "type": "number"},
                    {"path": "price", "type": "number"},
                ],
                "Product_Active": {"path": "is_active", "type": "boolean"},
            },
            "on_delete": {"Product_Active": False},
        },
        "Estimate": _txn(
            "Estimate", "Estimate", {"Valid_Till": {"path": "due_date", "type": "date"}}
        ),
        "SalesOrder": _txn(
            "Sales Order", "SalesOrder", {"Due_Date": {"path": "due_date", "type": "date"}}
        ),
        "Invoice": _txn(
            "Invoice",
            "Invoice",
            {
                "Invoice_Date": {"path": "txn_date", "type": "date"},
                "Due_Date": {"path": "due_date", "type": "date"},
                "Status": {"compute": "payment_status"},
            },
        ),
    },
    "payment": {"module": _module(PAYMENT), "status_field": "Status", "due_date_field": "Due_Date"},
}


# --- compiled specification -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LookupSpec:
    """A lookup field pointing at the ZOHO record of another (already forwarded) entity."""

    field: str
    entity: str
    source: str  # dotted path to the QuickBooks id of the parent


@dataclass(frozen=True, slots=True)
class LineSpec:
    """How transaction lines become a line-item subform."""

    field: str
    product: str
    quantity: str
    price: str
    description: str | None


@dataclass(frozen=True, slots=True)
class EntitySpec:
    """One QuickBooks entity's (or a customer's contact's) ZOHO module and fields."""

    entity: str  # the canonical entity it reads
    store_entity: str  # the entity name its mappings are kept under ("CustomerContact")
    module: str
    id_field: str
    fields: dict[str, Any]
    lookups: tuple[LookupSpec, ...]
    lines: LineSpec | None
    on_delete: dict[str, Any]
    contact: EntitySpec | None = None


@dataclass(frozen=True, slots=True)
class PaymentSpec:
    """ReceivePayment: which invoice fields carry the payment status and the due date."""

    module: str
    status_field: str
    due_date_field: str


@dataclass(frozen=True, slots=True)
class MappingConfig:
    """A validated mapping: per-entity specs, triggers, deletion policy, custom fields."""

    entities: dict[str, EntitySpec]
    payment: PaymentSpec | None
    triggers: tuple[str, ...]
    deletion_policy: str
    custom_fields: dict[str, dict[str, str]]
    raw: dict[str, Any]

    def spec(self, entity: str) -> EntitySpec | None:
        """The spec of a canonical entity, or None when the mapping leaves it out."""
        return self.entities.get(entity)

    def spec_for_store_entity(self, entity: str) -> EntitySpec | None:
        """The spec whose mappings are stored under ``entity`` (including contacts)."""
        for spec in self.entities.values():
            if spec.store_entity == entity:
                return spec
            if spec.contact is not None and spec.contact.store_entity == entity:
                return spec.contact
        return None

    def modules(self) -> list[str]:
        """Every ZOHO module the mapping writes to, in first-use order."""
        seen: dict[str, None] = {}
        for spec in self.entities.values():
            seen[spec.module] = None
            if spec.contact:
                seen[spec.contact.module] = None
        if self.payment:
            seen[self.payment.module] = None
        return list(seen)

    def used_fields(self) -> dict[str, set[str]]:
        """The ZOHO fields each module's writes use (for ``qbrelay zoho check``)."""
        used: dict[str, set[str]] = {}
        specs = [s for e in self.entities.values() for s in (e, e.contact) if s is not None]
        for s in specs:
            names = used.setdefault(s.module, set())
            names.update(s.fields, s.on_delete, (lk.field for lk in s.lookups), [s.id_field])
            if s.lines:
                names.add(s.lines.field)
        if self.payment:
            used.setdefault(self.payment.module, set()).update(
                {self.payment.status_field, self.payment.due_date_field}
            )
        return used


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` over ``base``: dicts merge recursively, ``None`` deletes, else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and key != "const":
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class _Validator:
    """Checks a merged mapping document, collecting the first error as a MappingError."""

    def __init__(self, doc: dict[str, Any], origin: str) -> None:
        self.doc = doc
        self.origin = origin
        custom_modules = doc.get("custom_modules") or []
        if not isinstance(custom_modules, list) or not all(
            isinstance(m, str) and _API_NAME.match(m) for m in custom_modules
        ):
            self.fail("custom_modules must be a list of module API names")
        self.modules = set(ZOHO_FIELDS) | set(custom_modules)
        self.custom = self._custom_fields(doc.get("custom_fields") or {})

    def fail(self, message: str) -> None:
        raise MappingError(f"{self.origin}: {message}")

    def _custom_fields(self, value: Any) -> dict[str, dict[str, str]]:
        if not isinstance(value, dict):
            self.fail("custom_fields must map module names to {field: type}")
        out: dict[str, dict[str, str]] = {}
        for module, fields in value.items():
            self.module(module, "custom_fields")
            if not isinstance(fields, dict):
                self.fail(f"custom_fields.{module} must map field API names to types")
            for name, kind in fields.items():
                if not _API_NAME.match(str(name)):
                    self.fail(f"custom_fields.{module}: {name!r} is not a ZOHO API name")
                if kind not in CUSTOM_FIELD_TYPES:
                    self.fail(
                        f"custom_fields.{module}.{name}: unknown type {kind!r} (choose from "
                        f"{', '.join(CUSTOM_FIELD_TYPES)})"
                    )
            out[module] = {str(k): str(v) for k, v in fields.items()}
        return out

    def module(self, name: Any, where: str) -> str:
        if name not in self.modules:
            self.fail(
                f"{where}: unknown ZOHO module {name!r} (known: {', '.join(sorted(ZOHO_FIELDS))}; "
                "declare others under custom_modules)"
            )
        return str(name)

    def zoho_field(self, module: str, name: Any, where: str) -> str:
        known = ZOHO_FIELDS.get(module, frozenset()) | set(self.custom.get(module, {}))
        if name not in known:
            self.fail(
                f"{where}: unknown ZOHO field {name!r} in module {module} (declare custom fields "
                f"under custom_fields.{module})"
            )
        return str(name)

    def path(self, entity: str, path: Any, where: str, line: bool = False) -> str:
        if not isinstance(path, str) or not path:
            self.fail(f"{where}: a source path must be a non-empty string")
        head, _, rest = path.partition(".")
        fields, nested = (
            (LINE_FIELDS, LINE_NESTED) if line else (SOURCE_FIELDS[entity], NESTED[entity])
        )
        if head not in fields:
            self.fail(f"{where}: unknown {entity} field {head!r}")
        below = nested.get(head)
        if below is None:
            if rest:
                self.fail(f"{where}: unknown field {path!r} of {entity} ({head} has no fields)")
        elif not below:
            # read_source reads dicts only: a path into (or ending at) a list is always empty.
            self.fail(f"{where}: {entity} field {head!r} is a list, which a path cannot read")
        elif rest not in below:
            # A reference or address itself is never a value: one of its fields must be named.
            what = f"unknown field {path!r}" if rest else f"{path!r} is a structure, not a field"
            self.fail(
                f"{where}: {what} of {entity} (name one of {head}.{{{', '.join(sorted(below))}}})"
            )
        return path

    def source(self, entity: str, src: Any, where: str) -> None:
        if isinstance(src, str):
            self.path(entity, src, where)
        elif isinstance(src, list):
            if not src:
                self.fail(f"{where}: an empty list of sources")
            for i, s in enumerate(src):
                self.source(entity, s, f"{where}[{i}]")
        elif isinstance(src, dict):
            self._dict_source(entity, src, where)
        else:
            self.fail(f"{where}: a source is a path, a list or an object, not {src!r}")

    def _dict_source(self, entity: str, src: dict[str, Any], where: str) -> None:
        kinds = [k for k in ("path", "template", "join", "const", "compute") if k in src]
        if len(kinds) != 1:
            self.fail(
                f"{where}: a source object needs exactly one of path, template, join, "
                "const, compute"
            )
        extra = set(src) - {kinds[0], "type", "sep"}
        if extra:
            self.fail(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        if "type" in src and src["type"] not in TYPES:
            self.fail(f"{where}: unknown type {src['type']!r} (choose from {', '.join(TYPES)})")
        kind = kinds[0]
        if kind == "path":
            self.path(entity, src["path"], where)
        elif kind == "template":
            names = [f for _, f, _, _ in string.Formatter().parse(str(src["template"])) if f]
            if not names:
                self.fail(f"{where}: a template needs at least one {{field}}")
            for name in names:
                self.path(entity, name, where)
        elif kind == "join":
            if not isinstance(src["join"], list) or not src["join"]:
                self.fail(f"{where}: join takes a list of paths")
            for p in src["join"]:
                self.path(entity, p, where)
        elif kind == "compute" and src["compute"] not in COMPUTED:
            self.fail(f"{where}: unknown computed value {src['compute']!r}")

    def entity(self, entity: str, body: Any, store_entity: str, where: str) -> EntitySpec:
        if not isinstance(body, dict):
            self.fail(f"{where}: an entity mapping is an object (or null to leave it out)")
        allowed = {"module", "id_field", "fields", "lookups", "lines", "on_delete", "contact"}
        extra = set(body) - allowed
        if extra:
            self.fail(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        module = self.module(body.get("module"), f"{where}.module")
        id_field = self.zoho_field(module, body.get("id_field"), f"{where}.id_field")
        if self.custom.get(module, {}).get(id_field) != "text":
            self.fail(
                f"{where}.id_field: {id_field} must be a custom text field (declare it under "
                f"custom_fields.{module} as text)"
            )
        fields = body.get("fields") or {}
        if not isinstance(fields, dict):
            self.fail(f"{where}.fields must map ZOHO field names to sources")
        for name, src in fields.items():
            self.zoho_field(module, name, f"{where}.fields")
            self.source(entity, src, f"{where}.fields.{name}")
        lookups = []
        for name, lk in (body.get("lookups") or {}).items():
            self.zoho_field(module, name, f"{where}.lookups")
            if not isinstance(lk, dict) or set(lk) != {"entity", "source"}:
                self.fail(f"{where}.lookups.{name}: needs exactly entity and source")
            if lk["entity"] not in LIST_ENTITIES:
                self.fail(f"{where}.lookups.{name}: unknown parent entity {lk['entity']!r}")
            self.path(entity, lk["source"], f"{where}.lookups.{name}")
            lookups.append(LookupSpec(name, lk["entity"], lk["source"]))
        on_delete = body.get("on_delete") or {}
        if not isinstance(on_delete, dict):
            self.fail(f"{where}.on_delete must map ZOHO fields to values")
        for name in on_delete:
            self.zoho_field(module, name, f"{where}.on_delete")
        lines = self._lines(entity, module, body.get("lines"), f"{where}.lines")
        contact = None
        if body.get("contact") is not None:
            if entity != "Customer":
                self.fail(f"{where}.contact: only Customer has a primary contact")
            contact = self.entity(entity, body["contact"], "CustomerContact", f"{where}.contact")
        return EntitySpec(
            entity=entity,
            store_entity=store_entity,
            module=module,
            id_field=id_field,
            fields=dict(fields),
            lookups=tuple(lookups),
            lines=lines,
            on_delete=dict(on_delete),
            contact=contact,
        )

    def _lines(self, entity: str, module: str, body: Any, where: str) -> LineSpec | None:
        if body is None:
            return None
        if entity in LIST_ENTITIES or entity == PAYMENT:
            self.fail(f"{where}: {entity} has no lines")
        if not isinstance(body, dict):
            self.fail(f"{where} must be an object")
        extra = set(body) - {"field", "product", "quantity", "price", "description"}
        if extra:
            self.fail(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        self.zoho_field(module, body.get("field"), f"{where}.field")
        for key in ("product", "quantity", "price", "description"):
            value = body.get(key)
            if value is None and key == "description":
                continue
            if value not in LINE_ITEM_FIELDS:
                self.fail(f"{where}.{key}: unknown line-item field {value!r}")
        return LineSpec(
            field=body["field"],
            product=body["product"],
            quantity=body["quantity"],
            price=body["price"],
            description=body.get("description"),
        )


def build_config(override: dict[str, Any] | None = None, origin: str = "mapping") -> MappingConfig:
    """The default mapping with ``override`` (a mapping file's JSON) merged over it, validated."""
    if override is not None and not isinstance(override, dict):
        raise MappingError(f"{origin}: a mapping file holds one JSON object")
    doc = _merge(DEFAULT_MAPPING, override or {})
    allowed = {
        "triggers",
        "deletion_policy",
        "custom_fields",
        "custom_modules",
        "entities",
        "payment",
    }
    extra = set(doc) - allowed
    if extra:
        raise MappingError(f"{origin}: unknown key(s) {', '.join(sorted(extra))}")
    v = _Validator(doc, origin)
    triggers = doc.get("triggers") or []
    if not isinstance(triggers, list) or any(t not in TRIGGERS for t in triggers):
        v.fail(f"triggers must be a list drawn from {', '.join(TRIGGERS)}")
    policy = doc.get("deletion_policy")
    if policy not in DELETION_POLICIES:
        v.fail(f"deletion_policy {policy!r} is not one of {', '.join(DELETION_POLICIES)}")
    entities: dict[str, EntitySpec] = {}
    for entity, body in (doc.get("entities") or {}).items():
        if entity not in SOURCE_FIELDS or entity == PAYMENT:
            v.fail(
                f"entities: unknown entity {entity!r} (known: "
                f"{', '.join(e for e in SOURCE_FIELDS if e != PAYMENT)}; {PAYMENT} "
                "is configured under payment)"
            )
        if body is not None:
            entities[entity] = v.entity(entity, body, entity, f"entities.{entity}")
    payment = None
    pay = doc.get("payment")
    if pay is not None:
        if not isinstance(pay, dict) or set(pay) - {"module", "status_field", "due_date_field"}:
            v.fail("payment needs module, status_field and due_date_field")
        module = v.module(pay.get("module"), "payment.module")
        payment = PaymentSpec(
            module=module,
            status_field=v.zoho_field(module, pay.get("status_field"), "payment.status_field"),
            due_date_field=v.zoho_field(
                module, pay.get("due_date_field"), "payment.due_date_field"
            ),
        )
    return MappingConfig(
        entities=entities,
        payment=payment,
        triggers=tuple(triggers),
        deletion_policy=str(policy),
        custom_fields=v.custom,
        raw=override or {},
    )


def load_mapping_file(path: Path | str) -> dict[str, Any]:
    """A mapping file's JSON, validated (MappingError naming the file and the problem)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise MappingError(f"mapping file {path} is not valid JSON: {exc}") from exc
    build_config(doc, origin=str(path))
    return doc


# --- reading values from canonical records ------------------------------------------------------


def _get(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _convert(value: Any, kind: str | None) -> Any:
    if _empty(value):
        return None
    if kind == "number":
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return None
        return float(number)
    if kind == "boolean":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes")
        return bool(value)
    if kind == "date":
        return str(value)[:10]
    if isinstance(value, dict | list):
        return None  # a structure is never a field value; map its parts instead
    if kind == "string" or isinstance(value, Decimal):
        return str(value)
    return value


def payment_status(record: dict[str, Any], today: date) -> str:
    """Paid when nothing is owed; Overdue when something is owed past the due date; else Pending."""
    balance = record.get("balance_remaining")
    if balance is None:
        owed = not record.get("is_paid")
    else:
        try:
            owed = Decimal(str(balance)) > 0
        except InvalidOperation:
            owed = True
    if not owed:
        return "Paid"
    due = record.get("due_date")
    if due and str(due)[:10] < today.isoformat():
        return "Overdue"
    return "Pending"


def read_source(record: dict[str, Any], src: Any, today: date) -> Any:
    """The value ``src`` (a validated source) gives for ``record``; None when it gives none."""
    if isinstance(src, str):
        return _convert(_get(record, src), None)
    if isinstance(src, list):
        for s in src:
            value = read_source(record, s, today)
            if not _empty(value):
                return value
        return None
    kind = src.get("type")
    if "path" in src:
        return _convert(_get(record, src["path"]), kind)
    if "const" in src:
        return src["const"]
    if "compute" in src:
        return payment_status(record, today)
    if "join" in src:
        parts = [_convert(_get(record, p), "string") for p in src["join"]]
        text = str(src.get("sep", " ")).join(p for p in parts if not _empty(p))
        return _convert(text, kind)
    template = str(src["template"])
    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    values = {n: _convert(_get(record, n), "string") for n in names}
    if any(_empty(v) for v in values.values()):
        return None
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", str(value))
    return _convert(out, kind)
