"""The HCP response: what QuickBooks sends in the first ``sendRequestXML`` of a session.

It answers HostQuery + CompanyQuery + PreferencesQuery: the product, the qbXML versions it
supports, the company, the data extensions stored on the company (our FileID among them) and the
company's preferences (which features are switched on).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import QbxmlError
from .parser import parse_response
from .records import GenericRecord


@dataclass(frozen=True, slots=True)
class HcpInfo:
    """The parts of the HCP response the relay uses."""

    product_name: str = ""
    major_version: str = ""
    minor_version: str = ""
    country: str = ""
    supported_versions: tuple[str, ...] = ()
    file_mode: str = ""
    company_name: str = ""
    # (OwnerID, DataExtName) -> value, e.g. (our OwnerID, "FileID") -> "{...}"
    data_extensions: dict[tuple[str, str], str] = field(default_factory=dict)
    # PreferencesRet flattened to leaf paths, e.g. "JobsAndEstimatesPreferences/IsUsingEstimates"
    # -> "false"; empty when QuickBooks sent no preferences.
    preferences: dict[str, str] = field(default_factory=dict)

    @property
    def edition(self) -> str:
        """The edition the product name names: Pro, Premier, Enterprise, Accountant or Simple
        Start; "" when it names none (another product, or no product name)."""
        for edition, pattern in _EDITIONS:
            if pattern.search(self.product_name):
                return edition
        return ""

    def preference(self, path: str) -> bool | None:
        """A boolean preference by its path below PreferencesRet; None when not reported."""
        value = self.preferences.get(path)
        if value is None:
            return None
        return value.strip().lower() == "true"

    def data_extension(self, owner_id: str, name: str) -> str | None:
        """The value of one company data extension, matched case-insensitively on the owner."""
        for (owner, ext_name), value in self.data_extensions.items():
            if owner.lower() == owner_id.lower() and ext_name == name:
                return value
        return None


# Checked in order: "Enterprise Solutions: Professional Services" is Enterprise, not Pro.
_EDITIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Enterprise", re.compile(r"\bEnterprise\b", re.IGNORECASE)),
    ("Accountant", re.compile(r"\bAccountant\b", re.IGNORECASE)),
    ("Premier", re.compile(r"\bPremier\b", re.IGNORECASE)),
    ("Simple Start", re.compile(r"\bSimple\s*Start\b", re.IGNORECASE)),
    ("Pro", re.compile(r"\bPro\b", re.IGNORECASE)),
)


def _flatten(value: Any, prefix: str, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(child, f"{prefix}/{key}" if prefix else key, out)
    elif isinstance(value, str) and prefix:
        out[prefix] = value


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse_hcp(data: bytes | str) -> HcpInfo:
    """Parse an HCP response; raise QbxmlError when it is not one."""
    host: dict[str, Any] = {}
    company: dict[str, Any] = {}
    preferences: dict[str, Any] = {}
    for response in parse_response(data).responses:
        for record in response.records:
            if isinstance(record, GenericRecord) and record.kind == "HostRet":
                host = record.fields
            elif isinstance(record, GenericRecord) and record.kind == "CompanyRet":
                company = record.fields
            elif isinstance(record, GenericRecord) and record.kind == "PreferencesRet":
                preferences = record.fields
    if not host:
        raise QbxmlError("HCP response has no HostRet")
    extensions: dict[tuple[str, str], str] = {}
    for ext in _as_list(company.get("DataExtRet")):
        if isinstance(ext, dict):
            key = (_str(ext.get("OwnerID")), _str(ext.get("DataExtName")))
            extensions[key] = _str(ext.get("DataExtValue"))
    flat: dict[str, str] = {}
    _flatten(preferences, "", flat)
    return HcpInfo(
        product_name=_str(host.get("ProductName")),
        major_version=_str(host.get("MajorVersion")),
        minor_version=_str(host.get("MinorVersion")),
        country=_str(host.get("Country")),
        supported_versions=tuple(_str(v) for v in _as_list(host.get("SupportedQBXMLVersion"))),
        file_mode=_str(host.get("QBFileMode")),
        company_name=_str(company.get("CompanyName")),
        data_extensions=extensions,
        preferences=flat,
    )
