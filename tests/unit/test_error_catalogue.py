"""The one error shape: catalogue, classifiers, the README section, getLastError and run history."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdas.local.wiring import LocalRelay
from lambdas.model.error_catalogue import BY_CODE, CATALOGUE
from lambdas.model.errors import (
    classify,
    classify_hresult,
    classify_qbo,
    classify_qbxml,
    classify_text,
    classify_zoho,
    error_info,
)
from lambdas.ops import errors_doc
from lambdas.store.ports import Tenant
from lambdas.zoho.errors import (
    ZohoConfigError,
    ZohoCreditsExhausted,
    ZohoRequestError,
    ZohoTokenThrottled,
    ZohoUnavailable,
)
from tests.conftest import PASSWORD

README = Path(__file__).resolve().parents[2] / "README.md"

REQUIRED = {
    "QBWC1012",
    "QBWC1039",
    "QBWC1085",
    "HRESULT_0x80040400",
    "HRESULT_0x80040408",
    "HRESULT_0x80040410",
    "HRESULT_0x80040420",
    "QB_MODAL_DIALOG",
    "QB_WRONG_COMPANY_FILE",
    "QBXML_3100",
    "QBXML_3120",
    "QBXML_3140",
    "QBXML_3170",
    "QBXML_3200",
    "QBXML_3250",
    "QBXML_3391",
    "ZOHO_INVALID_TOKEN",
    "ZOHO_OAUTH_SCOPE_MISMATCH",
    "ZOHO_CREDITS_EXHAUSTED",
    "ZOHO_MANDATORY_NOT_FOUND",
    "ZOHO_INVALID_DATA",
    "QBO_INVALID_GRANT",
    "QBO_THROTTLED",
}


def test_the_catalogue_covers_the_required_errors_once_each() -> None:
    codes = [k.code for k in CATALOGUE]
    assert len(codes) == len(set(codes))
    assert set(codes) >= REQUIRED
    anchors = [k.anchor for k in CATALOGUE]
    assert len(anchors) == len(set(anchors))
    for kind in CATALOGUE:
        assert kind.title and kind.meaning and kind.user_message, kind.code
        assert kind.docs == f"README.md#{kind.anchor}"


def test_the_readme_section_is_the_generated_catalogue() -> None:
    text = README.read_text(encoding="utf-8")
    assert errors_doc.current(text) == errors_doc.section(), (
        "README.md's error catalogue is stale: python -m lambdas.ops.errors_doc --write README.md"
    )
    assert errors_doc.main(["--check", str(README)]) == 0
    for kind in CATALOGUE:
        assert f'<a id="{kind.anchor}"></a>' in text
        assert f"](#{kind.anchor})" in text


def test_the_check_fails_on_a_stale_section(tmp_path) -> None:
    stale = tmp_path / "README.md"
    stale.write_text(
        f"# x\n\n{errors_doc.BEGIN}\nold text\n{errors_doc.END}\nafter\n", encoding="utf-8"
    )
    assert errors_doc.main(["--check", str(stale)]) == 1
    assert errors_doc.main(["--write", str(stale)]) == 0
    assert errors_doc.main(["--check", str(stale)]) == 0
    text = stale.read_text(encoding="utf-8")
    assert text.startswith("# x\n") and text.endswith("after\n") and "old text" not in text
    with pytest.raises(ValueError):
        errors_doc.replaced("no markers here")


@pytest.mark.parametrize(
    ("hresult", "message", "code", "retryable"),
    [
        ("0x80040400", "QuickBooks found an error when parsing", "HRESULT_0x80040400", False),
        ("0x80040408", "Could not start QuickBooks.", "HRESULT_0x80040408", True),
        ("0X80040410", "open in a mode other than", "HRESULT_0x80040410", True),
        ("0x80040420", "The QuickBooks user has denied access.", "HRESULT_0x80040420", False),
        ("0x80040414", "", "QB_MODAL_DIALOG", True),
        (
            "",
            "A modal dialog box is showing in the QuickBooks user interface.",
            "QB_MODAL_DIALOG",
            True,
        ),
        ("0x8004040A", "", "QB_WRONG_COMPANY_FILE", False),
        (
            "",
            "already open and it is different from the one requested",
            "QB_WRONG_COMPANY_FILE",
            False,
        ),
        ("0x80040401", "Could not access QuickBooks.", "QB_CONNECTION", True),
        ("", "", "QB_CONNECTION", True),
    ],
)
def test_hresults(hresult: str, message: str, code: str, retryable: bool) -> None:
    info = classify_hresult(hresult, message)
    assert (info.code, info.retryable) == (code, retryable)
    assert info.user_message == BY_CODE[code].user_message
    if hresult:
        assert classify(hresult=hresult, message=message).code == code


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (3100, "QBXML_3100"),
        (3120, "QBXML_3120"),
        (3140, "QBXML_3140"),
        (3170, "QBXML_3170"),
        (3175, "QBXML_3170"),
        (3176, "QBXML_3170"),
        (3180, "QBXML_3170"),
        (3200, "QBXML_3200"),
        (3250, "QBXML_3250"),
        (3391, "QBXML_3391"),
        (3260, "QBXML_ERROR"),
    ],
)
def test_qbxml_status_codes(status: int, code: str) -> None:
    info = classify_qbxml(status, "a message")
    assert info.code == code and info.message == f"{status}: a message"
    assert classify(qbxml_status=status).code == code
    # The same code read back from the sync engine's and the relay's texts.
    assert classify_text(f"QuickBooks refused the Invoice query: {status}: x").code == code
    assert classify_text(f"QuickBooks answered {status}: x").code == code


def test_retryable_qbxml_codes_are_the_transient_ones() -> None:
    assert classify_qbxml(3176).retryable and classify_qbxml(3391).retryable
    assert not classify_qbxml(3250).retryable and not classify_qbxml(3140).retryable


def test_zoho_errors_from_exceptions_codes_and_stored_texts() -> None:
    assert classify_zoho(ZohoRequestError("OAUTH_SCOPE_MISMATCH", "scope")).code == (
        "ZOHO_OAUTH_SCOPE_MISMATCH"
    )
    assert classify_zoho(ZohoRequestError("NO_PERMISSION", "x")).code == "ZOHO_ERROR"
    assert classify_zoho(ZohoCreditsExhausted("429")).code == "ZOHO_CREDITS_EXHAUSTED"
    assert classify_zoho(ZohoCreditsExhausted("429")).retryable
    assert classify_zoho(ZohoUnavailable("timeout")).code == "ZOHO_UNAVAILABLE"
    assert classify_zoho(ZohoTokenThrottled("blocked", 1.0)).code == "ZOHO_UNAVAILABLE"
    fresh = ZohoConfigError("ZOHO rejected a freshly refreshed access token (INVALID_TOKEN); x")
    assert classify_zoho(fresh).code == "ZOHO_INVALID_TOKEN"
    assert classify_zoho(ZohoConfigError("the client secret is wrong")).code == "ZOHO_ERROR"
    assert classify_zoho(RuntimeError("MANDATORY_NOT_FOUND: x")).code == "ZOHO_MANDATORY_NOT_FOUND"
    assert classify_zoho("INVALID_DATA", "too long").message == "INVALID_DATA: too long"
    assert classify_zoho("TOO_MANY_REQUESTS").code == "ZOHO_CREDITS_EXHAUSTED"
    assert classify(zoho="MANDATORY_NOT_FOUND").code == "ZOHO_MANDATORY_NOT_FOUND"
    # A parked record's stored reason (lambdas/zoho/upserts.py writes "<module>: <reason>").
    stored = "Accounts: MANDATORY_NOT_FOUND: required field not found (Account_Name)"
    assert classify_text(stored).code == "ZOHO_MANDATORY_NOT_FOUND"
    assert classify_text(stored).message == stored
    late = "Contacts: INVALID_DATA: the lookup is wrong, still after 5 deliveries"
    assert classify_text(late).code == "ZOHO_INVALID_DATA"
    assert classify_text("ZOHO answered 429 TOO_MANY_REQUESTS (x)").code == (
        "ZOHO_CREDITS_EXHAUSTED"
    )


def test_quickbooks_online_faults() -> None:
    assert classify_qbo(400, oauth_error="invalid_grant").code == "QBO_INVALID_GRANT"
    throttled = classify_qbo(429, "3001", message="ThrottleExceeded")
    assert throttled.code == "QBO_THROTTLED" and throttled.retryable
    assert "HTTP 429" in throttled.message and "fault 3001" in throttled.message
    assert classify_qbo(200, "3001").code == "QBO_THROTTLED"  # an XML fault in a 200
    assert classify_qbo(400, "6240").code == "QBO_ERROR"
    assert classify(qbo_status=429).code == "QBO_THROTTLED"
    assert classify_text('{"error": "invalid_grant"}').code == "QBO_INVALID_GRANT"


def test_stored_texts_without_a_known_sign_are_relay_errors() -> None:
    assert classify_text(None) is None and classify_text("") is None
    info = classify_text("something odd happened")
    assert info.code == "RELAY_ERROR" and info.message == "something odd happened"
    assert classify(text="QBWC1039 on import").code == "QBWC1039"
    assert classify().code == "RELAY_ERROR"
    assert error_info("NO_SUCH_CODE", "m").code == "RELAY_ERROR"


def test_the_getlasterror_text_names_its_code_and_reads_back() -> None:
    info = classify_hresult("0x80040414", "A modal dialog box is showing")
    text = info.for_qbwc()
    assert text.startswith("0x80040414: A modal dialog box is showing [QB_MODAL_DIALOG] ")
    assert info.user_message in text and info.docs in text
    assert classify_text(text).code == "QB_MODAL_DIALOG"
    assert set(info.to_json()) == {"code", "message", "user_message", "retryable", "docs"}
    assert info.title == BY_CODE["QB_MODAL_DIALOG"].title


def test_connection_error_is_classified_in_getlasterror_and_run_history(
    local: LocalRelay, tenant: Tenant
) -> None:
    ticket, status = local.relay.authenticate(tenant.qbwc_user, PASSWORD)[:2]
    assert status == ""
    message = "A modal dialog box is showing in the QuickBooks user interface."
    assert local.relay.connection_error(ticket, "0x80040414", message) == "done"
    shown = local.relay.get_last_error(ticket)
    assert "0x80040414" in shown and message in shown and "[QB_MODAL_DIALOG]" in shown
    assert BY_CODE["QB_MODAL_DIALOG"].user_message in shown
    run = local.runs.recent(tenant.name)[0]
    assert run.error_code == "QB_MODAL_DIALOG" and run.status == "failed"
    assert classify_text(run.last_error).code == "QB_MODAL_DIALOG"


def test_an_hresult_in_receive_response_is_classified(local: LocalRelay, tenant: Tenant) -> None:
    from sim.fake_company import FakeCompany

    company = FakeCompany(customers=3)
    ticket = local.relay.authenticate(tenant.qbwc_user, PASSWORD)[0]
    assert local.relay.send_request_xml(ticket, company.hcp_response(), "", "US", 13, 0)
    parse = "QuickBooks found an error when parsing the provided XML text stream."
    assert local.relay.receive_response_xml(ticket, "", "0x80040400", parse) == -1
    assert "[HRESULT_0x80040400]" in local.relay.get_last_error(ticket)
    local.relay.close_connection(ticket)
    assert local.runs.recent(tenant.name)[0].error_code == "HRESULT_0x80040400"
