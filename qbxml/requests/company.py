"""The HCP queries QuickBooks answers first in every session: host, company, preferences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..versions import QbxmlVersion
from .core import owner_ids, start_request


@dataclass(frozen=True, slots=True)
class HostQuery:
    """``HostQueryRq``: product, version and the qbXML versions QuickBooks supports."""

    request_id: str

    def to_element(self, version: QbxmlVersion) -> Any:
        return start_request("HostQueryRq", self.request_id)


@dataclass(frozen=True, slots=True)
class CompanyQuery:
    """``CompanyQueryRq``; owner_ids selects which data extensions come back (our FileID)."""

    request_id: str
    owner_ids: tuple[str, ...] = ()

    def to_element(self, version: QbxmlVersion) -> Any:
        el = start_request("CompanyQueryRq", self.request_id)
        owner_ids(el, self.owner_ids, version)
        return el


@dataclass(frozen=True, slots=True)
class PreferencesQuery:
    """``PreferencesQueryRq``."""

    request_id: str

    def to_element(self, version: QbxmlVersion) -> Any:
        return start_request("PreferencesQueryRq", self.request_id)
