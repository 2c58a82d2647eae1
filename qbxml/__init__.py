"""qbXML for QuickBooks Desktop: request builders, a streaming response parser, status classes.

Standalone: knows nothing of AWS, ZOHO or SOAP.
"""

from .errors import FieldTooLongError, QbxmlError
from .hcp import HcpInfo, parse_hcp
from .parser import Response, ResponseSet, iter_responses, parse_response
from .records import Address, Customer, CustomField, GenericRecord, Record, Ref, to_dict
from .requests import (
    CompanyQuery,
    CustomerQuery,
    HostQuery,
    PreferencesQuery,
    build_message_set,
)
from .status import StatusClass, classify
from .versions import MAX_VERSION, MIN_VERSION, QbxmlVersion, negotiate

__all__ = [
    "MAX_VERSION",
    "MIN_VERSION",
    "Address",
    "CompanyQuery",
    "CustomField",
    "Customer",
    "CustomerQuery",
    "FieldTooLongError",
    "GenericRecord",
    "HcpInfo",
    "HostQuery",
    "PreferencesQuery",
    "QbxmlError",
    "QbxmlVersion",
    "Record",
    "Ref",
    "Response",
    "ResponseSet",
    "StatusClass",
    "build_message_set",
    "classify",
    "iter_responses",
    "negotiate",
    "parse_hcp",
    "parse_response",
    "to_dict",
]
