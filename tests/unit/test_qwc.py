"""The .qwc library: element order and content, and every rule QBWC enforces."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from lxml import etree

from qwc import (
    ELEMENT_ORDER,
    MAX_RUN_MINUTES,
    QwcError,
    QwcSpec,
    bare_guid,
    braced_guid,
    build_qwc,
    is_braced_guid,
    new_guid,
    sibling_url,
)
from tests.conftest import shared_path

OWNER = "{57F3B9B1-86F1-4FCC-B1EE-566DE1813D20}"
FILE = "{90A44FB5-33D9-4815-AC85-BC87A7E7D1EB}"
SPEC = QwcSpec(
    app_name="qbxml-relay acme",
    app_url="https://qb.example.com/prod/qbwc",
    app_support="https://qb.example.com/prod/support/90A44FB5-33D9-4815-AC85-BC87A7E7D1EB",
    user_name="acme-qbwc",
    owner_id=OWNER,
    file_id=FILE,
)


def known(user: str) -> bool:
    return user == "acme-qbwc"


def parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False))


def test_document_carries_every_element_in_order() -> None:
    data = build_qwc(SPEC, known)
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<QBWCXML>')
    root = parse(data)
    assert root.tag == "QBWCXML"
    assert [child.tag for child in root] == list(ELEMENT_ORDER)
    text = {child.tag: child.text for child in root}
    assert text["AppName"] == "qbxml-relay acme"
    assert text["AppID"] is None and b"<AppID></AppID>" in data
    assert text["AppURL"] == SPEC.app_url and text["AppSupport"] == SPEC.app_support
    assert text["UserName"] == "acme-qbwc"
    assert text["OwnerID"] == OWNER and text["FileID"] == FILE
    assert text["QBType"] == "QBFS"
    assert root.findtext("Scheduler/RunEveryNMinutes") == "15"
    assert [c.tag for c in root.find("Scheduler")] == ["RunEveryNMinutes"]
    assert text["IsReadOnly"] == "false"
    assert text["AuthFlags"] == "0xF"
    assert text["PersonalDataPref"] == "pdpNotNeeded"
    assert text["UnattendedModePref"] == "umpOptional"


def test_options_change_their_elements() -> None:
    root = parse(build_qwc(replace(SPEC, run_every_minutes=60, read_only=True), known))
    assert root.findtext("Scheduler/RunEveryNMinutes") == "60"
    assert root.findtext("IsReadOnly") == "true"
    unscheduled = parse(build_qwc(replace(SPEC, run_every_minutes=None), known))
    assert unscheduled.find("Scheduler") is None
    assert [c.tag for c in unscheduled] == [t for t in ELEMENT_ORDER if t != "Scheduler"]


def test_a_live_file_runs_every_n_seconds_instead_of_minutes() -> None:
    root = parse(build_qwc(replace(SPEC, run_every_seconds=60), known))
    assert [c.tag for c in root.find("Scheduler")] == ["RunEveryNSeconds"]
    assert root.findtext("Scheduler/RunEveryNSeconds") == "60"
    assert [child.tag for child in root] == list(ELEMENT_ORDER)
    with pytest.raises(QwcError, match="RunEveryNSeconds must be between 1 and"):
        build_qwc(replace(SPEC, run_every_seconds=0), known)


def test_text_is_escaped() -> None:
    root = parse(build_qwc(replace(SPEC, app_description='Sync <A & B> "now"'), known))
    assert root.findtext("AppDescription") == 'Sync <A & B> "now"'


def test_localhost_may_use_http() -> None:
    spec = replace(
        SPEC, app_url="http://localhost:8080/qbwc", app_support="http://localhost:8080/support"
    )
    assert parse(build_qwc(spec, known)).findtext("AppURL") == "http://localhost:8080/qbwc"


def _guide_order() -> list[str]:
    guide = shared_path("QBWC_PROGUIDE", "reference/qbwc/QBWC_proguide.txt")
    if guide is None:
        pytest.skip("the QBWC Programmer's Guide text is not available")
    text = guide.read_text(encoding="utf-8", errors="replace")
    listing = text[text.index("Listing 4-1 Sample QWC File") :]
    listing = listing[: listing.index("</QBWCXML>")]
    return [t for t in re.findall(r"<(\w+)>", listing) if t not in ("QBWCXML",)]


def test_order_follows_intuits_sample_file() -> None:
    # Listing 4-1 of the Programmer's Guide: the order Intuit recommends; ours extends it.
    guide = _guide_order()
    assert guide[:9] == list(ELEMENT_ORDER[:9])
    assert guide[9:] == ["Scheduler", "RunEveryNMinutes"]
    # Every element Table 4-1 marks as required is present.
    required = {"AppDescription", "AppID", "AppName", "AppSupport", "AppURL", "FileID"}
    required |= {"OwnerID", "QBType", "UserName"}
    assert required <= {c.tag for c in parse(build_qwc(SPEC, known))}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        # AppURL must be https unless the host is localhost.
        ({"app_url": "http://qb.example.com/qbwc"}, "must use https"),
        ({"app_url": "ftp://qb.example.com/qbwc"}, "absolute http"),
        ({"app_url": "qb.example.com/qbwc"}, "absolute http"),
        ({"app_url": "https://user:pw@qb.example.com/qbwc"}, "user name or password"),
        ({"app_url": "https://qb.example.com:99999/qbwc"}, "not a valid URL"),
        # No IP address as host, for AppURL or AppSupport.
        ({"app_url": "https://203.0.113.7/qbwc"}, "IP address"),
        ({"app_url": "http://127.0.0.1/qbwc"}, "IP address"),
        ({"app_url": "https://[2001:db8::1]/qbwc"}, "IP address"),
        ({"app_support": "https://203.0.113.7/support"}, "IP address"),
        # AppSupport on the same domain as AppURL.
        ({"app_support": "https://support.example.org/help"}, "same domain"),
        ({"app_support": "https://other.example.com/prod/support"}, "same domain"),
        # Limits from the guide.
        ({"run_every_minutes": 0}, "RunEveryNMinutes"),
        ({"run_every_minutes": MAX_RUN_MINUTES + 1}, "RunEveryNMinutes"),
        ({"app_description": "x" * 81}, "AppDescription is 81 characters"),
        ({"app_description": ""}, "AppDescription must not be empty"),
        ({"app_name": ""}, "AppName must not be empty"),
        ({"app_name": "a\x07b"}, "control character"),
        ({"user_name": " acme-qbwc"}, "spaces"),
        ({"owner_id": "57F3B9B1-86F1-4FCC-B1EE-566DE1813D20"}, "OwnerID"),
        ({"file_id": "{not-a-guid}"}, "FileID"),
        ({"auth_flags": 0x10}, "AuthFlags"),
        ({"personal_data": "pdpMaybe"}, "PersonalDataPref"),
        ({"unattended_mode": "umpNever"}, "UnattendedModePref"),
        # The user name must be a known tenant's.
        ({"user_name": "ghost"}, "no tenant has the Web Connector user 'ghost'"),
    ],
)
def test_each_rule_has_a_clear_error(change: dict, message: str) -> None:
    with pytest.raises(QwcError, match=re.escape(message)):
        build_qwc(replace(SPEC, **change), known)


def test_guids() -> None:
    guid = new_guid()
    assert is_braced_guid(guid) and guid == guid.upper() and guid != new_guid()
    assert is_braced_guid(OWNER.lower())
    assert not is_braced_guid(OWNER[1:-1]) and not is_braced_guid("{}")
    assert bare_guid("{" + OWNER[1:-1].lower() + "}") == OWNER[1:-1]
    assert braced_guid(OWNER[1:-1].lower()) == OWNER
    assert braced_guid("../etc/passwd") is None
    with pytest.raises(ValueError):
        bare_guid("nope")


@pytest.mark.parametrize(
    ("url", "path", "expected"),
    [
        ("https://h.example.com/prod/qbwc", "support", "https://h.example.com/prod/support"),
        ("https://h.example.com/prod/qbwc/", "support/X", "https://h.example.com/prod/support/X"),
        ("http://localhost:8080/qbwc?wsdl", "/support", "http://localhost:8080/support"),
        ("https://h.example.com", "support", "https://h.example.com/support"),
    ],
)
def test_sibling_url(url: str, path: str, expected: str) -> None:
    assert sibling_url(url, path) == expected
