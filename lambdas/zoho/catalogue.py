"""What a mapping may name: QuickBooks canonical fields per entity, ZOHO modules and fields.

Source names are derived from the canonical record dataclasses (``qbxml.records``) of the entity
table (``lambdas.model.entities``), under the names ``to_dict`` writes them: a field added to a
record can be mapped at once, and a name no record has (``Invoice.total_amount``) is refused
instead of always reading None. ZOHO names are the API names of standard modules and fields;
custom fields are not listed here because each organisation has its own, so a mapping declares
the custom fields it uses (and ``qbrelay zoho check`` verifies them against the organisation).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from qbxml.records import TxnLine, json_fields

from ..model.entities import ENTITIES, Kind


def _record_type(hint: Any) -> type | None:
    """The record dataclass a field holds (``Ref | None`` -> Ref), or None when it holds none."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = members[0] if len(members) == 1 else None
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def _nested(record_type: type) -> dict[str, frozenset[str]]:
    """The structured fields of ``record_type`` and the sub-fields a path may name below each.

    A reference or address gives its own fields (``customer.full_name``, ``bill_address.city``).
    A list (lines, custom fields, linked transactions) gives none: a path reads dicts only, so
    no path into or ending at a list could ever give a value.
    """
    out: dict[str, frozenset[str]] = {}
    for name, hint in json_fields(record_type).items():
        if typing.get_origin(hint) is list:
            out[name] = frozenset()
        elif (inner := _record_type(hint)) is not None:
            out[name] = frozenset(json_fields(inner))
    return out


# Deletion records only say what went away: the deletion policy handles them, not field maps.
_MAPPABLE = {name: e.record_type for name, e in ENTITIES.items() if e.kind is not Kind.DELETION}

# ``entity`` is not a dataclass field but ``to_dict`` writes it on every record.
SOURCE_FIELDS: dict[str, frozenset[str]] = {
    name: frozenset(json_fields(cls)) | {"entity"} for name, cls in _MAPPABLE.items()
}
NESTED: dict[str, dict[str, frozenset[str]]] = {
    name: _nested(cls) for name, cls in _MAPPABLE.items()
}
LINE_FIELDS: frozenset[str] = frozenset(json_fields(TxnLine))
LINE_NESTED: dict[str, frozenset[str]] = _nested(TxnLine)

_ADDR = ("Street", "City", "State", "Code", "Country")
_BILL_SHIP = {f"{p}_{a}" for p in ("Billing", "Shipping") for a in _ADDR}
_COMMON_ZOHO = {"Owner", "Tag", "Description"}
_INVENTORY = (
    _COMMON_ZOHO
    | _BILL_SHIP
    | {
        "Subject",
        "Account_Name",
        "Contact_Name",
        "Deal_Name",
        "Carrier",
        "Terms_and_Conditions",
        "Discount",
        "Adjustment",
        "Currency",
        "Exchange_Rate",
    }
)

ZOHO_FIELDS: dict[str, frozenset[str]] = {
    "Accounts": frozenset(
        _COMMON_ZOHO
        | _BILL_SHIP
        | {
            "Account_Name",
            "Account_Number",
            "Account_Site",
            "Account_Type",
            "Annual_Revenue",
            "Employees",
            "Fax",
            "Industry",
            "Ownership",
            "Parent_Account",
            "Phone",
            "Rating",
            "SIC_Code",
            "Ticker_Symbol",
            "Website",
            "Currency",
        }
    ),
    "Contacts": frozenset(
        _COMMON_ZOHO
        | {f"{p}_{a}" for p in ("Mailing", "Other") for a in ("Street", "City", "State", "Zip")}
        | {
            "Mailing_Country",
            "Other_Country",
            "Salutation",
            "First_Name",
            "Last_Name",
            "Email",
            "Secondary_Email",
            "Phone",
            "Mobile",
            "Home_Phone",
            "Other_Phone",
            "Fax",
            "Assistant",
            "Asst_Phone",
            "Title",
            "Department",
            "Account_Name",
            "Vendor_Name",
            "Date_of_Birth",
            "Lead_Source",
            "Reports_To",
            "Email_Opt_Out",
        }
    ),
    "Products": frozenset(
        _COMMON_ZOHO
        | {
            "Product_Name",
            "Product_Code",
            "Product_Active",
            "Product_Category",
            "Manufacturer",
            "Vendor_Name",
            "Unit_Price",
            "Commission_Rate",
            "Tax",
            "Taxable",
            "Usage_Unit",
            "Qty_Ordered",
            "Qty_in_Stock",
            "Reorder_Level",
            "Qty_in_Demand",
            "Handler",
            "Sales_Start_Date",
            "Sales_End_Date",
            "Support_Start_Date",
            "Support_Expiry_Date",
        }
    ),
    "Quotes": frozenset(_INVENTORY | {"Quote_Stage", "Valid_Till", "Team", "Quoted_Items"}),
    "Sales_Orders": frozenset(
        _INVENTORY
        | {
            "Quote_Name",
            "Customer_No",
            "Purchase_Order",
            "Due_Date",
            "Status",
            "Pending",
            "Excise_Duty",
            "Sales_Commission",
            "Ordered_Items",
        }
    ),
    "Invoices": frozenset(
        _INVENTORY
        | {
            "Sales_Order",
            "Invoice_Date",
            "Due_Date",
            "Status",
            "Purchase_Order",
            "Excise_Duty",
            "Sales_Commission",
            "Invoiced_Items",
        }
    ),
    "Deals": frozenset(
        _COMMON_ZOHO
        | {
            "Deal_Name",
            "Account_Name",
            "Contact_Name",
            "Amount",
            "Closing_Date",
            "Stage",
            "Type",
            "Probability",
            "Next_Step",
            "Lead_Source",
            "Campaign_Source",
        }
    ),
    "Vendors": frozenset(
        _COMMON_ZOHO
        | {
            "Vendor_Name",
            "Email",
            "Phone",
            "Website",
            "GL_Account",
            "Category",
            "Street",
            "City",
            "State",
            "Zip_Code",
            "Country",
        }
    ),
}

# The line-item subform of each inventory module, and the fields of a line.
LINE_ITEM_ARRAYS = {
    "Quotes": "Quoted_Items",
    "Sales_Orders": "Ordered_Items",
    "Invoices": "Invoiced_Items",
}
LINE_ITEM_FIELDS = frozenset(
    {"Product_Name", "Quantity", "List_Price", "Description", "Discount", "Line_Tax", "Book"}
)

# What a custom field may be declared as, and how ``qbrelay zoho check`` tells an operator to
# create it (the labels of ZOHO's field palette).
CUSTOM_FIELD_TYPES = {
    "text": "Single Line",
    "textarea": "Multi Line",
    "number": "Decimal",
    "currency": "Currency",
    "boolean": "Checkbox",
    "date": "Date",
    "picklist": "Pick List",
    "email": "Email",
    "phone": "Phone",
}
