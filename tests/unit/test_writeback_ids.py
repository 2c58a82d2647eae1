"""Operation ids fit where QuickBooks puts them: qbXML's requestID (50 characters, else status
1060) and, as the basis of Online's requestid, 36 characters."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from lambdas.writeback.desktop_requests import query_id
from lambdas.writeback.model import MAX_OP_ID, content_op_id, op_id
from lambdas.writeback.online_steps import request_id

QBXML_REQUEST_ID = 50
ONLINE_BATCH_REQUEST_ID = 36

ids = st.text(min_size=1, max_size=300)


@given(module=st.sampled_from(["Accounts", "Deals"]), zoho_id=ids, version=ids)
def test_every_id_fits_both_editions(module: str, zoho_id: str, version: str) -> None:
    fields = {"name": version, "phone": zoho_id}
    for oid in (op_id(module, zoho_id, version), content_op_id(module, zoho_id, version, fields)):
        assert len(oid) <= MAX_OP_ID <= QBXML_REQUEST_ID
        assert len(query_id(oid)) <= QBXML_REQUEST_ID
        assert len(request_id("9130356217700001", oid, 7, "5010")) <= ONLINE_BATCH_REQUEST_ID
    assert op_id(module, zoho_id, version) != op_id(module, zoho_id, version + "x")


def test_the_same_version_with_other_content_is_another_operation() -> None:
    one = content_op_id("Accounts", "1", "2026-12-01T10:00:00+00:00", {"phone": "1"})
    two = content_op_id("Accounts", "1", "2026-12-01T10:00:00+00:00", {"phone": "2"})
    assert one != two
    assert one == content_op_id("Accounts", "1", "2026-12-01T10:00:00+00:00", {"phone": "1"})
