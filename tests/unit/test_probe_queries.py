"""Change probes' queries: valid qbXML 13.0 that asks only for ids, versions and times."""

from __future__ import annotations

from datetime import datetime

import pytest

from qbxml import QbxmlError, QbxmlVersion, build_message_set, sync_query
from qbxml.sync import (
    LIST_ENTITIES,
    PROBE_LIST_ELEMENTS,
    PROBE_TXN_ELEMENTS,
    TXN_ENTITIES,
    deletion_types,
)
from tests.unit.qbxml_support import schema_or_skip, validate

SINCE = datetime(2026, 1, 14, 8, 0)


@pytest.mark.parametrize("entity", [*LIST_ENTITIES, *TXN_ENTITIES])
def test_a_probe_is_valid_and_asks_for_three_elements(entity: str) -> None:
    query = sync_query(
        entity, request_id="1", max_returned=500, iterator="Start", modified_from=SINCE, probe=True
    )
    xml = build_message_set([query], QbxmlVersion(13, 0))
    validate(schema_or_skip(), xml)
    wanted = PROBE_LIST_ELEMENTS if entity in LIST_ENTITIES else PROBE_TXN_ELEMENTS
    assert [f"<IncludeRetElement>{n}</IncludeRetElement>" in xml for n in wanted] == [True] * 3
    assert "<OwnerID>" not in xml and "IncludeLineItems" not in xml


def test_deletions_have_no_probe() -> None:
    with pytest.raises(QbxmlError, match="no change probe"):
        sync_query("ListDeleted", request_id="1", modified_from=SINCE, probe=True)


@pytest.mark.parametrize(
    ("synced", "lists", "txns"),
    [
        (("Customer", "Invoice"), ["Customer"], ["Invoice"]),
        (("Item", "Estimate", "ReceivePayment"), None, ["Estimate", "ReceivePayment"]),
        ((), None, list(TXN_ENTITIES)),
    ],
)
def test_deletion_queries_ask_only_for_the_synced_entities(synced, lists, txns) -> None:
    queries = [
        sync_query(entity, request_id=entity, modified_from=SINCE, synced=synced)
        for entity in ("ListDeleted", "TxnDeleted")
    ]
    xml = build_message_set(queries, QbxmlVersion(13, 0))
    validate(schema_or_skip(), xml)
    asked = deletion_types("ListDeleted", synced)
    if lists is None:  # Item (or nothing named): every item type, and for () every list type
        assert "ItemService" in asked and "ItemInventory" in asked
        assert ("Customer" in asked) == (not synced)
    else:
        assert list(asked) == lists
    assert list(deletion_types("TxnDeleted", synced)) == txns
    assert xml.count("<ListDelType>") == len(asked) and xml.count("<TxnDelType>") == len(txns)


def test_a_plan_s_deletion_steps_cover_the_tenant_s_entities(tmp_path) -> None:
    from lambdas.store.ports import Tenant
    from lambdas.store.sqlite import (
        SqliteDatabase,
        SqliteMappingStore,
        SqliteRecordQueue,
        SqliteSyncStateStore,
    )
    from lambdas.sync.engine import SyncEngine

    db = SqliteDatabase.in_dir(tmp_path)
    engine = SyncEngine(SqliteSyncStateStore(db), SqliteMappingStore(db), SqliteRecordQueue(db))
    entities = ("Customer", "Invoice", "ListDeleted", "TxnDeleted")
    tenant = Tenant(name="t", qbwc_user="u", password_hash="x", enabled_entities=entities)
    steps = {s.entity: s for s in engine.plan(tenant).steps}
    assert steps["ListDeleted"].covers == ["Customer", "Invoice", "ListDeleted", "TxnDeleted"]
    assert steps["Customer"].covers == []
    xml = build_message_set([steps["ListDeleted"].query("1")], QbxmlVersion(13, 0))
    assert xml.count("<ListDelType>") == 1 and "<ListDelType>Customer</ListDelType>" in xml
