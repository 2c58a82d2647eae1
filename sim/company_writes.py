"""Write requests: CustomerAdd / CustomerMod and data extensions (custom fields).

Errors are the ones QuickBooks gives (messages shaped after real responses in
reference/samples and qbwc/qbwc's captured test data): 3100 name in use, 3120 object not found,
3130 bad parent, 3140 bad reference, 3200 stale EditSequence, 3070 text too long.
"""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any

from .company_data import CompanyData, owner_key
from .company_queries import NOT_FOUND_MESSAGE, MalformedRequest, SimulatorGap
from .company_records import ZERO, DataExtDef, SimAddress, SimCustomer

NAME_IN_USE = 'The name "{0}" of the list element is already in use.'
BAD_PARENT = (
    'There is an invalid reference to a parent "{0}" in the Customers list.  QuickBooks error '
    "message: Invalid argument.  The specified record does not exist in the list."
)
BAD_REF = (
    'There is an invalid reference to QuickBooks {0} "{1}" in the Customer.  QuickBooks error '
    "message: Invalid argument.  The specified record does not exist in the list."
)
STALE = 'The provided edit sequence "{0}" is out-of-date. '
TOO_LONG = 'The string "{0}" in the field "{1}" is too long.'

# CustomerAdd / CustomerMod text fields: element -> (attribute, maximum length)
_TEXT = {
    "Name": ("name", 41),
    "CompanyName": ("company_name", 41),
    "Salutation": ("salutation", 15),
    "FirstName": ("first_name", 25),
    "MiddleName": ("middle_name", 5),
    "LastName": ("last_name", 25),
    "JobTitle": ("job_title", 41),
    "Phone": ("phone", 21),
    "AltPhone": ("alt_phone", 21),
    "Fax": ("fax", 21),
    "Email": ("email", 1023),
    "Cc": ("cc", 1023),
    "Contact": ("contact", 41),
    "AltContact": ("alt_contact", 41),
    "AccountNumber": ("account_number", 99),
    "Notes": ("notes", 4095),
    "JobStatus": ("job_status", 20),
}
# Reference element -> (attribute, entity it refers to, how an error names that entity)
_REFS = {
    "ClassRef": ("class_id", "Class", "Class"),
    "ParentRef": ("parent_id", "Customer", "Customer"),
    "TermsRef": ("terms_id", "Terms", "Terms"),
    "SalesRepRef": ("sales_rep_id", "SalesRep", "Sales Rep"),
}
_ADDRESS = {
    "Addr1": ("addr1", 41),
    "Addr2": ("addr2", 41),
    "Addr3": ("addr3", 41),
    "Addr4": ("addr4", 41),
    "Addr5": ("addr5", 41),
    "City": ("city", 31),
    "State": ("state", 21),
    "PostalCode": ("postal_code", 13),
    "Country": ("country", 31),
    "Note": ("note", 41),
}
_CUSTOMER_KNOWN = {
    *_TEXT,
    *_REFS,
    "IsActive",
    "BillAddress",
    "ShipAddress",
    "CreditLimit",
    "SalesTaxCodeRef",
    "ListID",
    "EditSequence",
}


class WriteError(Exception):
    """A write QuickBooks refuses, with its status code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def customer_changes(el: Any, data: CompanyData, exclude: str | None) -> dict[str, Any]:
    """The fields a CustomerAdd / CustomerMod element sets, checked as QuickBooks checks them.

    An empty element clears a field. Raises WriteError for values QuickBooks refuses.
    """
    changes: dict[str, Any] = {}
    for child in el:
        tag = child.tag
        if tag not in _CUSTOMER_KNOWN:
            raise SimulatorGap(f"{el.tag}: the simulator does not implement <{tag}>")
        text = child.text or ""
        if tag in _TEXT:
            name, limit = _TEXT[tag]
            if len(text) > limit:
                raise WriteError(3070, TOO_LONG.format(text, tag))
            changes[name] = text or None
        elif tag in _REFS:
            name, entity, label = _REFS[tag]
            changes[name] = _resolve(child, data, entity, label)
        elif tag == "IsActive":
            changes["is_active"] = text.strip() in ("true", "1")
        elif tag in ("BillAddress", "ShipAddress"):
            changes[tag] = _address(child)
        elif tag == "CreditLimit":
            try:
                changes["credit_limit"] = Decimal(text) if text else None
            except InvalidOperation as exc:
                raise WriteError(
                    3040,
                    f'There was an error when converting the amount "{text}" in the field '
                    '"CreditLimit".',
                ) from exc
        elif tag == "SalesTaxCodeRef":
            code = child.findtext("FullName")
            if code not in ("Tax", "Non"):
                raise WriteError(
                    3140, BAD_REF.format("Sales Tax Code", code or child.findtext("ListID"))
                )
            changes["sales_tax_code"] = code
    if "name" in changes or "parent_id" in changes:
        _check_name(changes, data, exclude)
    return changes


def _resolve(el: Any, data: CompanyData, entity: str, label: str) -> str:
    table = data.table(entity)
    list_id = el.findtext("ListID")
    full_name = el.findtext("FullName")
    if list_id is not None:
        if list_id in table:
            return list_id
        wanted = list_id
    else:
        wanted = full_name or ""
        folded = wanted.casefold()
        for record in table.values():
            if data.full_name(record).casefold() == folded:
                return record.list_id
    if entity == "Customer":
        raise WriteError(3130, BAD_PARENT.format(wanted))
    raise WriteError(3140, BAD_REF.format(label, wanted))


def _address(el: Any) -> SimAddress:
    address = SimAddress()
    for child in el:
        if child.tag not in _ADDRESS:
            raise MalformedRequest(f"<{el.tag}> cannot hold <{child.tag}>")
        name, limit = _ADDRESS[child.tag]
        text = child.text or ""
        if len(text) > limit:
            raise WriteError(3070, TOO_LONG.format(text, child.tag))
        setattr(address, name, text or None)
    return address


def _check_name(changes: dict[str, Any], data: CompanyData, exclude: str | None) -> None:
    current = data.customers.get(exclude) if exclude else None
    name = changes.get("name", current.name if current else None)
    if not name:
        raise MalformedRequest("a customer needs a Name")
    parent_id = changes.get("parent_id", current.parent_id if current else None)
    parent = data.customers.get(parent_id) if parent_id else None
    if parent is not None and exclude in {
        parent.list_id,
        *(a.list_id for a in data.ancestors(parent)),
    }:
        raise WriteError(3130, BAD_PARENT.format(data.full_name(parent)))  # a cycle
    full_name = f"{data.full_name(parent)}:{name}" if parent is not None else name
    if data.name_in_use(full_name, exclude=exclude):
        raise WriteError(3100, NAME_IN_USE.format(name))


def apply_customer(customer: SimCustomer, changes: dict[str, Any]) -> None:
    """Set the changed fields; an address given replaces the stored one."""
    known = {f.name for f in fields(SimCustomer)}
    for name, value in changes.items():
        if name == "BillAddress":
            customer.bill_address = value
            customer.city, customer.state = value.city, value.state
        elif name == "ShipAddress":
            customer.ship_address = value
        elif name in known:
            setattr(customer, name, value)


def new_customer(data: CompanyData, changes: dict[str, Any]) -> SimCustomer:
    """A customer created by CustomerAdd (or ``FakeCompany.add``), stamped now."""
    now = data.clock.now()
    customer = SimCustomer(
        list_id=data.new_list_id(now),
        name=changes["name"],
        time_created=now,
        time_modified=now,
        edit_sequence=str(int(now.timestamp())),
        is_active=True,
        company_name=None,
        first_name=None,
        last_name=None,
        city=None,
        state=None,
        phone=None,
        email=None,
        balance=ZERO,
        job_status="None",
    )
    apply_customer(customer, changes)
    data.customers[customer.list_id] = customer
    data.customers_changed()
    return customer


# --- data extensions ---------------------------------------------------------------------------


def define(el: Any, data: CompanyData) -> DataExtDef:
    """DataExtDefAdd: a custom field definition under an OwnerID."""
    owner = el.findtext("OwnerID")
    name = el.findtext("DataExtName")
    ext_type = el.findtext("DataExtType")
    if not owner or not name or not ext_type:
        raise MalformedRequest("DataExtDefAdd needs OwnerID, DataExtName and DataExtType")
    if len(name) > 31:
        raise WriteError(3070, TOO_LONG.format(name, "DataExtName"))
    if (owner_key(owner), name) in data.ext_defs:
        raise WriteError(3100, NAME_IN_USE.format(name))
    assign_to = tuple(e.text or "" for e in el.findall("AssignToObject"))
    return data.define_ext(owner, name, ext_type, assign_to)


def ext_target(el: Any, data: CompanyData) -> tuple[str, str]:
    """The object a DataExtAdd / DataExtMod is about: (object key, AssignToObject name)."""
    if el.findtext("OtherDataExtType") == "Company":
        return "Company", "Company"
    list_type = el.findtext("ListDataExtType")
    if list_type == "Customer":
        ref = el.find("ListObjRef")
        if ref is None:
            raise MalformedRequest("ListDataExtType needs ListObjRef")
        try:
            return _resolve(ref, data, "Customer", "Customer"), "Customer"
        except WriteError as exc:
            wanted = ref.findtext("ListID") or ref.findtext("FullName") or ""
            raise WriteError(3120, NOT_FOUND_MESSAGE.format(wanted)) from exc
    raise SimulatorGap("data extensions are simulated on the company and on customers only")


def set_value(el: Any, data: CompanyData, adding: bool) -> tuple[DataExtDef, str]:
    """DataExtAdd (``adding``) or DataExtMod: store a custom field value."""
    owner = el.findtext("OwnerID") or ""
    name = el.findtext("DataExtName") or ""
    value = el.findtext("DataExtValue")
    if value is None:
        raise MalformedRequest("DataExt needs DataExtValue")
    definition = data.ext_defs.get((owner_key(owner), name))
    key, object_type = ext_target(el, data)
    if definition is None or (definition.assign_to and object_type not in definition.assign_to):
        raise WriteError(3120, NOT_FOUND_MESSAGE.format(name))
    limit = 1024 if definition.ext_type == "STR1024TYPE" else 255
    if len(value) > limit:
        raise WriteError(3070, TOO_LONG.format(value, "DataExtValue"))
    exists = (owner_key(owner), name) in data.ext_values.get(key, {})
    if adding and exists:
        raise WriteError(3100, NAME_IN_USE.format(name))
    if not adding and not exists:
        raise WriteError(3120, NOT_FOUND_MESSAGE.format(name))
    data.set_ext(key, definition.owner_id, name, value)
    return definition, value
