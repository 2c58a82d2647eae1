"""Deletion records from ``ListDeletedQuery`` and ``TxnDeletedQuery``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(slots=True)
class ListDeleted:
    """A deleted list element (``ListDeletedRet``); ``source_id`` is the deleted ListID."""

    list_del_type: str
    list_id: str
    time_created: datetime | None = None
    time_deleted: datetime | None = None
    full_name: str | None = None

    entity = "ListDeleted"

    @property
    def source_id(self) -> str:
        return self.list_id


@dataclass(slots=True)
class TxnDeleted:
    """A deleted transaction (``TxnDeletedRet``); ``source_id`` is the deleted TxnID."""

    txn_del_type: str
    txn_id: str
    time_created: datetime | None = None
    time_deleted: datetime | None = None
    ref_number: str | None = None

    entity = "TxnDeleted"

    @property
    def source_id(self) -> str:
        return self.txn_id
