"""Queries of list elements: customers, vendors, items, terms, sales reps, classes.

Schema shape (qbxmlops130.xsd): ``ListID``* or ``FullName``* or the filters ``MaxReturned``,
``ActiveStatus``, ``FromModifiedDate``, ``ToModifiedDate``; then ``IncludeRetElement``* and, for
the types that have custom fields, ``OwnerID``*. Customer, Vendor and Item queries take an
iterator; Terms, SalesRep and Class queries do not (the lists are small).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ..errors import QbxmlError
from ..versions import QbxmlVersion
from .core import (
    ActiveStatus,
    Iterator,
    format_datetime,
    include_ret_elements,
    iterator_attrs,
    max_returned,
    owner_ids,
    start_request,
    sub_text,
)


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A list query; subclasses name the element and what the schema allows for it.

    ``active_status`` defaults to All because an incremental sync must see deactivations
    (QuickBooks' own default is ActiveOnly). ``owner_ids`` None means "0": public custom fields
    come back as DataExtRet.
    """

    request_id: str
    max_returned: int | None = None
    iterator: Iterator | None = None
    iterator_id: str | None = None
    active_status: ActiveStatus | None = "All"
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    include_ret_elements: tuple[str, ...] = ()
    owner_ids: tuple[str, ...] | None = None
    list_ids: tuple[str, ...] = ()
    full_names: tuple[str, ...] = ()

    TAG: ClassVar[str] = ""
    HAS_ITERATOR: ClassVar[bool] = True
    HAS_OWNER_ID: ClassVar[bool] = True

    def to_element(self, version: QbxmlVersion) -> Any:
        el = start_request(self.TAG, self.request_id)
        if self.HAS_ITERATOR:
            iterator_attrs(el, self.iterator, self.iterator_id, version)
        elif self.iterator is not None or self.iterator_id is not None:
            raise QbxmlError(f"{self.TAG} has no iterator in the qbXML schema")
        if self.list_ids or self.full_names:
            self._by_identity(el)
        else:
            self._filters(el)
        include_ret_elements(el, self.include_ret_elements, version)
        if self.HAS_OWNER_ID:
            owner_ids(el, self.owner_ids, version)
        elif self.owner_ids:
            raise QbxmlError(f"{self.TAG} has no OwnerID in the qbXML schema")
        return el

    def _by_identity(self, el: Any) -> None:
        if self.list_ids and self.full_names:
            raise QbxmlError(f"{self.TAG}: ListID and FullName cannot be combined")
        filters = (self.max_returned, self.from_modified, self.to_modified)
        if any(f is not None for f in filters) or self.active_status not in (None, "All"):
            raise QbxmlError(f"{self.TAG}: a ListID/FullName lookup takes no filters")
        for list_id in self.list_ids:
            sub_text(el, "ListID", list_id)
        for name in self.full_names:
            sub_text(el, "FullName", name)

    def _filters(self, el: Any) -> None:
        max_returned(el, self.max_returned)
        if self.active_status is not None:
            if self.active_status not in ("ActiveOnly", "InactiveOnly", "All"):
                raise QbxmlError(f"not an ActiveStatus: {self.active_status!r}")
            sub_text(el, "ActiveStatus", self.active_status)
        if self.from_modified is not None:
            sub_text(el, "FromModifiedDate", format_datetime(self.from_modified))
        if self.to_modified is not None:
            sub_text(el, "ToModifiedDate", format_datetime(self.to_modified))


@dataclass(frozen=True, slots=True)
class CustomerQuery(ListQuery):
    """``CustomerQueryRq`` (customers and jobs)."""

    TAG: ClassVar[str] = "CustomerQueryRq"


@dataclass(frozen=True, slots=True)
class VendorQuery(ListQuery):
    """``VendorQueryRq``."""

    TAG: ClassVar[str] = "VendorQueryRq"


@dataclass(frozen=True, slots=True)
class ItemQuery(ListQuery):
    """``ItemQueryRq``: every item type in one query (``Item*Ret`` of each type)."""

    TAG: ClassVar[str] = "ItemQueryRq"


@dataclass(frozen=True, slots=True)
class TermsQuery(ListQuery):
    """``TermsQueryRq``: standard and date-driven terms together."""

    TAG: ClassVar[str] = "TermsQueryRq"
    HAS_ITERATOR: ClassVar[bool] = False
    HAS_OWNER_ID: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class StandardTermsQuery(ListQuery):
    """``StandardTermsQueryRq``."""

    TAG: ClassVar[str] = "StandardTermsQueryRq"
    HAS_ITERATOR: ClassVar[bool] = False
    HAS_OWNER_ID: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class DateDrivenTermsQuery(ListQuery):
    """``DateDrivenTermsQueryRq``."""

    TAG: ClassVar[str] = "DateDrivenTermsQueryRq"
    HAS_ITERATOR: ClassVar[bool] = False
    HAS_OWNER_ID: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class SalesRepQuery(ListQuery):
    """``SalesRepQueryRq``."""

    TAG: ClassVar[str] = "SalesRepQueryRq"
    HAS_ITERATOR: ClassVar[bool] = False
    HAS_OWNER_ID: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class ClassQuery(ListQuery):
    """``ClassQueryRq``."""

    TAG: ClassVar[str] = "ClassQueryRq"
    HAS_ITERATOR: ClassVar[bool] = False
    HAS_OWNER_ID: ClassVar[bool] = False
