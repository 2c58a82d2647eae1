"""Change probes' queries: valid qbXML 13.0 that asks only for ids, versions and times."""

from __future__ import annotations

from datetime import datetime

import pytest

from qbxml import QbxmlError, QbxmlVersion, build_message_set, sync_query
from qbxml.sync import LIST_ENTITIES, PROBE_LIST_ELEMENTS, PROBE_TXN_ELEMENTS, TXN_ENTITIES
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
