"""What a mapping may name: QuickBooks canonical fields per entity, ZOHO modules and fields.

Source names follow the canonical records (``qbxml/records.py``; snake_case of the qbXML element
names). ZOHO names are the API names of standard modules and fields; custom fields are not
listed here because each organisation has its own, so a mapping declares the custom fields it
uses (and ``qbrelay zoho check`` verifies them against the organisation).
"""

from __future__ import annotations

REF_FIELDS = frozenset({"list_id", "full_name"})
ADDRESS_FIELDS = frozenset(
    {"addr1", "addr2", "addr3", "addr4", "addr5", "city", "state", "postal_code", "country", "note"}
)
LINE_FIELDS = frozenset(
    {
        "txn_line_id",
        "item",
        "desc",
        "quantity",
        "unit_of_measure",
        "rate",
        "rate_percent",
        "class",
        "amount",
        "service_date",
        "sales_tax_code",
        "other1",
        "other2",
        "custom_fields",
    }
)

# Nested shapes: which sub-fields a dotted path may name below a field.
_REFS = (
    "parent customer terms sales_rep customer_type class item_sales_tax ship_method "
    "payment_method ar_account deposit_to_account currency sales_tax_code template "
    "preferred_vendor income_account"
)
NESTED: dict[str, frozenset[str]] = {
    **{name: REF_FIELDS for name in _REFS.split()},
    "bill_address": ADDRESS_FIELDS,
    "ship_address": ADDRESS_FIELDS,
}

_COMMON = {"time_created", "time_modified", "edit_sequence", "custom_fields"}
_TXN = _COMMON | {
    "txn_id",
    "txn_number",
    "customer",
    "class",
    "template",
    "txn_date",
    "ref_number",
    "bill_address",
    "ship_address",
    "is_pending",
    "po_number",
    "terms",
    "due_date",
    "sales_rep",
    "fob",
    "ship_date",
    "ship_method",
    "subtotal",
    "item_sales_tax",
    "sales_tax_percentage",
    "sales_tax_total",
    "total_amount",
    "currency",
    "exchange_rate",
    "memo",
    "customer_msg",
    "is_to_be_printed",
    "is_to_be_emailed",
    "other",
    "lines",
    "linked_txns",
}

SOURCE_FIELDS: dict[str, frozenset[str]] = {
    "Customer": frozenset(
        _COMMON
        | {
            "list_id",
            "name",
            "full_name",
            "is_active",
            "parent",
            "sublevel",
            "company_name",
            "salutation",
            "first_name",
            "middle_name",
            "last_name",
            "job_title",
            "bill_address",
            "ship_address",
            "phone",
            "alt_phone",
            "fax",
            "email",
            "cc",
            "contact",
            "alt_contact",
            "customer_type",
            "terms",
            "sales_rep",
            "balance",
            "total_balance",
            "account_number",
            "credit_limit",
            "notes",
            "currency",
        }
    ),
    "Item": frozenset(
        _COMMON
        | {
            "item_type",
            "list_id",
            "name",
            "full_name",
            "bar_code_value",
            "is_active",
            "parent",
            "sublevel",
            "manufacturer_part_number",
            "sales_tax_code",
            "sales_desc",
            "desc",
            "sales_price",
            "price",
            "price_percent",
            "purchase_desc",
            "purchase_cost",
            "quantity_on_hand",
            "average_cost",
            "income_account",
            "preferred_vendor",
        }
    ),
    "Invoice": frozenset(
        _TXN | {"applied_amount", "balance_remaining", "is_paid", "is_finance_charge"}
    ),
    "Estimate": frozenset(_TXN | {"is_active", "expiration_date"}),
    "SalesOrder": frozenset(_TXN | {"is_manually_closed", "is_fully_invoiced"}),
    "SalesReceipt": frozenset(_TXN | {"payment_method", "deposit_to_account", "check_number"}),
    "CreditMemo": frozenset(_TXN | {"credit_remaining", "is_paid"}),
    "ReceivePayment": frozenset(
        _COMMON
        | {
            "txn_id",
            "txn_number",
            "customer",
            "ar_account",
            "txn_date",
            "ref_number",
            "total_amount",
            "currency",
            "exchange_rate",
            "payment_method",
            "memo",
            "deposit_to_account",
            "unused_payment",
            "unused_credits",
            "applied_to_txns",
        }
    ),
}

# Entities whose id is a ListID; the rest (transactions) are keyed by TxnID.
LIST_ENTITIES = frozenset({"Customer", "Item"})

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
