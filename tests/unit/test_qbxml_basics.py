"""qbXML library basics used by the customer slice: builders, parser, status classes, text rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from lxml import etree

from qbxml import (
    CustomerQuery,
    FieldTooLongError,
    QbxmlError,
    QbxmlVersion,
    StatusClass,
    build_message_set,
    classify,
    negotiate,
    parse_hcp,
    parse_response,
)
from qbxml.requests import sub_text
from qbxml.text import to_qb_text
from tests.conftest import shared_path

OWNER_ID = "{6B063959-81B0-4622-8C09-3A7E4DE9AB9C}"
FILE_ID = "{0C0A4F5E-1D2B-4A3C-9E8F-7A6B5C4D3E2F}"

CUSTOMER_RS = """<?xml version="1.0" ?>
<QBXML><QBXMLMsgsRs>
<CustomerQueryRs requestID="7" statusCode="0" statusSeverity="Info" statusMessage="Status OK"
  iteratorRemainingCount="12" iteratorID="{abc}" retCount="1">
<CustomerRet><ListID>80000001-1</ListID><TimeModified>2024-03-10T02:30:00-05:00</TimeModified>
<EditSequence>99</EditSequence><Name>A &amp; B &lt;Co&gt; Café</Name><IsActive>false</IsActive>
<BillAddress><Addr1>1 Main</Addr1><City>Austin</City></BillAddress><Balance>12.50</Balance>
<DataExtRet><OwnerID>0</OwnerID><DataExtName>Region</DataExtName><DataExtType>STR255TYPE</DataExtType>
<DataExtValue>West</DataExtValue></DataExtRet></CustomerRet>
</CustomerQueryRs></QBXMLMsgsRs></QBXML>"""


def test_parse_customer_response_streams_typed_records() -> None:
    (rs,) = parse_response(CUSTOMER_RS).responses
    assert (rs.request_type, rs.request_id, rs.status_code) == ("CustomerQuery", "7", 0)
    assert (rs.iterator_id, rs.iterator_remaining_count, rs.ret_count) == ("{abc}", 12, 1)
    (c,) = rs.records
    assert c.name == "A & B <Co> Café"
    assert c.is_active is False
    assert c.balance == Decimal("12.50")
    assert c.time_modified == datetime(2024, 3, 10, 2, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert c.bill_address.city == "Austin"
    assert c.custom_fields[0].name == "Region" and c.custom_fields[0].value == "West"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "<QBXML>",
        "<NotQB/>",
        "<QBXML><QBXMLMsgsRs><CustomerQueryRs/></QBXMLMsgsRs></QBXML>",
        '<!DOCTYPE x [<!ENTITY a "b">]><QBXML/>',
    ],
)
def test_malformed_qbxml_raises_the_library_error(bad: str) -> None:
    with pytest.raises(QbxmlError):
        parse_response(bad)


def test_status_classes() -> None:
    assert classify(0) is StatusClass.OK
    assert classify(1) is StatusClass.EMPTY
    assert classify(530) is StatusClass.WARNING
    assert classify(3175) is StatusClass.RETRYABLE
    assert classify(3391) is StatusClass.STALE_ITERATOR
    assert classify(3200) is StatusClass.STALE_EDIT_SEQUENCE
    assert classify(3100) is StatusClass.NAME_IN_USE
    assert classify(3140) is StatusClass.INVALID_REFERENCE
    assert classify(3250) is StatusClass.ERROR


def test_customer_query_is_ordered_and_declared() -> None:
    xml = build_message_set(
        [
            CustomerQuery(
                "r1",
                max_returned=50,
                iterator="Continue",
                iterator_id="{x}",
                from_modified=datetime(2024, 1, 1, tzinfo=UTC),
            )
        ],
        QbxmlVersion(13, 0),
    )
    assert xml.startswith('<?xml version="1.0" encoding="utf-8"?>\n<?qbxml version="13.0"?>\n')
    root = etree.fromstring(xml.split("\n", 2)[2])
    rq = root.find("QBXMLMsgsRq/CustomerQueryRq")
    assert root.find("QBXMLMsgsRq").get("onError") == "stopOnError"
    assert rq.get("iterator") == "Continue" and rq.get("iteratorID") == "{x}"
    assert [c.tag for c in rq] == ["MaxReturned", "ActiveStatus", "FromModifiedDate", "OwnerID"]


def test_builder_rejects_what_quickbooks_would() -> None:
    with pytest.raises(QbxmlError):
        CustomerQuery("r", iterator="Continue").to_element(QbxmlVersion(13, 0))
    with pytest.raises(FieldTooLongError, match="requestID"):
        CustomerQuery("x" * 51).to_element(QbxmlVersion(13, 0))
    parent = etree.Element("P")
    with pytest.raises(FieldTooLongError, match="Name is 42 characters"):
        sub_text(parent, "Name", "n" * 42, max_length=41)


def test_text_rule_keeps_latin1_and_transliterates_the_rest() -> None:
    assert to_qb_text("Café Ünïcode & <ok>") == "Café Ünïcode & <ok>"
    assert to_qb_text("Łódź") == "?ódz"  # Ł has no decomposition; ź decomposes to z
    assert to_qb_text("ﬁ") == "fi"
    assert to_qb_text("日本") == "??"
    assert to_qb_text("a\x00b\tc") == "ab\tc"


def test_version_negotiation_picks_highest_common() -> None:
    assert negotiate(["1.0", "CA3.0", "12.0", "13.0", "16.0"]) == QbxmlVersion(13, 0)
    assert negotiate(["2.0", "4.1"]) is None


def test_real_captured_responses_parse() -> None:
    samples = shared_path("QBXML_SAMPLES_DIR", "reference/samples")
    if samples is None:
        pytest.skip("QBXML_SAMPLES_DIR is not set and ../shared/reference/samples is absent")
    mixed = parse_response((samples / "hotglue/customer-batch-mixed.response.xml").read_bytes())
    codes = [r.status_code for r in mixed.responses]
    assert codes == [0, 3100, 3250, 3130, 0]
    assert mixed.responses[0].records[0].list_id


def test_hcp_response_yields_versions_and_file_id() -> None:
    from sim.fake_company import FakeCompany

    company = FakeCompany(customers=0, file_id=FILE_ID, owner_id=OWNER_ID)
    info = parse_hcp(company.hcp_response())
    assert "13.0" in info.supported_versions
    assert info.country == "US"
    assert info.data_extension(OWNER_ID.lower(), "FileID") == FILE_ID
