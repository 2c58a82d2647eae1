"""What the sync reads from QuickBooks Online: the ``QboReader`` port and its CDC errors.

``lambdas.qbo.client.QboClient`` satisfies it structurally; tests use an in-memory company.
Entity names are QuickBooks Online's (``Customer``, ``Item``, ``Estimate``, ``Invoice``,
``SalesReceipt``, ``Payment``, ``CreditMemo``); objects are the JSON dicts Intuit returns.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

# One definition for the client and the sync alike (the client raises them).
from .errors import CdcWindowExpired, CdcWindowTooLarge

__all__ = [
    "CDC_MAX_AGE_DAYS",
    "CDC_MAX_OBJECTS",
    "CdcWindowExpired",
    "CdcWindowTooLarge",
    "QboReader",
]

# Intuit's limits for change-data-capture: how far back it looks, and how many objects of one
# entity one response holds.
CDC_MAX_AGE_DAYS = 30
CDC_MAX_OBJECTS = 1000


class QboReader(Protocol):
    """Reads of one QuickBooks Online company (realm)."""

    def query(self, statement: str) -> Iterator[dict[str, Any]]:
        """The objects a QBO SQL ``statement`` selects, all pages (STARTPOSITION/MAXRESULTS)."""
        ...

    def read_by_ids(self, entity: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The objects of ``entity`` with these Ids (batched ``Id IN (...)``); missing ones are
        absent."""
        ...

    def change_data_capture(
        self, entities: Sequence[str], changed_since: datetime
    ) -> dict[str, list[dict[str, Any]]]:
        """Objects of ``entities`` changed since ``changed_since``, by entity; a deleted one is
        ``{"Id": ..., "status": "Deleted", "MetaData": {...}}``. CdcWindowTooLarge past 1,000
        objects of one entity, CdcWindowExpired for a start more than 30 days ago."""
        ...
