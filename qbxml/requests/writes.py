"""Add and Mod requests for write-back, driven by per-type field tables.

A table lists a request's fields in schema order, each with its element name, value kind,
maximum length (QuickBooks Desktop limits from Intuit's 13.0 XSD and sample-file annotations)
and the qbXML version that introduced it. Rendering walks the table, so element order, limits
and version gates hold for every type; adding a type (VendorAdd, ItemServiceMod ...) is a data
class with its values, a table, and a two-line subclass of ``ListAdd``/``ListMod``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal

from lxml import etree

from ..errors import QbxmlError
from ..records import Address, Ref
from ..versions import QbxmlVersion
from .core import (
    check_guid,
    format_value,
    include_ret_elements,
    start_request,
    sub_text,
    supports,
    v,
)

Kind = Literal["text", "bool", "amount", "decimal", "date", "enum", "guid", "ref", "address"]

V1_0 = v("1.0")
V3_0 = v("3.0")
V6_0 = v("6.0")
V8_0 = v("8.0")
V12_0 = v("12.0")

MAX_EDIT_SEQUENCE = 16


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One element of an Add/Mod body: where its value comes from and what QuickBooks allows."""

    tag: str
    attr: str
    kind: Kind = "text"
    max_length: int | None = None  # for refs: of the FullName
    since: QbxmlVersion = V1_0
    choices: tuple[str, ...] = ()


# Address children: order, QuickBooks Desktop limits, versions (Addr4 2.0; Addr5, Note 6.0).
ADDRESS_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("Addr1", "addr1", max_length=41),
    FieldSpec("Addr2", "addr2", max_length=41),
    FieldSpec("Addr3", "addr3", max_length=41),
    FieldSpec("Addr4", "addr4", max_length=41, since=v("2.0")),
    FieldSpec("Addr5", "addr5", max_length=41, since=V6_0),
    FieldSpec("City", "city", max_length=31),
    FieldSpec("State", "state", max_length=21),
    FieldSpec("PostalCode", "postal_code", max_length=13),
    FieldSpec("Country", "country", max_length=31),
    FieldSpec("Note", "note", max_length=41, since=V6_0),
)


def amount(value: Decimal | int, name: str) -> Decimal:
    """``value`` as AMTTYPE wants it: two decimals, never rounded behind the caller's back."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise QbxmlError(f"{name} needs a Decimal amount, not {value!r}")
    cents = Decimal(value).quantize(Decimal("0.01"))
    if cents != value or len(cents.as_tuple().digits) > 15:
        raise QbxmlError(f"{name} must have at most 13 digits and 2 decimals, not {value}")
    return cents


def decimal(value: Decimal | int, name: str) -> Decimal:
    """``value`` as QUANTYPE / PRICETYPE want it: a finite Decimal, never a float."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise QbxmlError(f"{name} needs a Decimal, not {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise QbxmlError(f"{name} must be a finite number, not {value}")
    return number


def _render_ref(parent: Any, spec: FieldSpec, ref: Ref) -> None:
    if not isinstance(ref, Ref) or not (ref.list_id or ref.full_name):
        raise QbxmlError(f"{spec.tag} needs a Ref with a ListID or a FullName")
    el = etree.SubElement(parent, spec.tag)
    if ref.list_id:
        sub_text(el, "ListID", ref.list_id)
    if ref.full_name:
        sub_text(el, "FullName", ref.full_name, spec.max_length, label=f"{spec.tag}/FullName")


def _render_address(parent: Any, spec: FieldSpec, address: Address, version: QbxmlVersion) -> None:
    if not isinstance(address, Address):
        raise QbxmlError(f"{spec.tag} needs an Address")
    el = etree.SubElement(parent, spec.tag)
    render_fields(el, ADDRESS_FIELDS, address, version, context=spec.tag)


def render_fields(
    parent: Any,
    specs: tuple[FieldSpec, ...],
    values: Any,
    version: QbxmlVersion,
    context: str = "",
) -> None:
    """Append every set (not None) field of ``values`` in table order, checked."""
    for spec in specs:
        value = getattr(values, spec.attr)
        if value is None:
            continue
        name = f"{context}/{spec.tag}" if context else spec.tag
        supports(version, spec.since, name, explicit=True)
        if spec.kind == "ref":
            _render_ref(parent, spec, value)
        elif spec.kind == "address":
            _render_address(parent, spec, value, version)
        elif spec.kind == "text":
            sub_text(parent, spec.tag, value, spec.max_length, label=name)
        else:
            if spec.kind == "enum" and value not in spec.choices:
                raise QbxmlError(f"{name} must be one of {', '.join(spec.choices)}, not {value!r}")
            if spec.kind == "bool" and not isinstance(value, bool):
                raise QbxmlError(f"{name} needs True or False, not {value!r}")
            if spec.kind == "guid":
                check_guid(value, name)
            if spec.kind == "amount":
                value = amount(value, name)
            if spec.kind == "decimal":
                value = decimal(value, name)
            if spec.kind == "date" and (not isinstance(value, date) or isinstance(value, datetime)):
                raise QbxmlError(f"{name} needs a date, not {value!r}")
            sub_text(parent, spec.tag, format_value(value))


@dataclass(frozen=True, slots=True)
class ListAdd:
    """``<Type>AddRq``: ``data`` holds the values, ``FIELDS`` the table for this type."""

    request_id: str
    data: Any
    include_ret_elements: tuple[str, ...] = ()

    TYPE: ClassVar[str] = ""
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    def to_element(self, version: QbxmlVersion) -> Any:
        el = start_request(f"{self.TYPE}AddRq", self.request_id)
        for attr in self.REQUIRED:
            if getattr(self.data, attr) is None:
                raise QbxmlError(f"{self.TYPE}Add needs {attr}")
        body = etree.SubElement(el, f"{self.TYPE}Add")
        render_fields(body, self.FIELDS, self.data, version)
        include_ret_elements(el, self.include_ret_elements, version)
        return el


@dataclass(frozen=True, slots=True)
class ListMod:
    """``<Type>ModRq``: the ListID and current EditSequence, then only the fields to change."""

    request_id: str
    list_id: str
    edit_sequence: str
    data: Any
    include_ret_elements: tuple[str, ...] = ()

    TYPE: ClassVar[str] = ""
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = ()

    def to_element(self, version: QbxmlVersion) -> Any:
        el = start_request(f"{self.TYPE}ModRq", self.request_id)
        if not self.list_id or not self.edit_sequence:
            # QuickBooks refuses a Mod without the EditSequence it last handed out (3200).
            raise QbxmlError(f"{self.TYPE}Mod needs the ListID and the current EditSequence")
        body = etree.SubElement(el, f"{self.TYPE}Mod")
        sub_text(body, "ListID", self.list_id)
        sub_text(body, "EditSequence", self.edit_sequence, max_length=MAX_EDIT_SEQUENCE)
        render_fields(body, self.FIELDS, self.data, version)
        include_ret_elements(el, self.include_ret_elements, version)
        return el


# --- customers -----------------------------------------------------------------------------------

JOB_STATUSES = ("Awarded", "Closed", "InProgress", "None", "NotAwarded", "Pending")
DELIVERY_METHODS = ("None", "Email", "Fax")


@dataclass(frozen=True, slots=True)
class CustomerData:
    """The writable customer fields; None leaves a field out (in a Mod: unchanged)."""

    name: str | None = None
    is_active: bool | None = None
    class_: Ref | None = None
    parent: Ref | None = None
    company_name: str | None = None
    salutation: str | None = None
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    job_title: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    phone: str | None = None
    alt_phone: str | None = None
    fax: str | None = None
    email: str | None = None
    cc: str | None = None
    contact: str | None = None
    alt_contact: str | None = None
    customer_type: Ref | None = None
    terms: Ref | None = None
    sales_rep: Ref | None = None
    open_balance: Decimal | None = None
    open_balance_date: date | None = None
    sales_tax_code: Ref | None = None
    item_sales_tax: Ref | None = None
    resale_number: str | None = None
    account_number: str | None = None
    credit_limit: Decimal | None = None
    preferred_payment_method: Ref | None = None
    job_status: str | None = None
    job_start_date: date | None = None
    job_projected_end_date: date | None = None
    job_end_date: date | None = None
    job_desc: str | None = None
    job_type: Ref | None = None
    notes: str | None = None
    preferred_delivery_method: str | None = None
    price_level: Ref | None = None
    external_guid: str | None = None
    currency: Ref | None = None


def _customer_fields(mod: bool) -> tuple[FieldSpec, ...]:
    # CustomerAdd / CustomerMod order (qbxml130.xsd); CustomerMod lacks OpenBalance,
    # OpenBalanceDate and ExternalGUID, and several of its elements arrived in 3.0.
    mod3 = V3_0 if mod else V1_0
    specs = [
        FieldSpec("Name", "name", max_length=41),
        FieldSpec("IsActive", "is_active", "bool", since=mod3),
        FieldSpec("ClassRef", "class_", "ref", max_length=159, since=V12_0),
        FieldSpec("ParentRef", "parent", "ref", max_length=209, since=mod3),
        FieldSpec("CompanyName", "company_name", max_length=41),
        FieldSpec("Salutation", "salutation", max_length=15),
        FieldSpec("FirstName", "first_name", max_length=25),
        FieldSpec("MiddleName", "middle_name", max_length=5),
        FieldSpec("LastName", "last_name", max_length=25),
        FieldSpec("JobTitle", "job_title", max_length=41, since=V12_0),
        FieldSpec("BillAddress", "bill_address", "address"),
        FieldSpec("ShipAddress", "ship_address", "address"),
        FieldSpec("Phone", "phone", max_length=21),
        FieldSpec("AltPhone", "alt_phone", max_length=21),
        FieldSpec("Fax", "fax", max_length=21),
        FieldSpec("Email", "email", max_length=1023),
        FieldSpec("Cc", "cc", max_length=1023, since=V12_0),
        FieldSpec("Contact", "contact", max_length=41),
        FieldSpec("AltContact", "alt_contact", max_length=41),
        FieldSpec("CustomerTypeRef", "customer_type", "ref", max_length=159, since=mod3),
        FieldSpec("TermsRef", "terms", "ref", max_length=31, since=mod3),
        FieldSpec("SalesRepRef", "sales_rep", "ref", max_length=5, since=mod3),
        FieldSpec("OpenBalance", "open_balance", "amount"),
        FieldSpec("OpenBalanceDate", "open_balance_date", "date"),
        FieldSpec("SalesTaxCodeRef", "sales_tax_code", "ref", max_length=3, since=mod3),
        FieldSpec("ItemSalesTaxRef", "item_sales_tax", "ref", max_length=31, since=mod3),
        FieldSpec("ResaleNumber", "resale_number", max_length=15, since=mod3),
        FieldSpec("AccountNumber", "account_number", max_length=99),
        FieldSpec("CreditLimit", "credit_limit", "amount", since=mod3),
        FieldSpec("PreferredPaymentMethodRef", "preferred_payment_method", "ref", 31, since=V3_0),
        FieldSpec("JobStatus", "job_status", "enum", since=mod3, choices=JOB_STATUSES),
        FieldSpec("JobStartDate", "job_start_date", "date", since=mod3),
        FieldSpec("JobProjectedEndDate", "job_projected_end_date", "date", since=mod3),
        FieldSpec("JobEndDate", "job_end_date", "date", since=mod3),
        FieldSpec("JobDesc", "job_desc", max_length=99, since=mod3),
        FieldSpec("JobTypeRef", "job_type", "ref", max_length=159, since=mod3),
        FieldSpec("Notes", "notes", max_length=4095, since=V3_0),
        FieldSpec(
            "PreferredDeliveryMethod",
            "preferred_delivery_method",
            "enum",
            since=V12_0,
            choices=DELIVERY_METHODS,
        ),
        FieldSpec("PriceLevelRef", "price_level", "ref", max_length=31, since=v("4.0")),
        FieldSpec("ExternalGUID", "external_guid", "guid", since=V8_0),
        FieldSpec("CurrencyRef", "currency", "ref", max_length=64, since=V8_0),
    ]
    if mod:
        add_only = {"OpenBalance", "OpenBalanceDate", "ExternalGUID"}
        specs = [s for s in specs if s.tag not in add_only]
    return tuple(specs)


CUSTOMER_ADD_FIELDS = _customer_fields(mod=False)
CUSTOMER_MOD_FIELDS = _customer_fields(mod=True)


@dataclass(frozen=True, slots=True)
class CustomerAdd(ListAdd):
    """``CustomerAddRq``: ``data`` is a CustomerData with at least ``name``."""

    TYPE: ClassVar[str] = "Customer"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = CUSTOMER_ADD_FIELDS
    REQUIRED: ClassVar[tuple[str, ...]] = ("name",)


@dataclass(frozen=True, slots=True)
class CustomerMod(ListMod):
    """``CustomerModRq``: ListID + EditSequence, then the CustomerData fields that are set.

    OpenBalance, OpenBalanceDate and ExternalGUID cannot be changed by a Mod; setting them is
    an error rather than a silent drop.
    """

    TYPE: ClassVar[str] = "Customer"
    FIELDS: ClassVar[tuple[FieldSpec, ...]] = CUSTOMER_MOD_FIELDS

    def to_element(self, version: QbxmlVersion) -> Any:
        allowed = {s.attr for s in self.FIELDS}
        for f in fields(self.data):
            if f.name not in allowed and getattr(self.data, f.name) is not None:
                raise QbxmlError(f"CustomerMod cannot change {f.name}")
        return ListMod.to_element(self, version)
