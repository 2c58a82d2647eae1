"""The HCP response: supported versions, company and its data extensions (our FileID)."""

from __future__ import annotations

import pytest

from qbxml import QbxmlError, QbxmlVersion, negotiate, parse_hcp
from tests.unit.qbxml_support import schema_or_skip, validate

OWNER_ID = "{512349B1-1111-2222-3333-000DE1813D20}"
FILE_ID = "{0000EEEE-1111-FFFF-CCCC-5FF123456047}"
VERSIONS = ["1.0", "1.1", "2.0", "2.1", "3.0", "4.0", "4.1", "5.0", "6.0", "7.0", "8.0", "9.0"]
VERSIONS += ["10.0", "11.0", "12.0", "13.0"]

# Shaped like a real QuickBooks Pro 2014 answer to HostQuery + CompanyQuery(OwnerID) +
# PreferencesQuery: two data extensions of the app's OwnerID on the company (a lock and the
# FileID), every DataExtRet with OwnerID, DataExtName, DataExtType and DataExtValue.
HCP = (
    '<?xml version="1.0" ?><QBXML><QBXMLMsgsRs>'
    '<HostQueryRs requestID="0" statusCode="0" statusSeverity="Info" statusMessage="Status OK">'
    "<HostRet><ProductName>QuickBooks Pro 2014</ProductName><MajorVersion>24</MajorVersion>"
    "<MinorVersion>0</MinorVersion><Country>US</Country>"
    + "".join(f"<SupportedQBXMLVersion>{v}</SupportedQBXMLVersion>" for v in VERSIONS)
    + "<IsAutomaticLogin>false</IsAutomaticLogin><QBFileMode>SingleUser</QBFileMode></HostRet>"
    "</HostQueryRs>"
    '<CompanyQueryRs requestID="1" statusCode="0" statusSeverity="Info" statusMessage="Status OK">'
    "<CompanyRet><IsSampleCompany>false</IsSampleCompany>"
    "<CompanyName>Smith &amp; Sons</CompanyName>"
    "<LegalCompanyName>Smith &amp; Sons LLC</LegalCompanyName>"
    "<Address><City>Anytown</City><State>CA</State><PostalCode>12345</PostalCode></Address>"
    "<AccountantCopy><AccountantCopyExists>false</AccountantCopyExists></AccountantCopy>"
    f"<DataExtRet><OwnerID>{OWNER_ID}</OwnerID><DataExtName>AppLock</DataExtName>"
    "<DataExtType>STR255TYPE</DataExtType><DataExtValue>LOCKED:PC1:6312345</DataExtValue>"
    f"</DataExtRet><DataExtRet><OwnerID>{OWNER_ID}</OwnerID><DataExtName>FileID</DataExtName>"
    f"<DataExtType>STR255TYPE</DataExtType><DataExtValue>{FILE_ID}</DataExtValue></DataExtRet>"
    "</CompanyRet></CompanyQueryRs>"
    '<PreferencesQueryRs requestID="2" statusCode="0" statusSeverity="Info" '
    'statusMessage="Status OK"><PreferencesRet><AccountingPreferences>'
    "<IsUsingAccountNumbers>false</IsUsingAccountNumbers><IsRequiringAccounts>true"
    "</IsRequiringAccounts><IsUsingClassTracking>false</IsUsingClassTracking>"
    "<IsUsingAuditTrail>true</IsUsingAuditTrail><IsAssigningJournalEntryNumbers>true"
    "</IsAssigningJournalEntryNumbers></AccountingPreferences></PreferencesRet>"
    "</PreferencesQueryRs></QBXMLMsgsRs></QBXML>"
)


def test_hcp_fixture_is_a_valid_qbxml_response() -> None:
    validate(schema_or_skip(), HCP)


def test_hcp_yields_host_versions_company_and_data_extensions() -> None:
    info = parse_hcp(HCP)
    assert info.product_name == "QuickBooks Pro 2014"
    assert (info.major_version, info.minor_version, info.country) == ("24", "0", "US")
    assert info.supported_versions == tuple(VERSIONS)
    assert negotiate(info.supported_versions) == QbxmlVersion(13, 0)
    assert info.file_mode == "SingleUser"
    assert info.company_name == "Smith & Sons"
    assert info.data_extensions == {
        (OWNER_ID, "AppLock"): "LOCKED:PC1:6312345",
        (OWNER_ID, "FileID"): FILE_ID,
    }
    assert info.data_extension(OWNER_ID.lower(), "FileID") == FILE_ID
    assert info.data_extension(OWNER_ID, "Missing") is None


def test_hcp_with_one_or_no_data_extension() -> None:
    one = HCP.replace(
        f"<DataExtRet><OwnerID>{OWNER_ID}</OwnerID><DataExtName>AppLock</DataExtName>"
        "<DataExtType>STR255TYPE</DataExtType><DataExtValue>LOCKED:PC1:6312345</DataExtValue>"
        "</DataExtRet>",
        "",
    )
    assert parse_hcp(one).data_extensions == {(OWNER_ID, "FileID"): FILE_ID}
    start, end = HCP.index("<DataExtRet>"), HCP.rindex("</DataExtRet>") + len("</DataExtRet>")
    assert parse_hcp(HCP[:start] + HCP[end:]).data_extensions == {}


def test_hcp_without_a_host_is_refused() -> None:
    start = HCP.index("<HostQueryRs")
    end = HCP.index("</HostQueryRs>") + len("</HostQueryRs>")
    with pytest.raises(QbxmlError, match="no HostRet"):
        parse_hcp(HCP[:start] + HCP[end:])
