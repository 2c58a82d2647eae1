"""The one query builder the sync engine calls: ``sync_query(entity, ...)``.

Per entity kind it asks for what an incremental sync needs:
- lists (Item, Customer, Vendor): ``ActiveStatus`` All (deactivations too), From/ToModifiedDate,
  OwnerID 0 (the builders' default: public custom fields as DataExtRet), iterator paging;
- transactions: ``ModifiedDateRangeFilter``, IncludeLineItems true, IncludeLinkedTxns true where
  the schema has it (not SalesReceipt or ReceivePayment), OwnerID 0, iterator paging;
- ``Transaction``: the generic TransactionQuery over the transaction types named in ``synced``,
  asking only for TxnType, TxnID and TimeModified (a live round's one probe for whether any of
  them changed, lambdas/sync/gate.py), iterator paging;
- deletions (ListDeleted, TxnDeleted): ``DeletedDateRangeFilter`` over the del types of the
  entities the tenant syncs (``deletion_types``; every del type of the sync set when none is
  named). Their schema has no iterator and no MaxReturned: an iterator is refused, max_returned is
  ignored (they return everything deleted in the range).
"""

from __future__ import annotations

from datetime import datetime

from .errors import QbxmlError
from .records import ITEM_TYPES
from .requests import (
    CreditMemoQuery,
    CustomerQuery,
    EstimateQuery,
    InvoiceQuery,
    ItemQuery,
    ListDeletedQuery,
    ListQuery,
    ReceivePaymentQuery,
    Request,
    SalesOrderQuery,
    SalesReceiptQuery,
    TransactionQuery,
    TxnDeletedQuery,
    TxnQuery,
    VendorQuery,
)
from .requests.core import Iterator

LIST_ENTITIES: tuple[str, ...] = ("Item", "Customer", "Vendor")
TXN_ENTITIES: tuple[str, ...] = (
    *("Estimate", "SalesOrder", "Invoice", "SalesReceipt", "ReceivePayment", "CreditMemo"),
)
DELETED_ENTITIES: tuple[str, ...] = ("ListDeleted", "TxnDeleted")
# The order a session runs them: lists before the transactions that refer to them.
SYNC_ENTITIES: tuple[str, ...] = (*LIST_ENTITIES, *TXN_ENTITIES, *DELETED_ENTITIES)

# ListDelType values of the synced lists: customers, vendors and every item type.
SYNC_LIST_DEL_TYPES: tuple[str, ...] = (
    "Customer",
    "Vendor",
    *sorted(tag.removesuffix("Ret") for tag in ITEM_TYPES),
)
SYNC_TXN_DEL_TYPES: tuple[str, ...] = TXN_ENTITIES
# The list entity whose records each ListDelType deletes (an Item is any of the item types).
_LIST_DEL_OWNER: dict[str, str] = {
    t: t if t in LIST_ENTITIES else "Item" for t in SYNC_LIST_DEL_TYPES
}

# What a change probe asks for: identity, version and change time, nothing else (IncludeRetElement,
# qbXML 4.0+). QuickBooks then sends about 150 bytes per record, and none for an idle company.
PROBE_LIST_ELEMENTS: tuple[str, ...] = ("ListID", "EditSequence", "TimeModified")
PROBE_TXN_ELEMENTS: tuple[str, ...] = ("TxnID", "EditSequence", "TimeModified")
# The probe over several transaction types at once: TransactionRet has no EditSequence.
GATE_ENTITY = "Transaction"
GATE_ELEMENTS: tuple[str, ...] = ("TxnType", "TxnID", "TimeModified")

_LIST_QUERIES: dict[str, type[ListQuery]] = {
    "Item": ItemQuery,
    "Customer": CustomerQuery,
    "Vendor": VendorQuery,
}
_TXN_QUERIES: dict[str, type[TxnQuery]] = {
    "Estimate": EstimateQuery,
    "SalesOrder": SalesOrderQuery,
    "Invoice": InvoiceQuery,
    "SalesReceipt": SalesReceiptQuery,
    "ReceivePayment": ReceivePaymentQuery,
    "CreditMemo": CreditMemoQuery,
}


def sync_query(
    entity: str,
    *,
    request_id: str,
    max_returned: int | None = None,
    iterator: Iterator | None = None,
    iterator_id: str | None = None,
    modified_from: datetime | None = None,
    modified_to: datetime | None = None,
    ids: tuple[str, ...] = (),
    probe: bool = False,
    synced: tuple[str, ...] = (),
) -> Request:
    """The query that fetches one page of ``entity`` changes (see the module docstring).

    ``probe`` asks only which records changed (``PROBE_*_ELEMENTS``, no custom fields, lines or
    links), for a list or transaction entity; the records are then read whole by id.

    ``entity`` is one of SYNC_ENTITIES; ``modified_from``/``modified_to`` bound the change (or,
    for deletions, deletion) time. ``ids`` instead reads those records (ListIDs or TxnIDs) as
    they are now, whole, with no filter and no iterator. Raises QbxmlError for an unknown
    entity or an iterator on a deletion query. ``synced`` names the entities whose deletions a
    deletion query asks for (``deletion_types``), or whose changes ``Transaction`` asks for.
    """
    list_query = _LIST_QUERIES.get(entity)
    if ids:
        if list_query is not None:
            return list_query(request_id=request_id, active_status=None, list_ids=tuple(ids))
        by_txn = _TXN_QUERIES.get(entity)
        if by_txn is None:
            raise QbxmlError(f"{entity} records cannot be read by id")
        return by_txn(
            request_id=request_id,
            txn_ids=tuple(ids),
            include_line_items=True,
            include_linked_txns=True if by_txn.HAS_LINKED_TXNS else None,
        )
    if list_query is not None:
        return list_query(
            request_id=request_id,
            max_returned=max_returned,
            iterator=iterator,
            iterator_id=iterator_id,
            active_status="All",
            from_modified=modified_from,
            to_modified=modified_to,
            include_ret_elements=PROBE_LIST_ELEMENTS if probe else (),
            owner_ids=() if probe else None,
        )
    txn_query = _TXN_QUERIES.get(entity)
    if txn_query is not None:
        return txn_query(
            request_id=request_id,
            max_returned=max_returned,
            iterator=iterator,
            iterator_id=iterator_id,
            from_modified=modified_from,
            to_modified=modified_to,
            include_line_items=None if probe else True,
            include_linked_txns=True if txn_query.HAS_LINKED_TXNS and not probe else None,
            include_ret_elements=PROBE_TXN_ELEMENTS if probe else (),
            owner_ids=() if probe else None,
        )
    if entity == GATE_ENTITY:
        return TransactionQuery(
            request_id=request_id,
            txn_types=tuple(t for t in TXN_ENTITIES if t in synced) or TXN_ENTITIES,
            max_returned=max_returned,
            iterator=iterator,
            iterator_id=iterator_id,
            from_modified=modified_from,
            to_modified=modified_to,
            include_ret_elements=GATE_ELEMENTS,
        )
    if probe:
        raise QbxmlError(f"{entity} has no change probe; query it whole")
    if entity in DELETED_ENTITIES:
        if iterator is not None or iterator_id is not None:
            raise QbxmlError(f"{entity}Query has no iterator in the qbXML schema")
        query = ListDeletedQuery if entity == "ListDeleted" else TxnDeletedQuery
        return query(
            request_id=request_id,
            del_types=deletion_types(entity, synced),
            from_deleted=modified_from,
            to_deleted=modified_to,
        )
    raise QbxmlError(f"cannot sync {entity!r}; known entities: {', '.join(SYNC_ENTITIES)}")


def deletion_types(entity: str, synced: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The del types a deletion query (``ListDeleted`` or ``TxnDeleted``) asks for: those of the
    ``synced`` entities (Item: every item type), or every one of the sync set when ``synced``
    names none of that kind. The schema takes any non-empty subset (ListDelType and TxnDelType
    are ``maxOccurs="unbounded"``), and a deletion of a record the tenant does not sync is
    nothing the forwarder could apply."""
    if entity == "ListDeleted":
        types = tuple(t for t in SYNC_LIST_DEL_TYPES if _LIST_DEL_OWNER[t] in synced)
        return types or SYNC_LIST_DEL_TYPES
    if entity == "TxnDeleted":
        return tuple(t for t in SYNC_TXN_DEL_TYPES if t in synced) or SYNC_TXN_DEL_TYPES
    raise QbxmlError(f"{entity} is not a deletion query; known: {', '.join(DELETED_ENTITIES)}")


def response_type(entity: str) -> str:
    """The ``request_type`` of the answer to ``entity``'s sync query, as ``parse_response``
    names it (``CustomerQuery`` for a ``CustomerQueryRs``).

    Raises QbxmlError for an entity ``sync_query`` does not know.
    """
    query = _LIST_QUERIES.get(entity) or _TXN_QUERIES.get(entity)
    if query is not None:
        return query.TAG.removesuffix("Rq")
    if entity in DELETED_ENTITIES or entity == GATE_ENTITY:
        return f"{entity}Query"
    raise QbxmlError(f"cannot sync {entity!r}; known entities: {', '.join(SYNC_ENTITIES)}")
