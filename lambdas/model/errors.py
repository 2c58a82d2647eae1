"""One error shape for every place an error surfaces, and the classifiers that produce it.

``ErrorInfo`` is what the status API, the CLI, run history, parked failures and the Web
Connector's ``getLastError`` show: a stable code, the technical message, what a person should
do, whether trying again may help by itself, and where the catalogue explains it. The codes
and texts are in :mod:`.error_catalogue`.

Classifiers take what each source gives: an HRESULT with its message (``connectionError`` and
``receiveResponseXML``), a qbXML ``statusCode``, a ZOHO error code or exception, a QuickBooks
Online HTTP status / fault code / OAuth error, or, for messages stored before codes existed
(a mapping's ``last_error``, a run's ``last_error``, a dead letter's reason), the text itself.
Pure: no I/O, no AWS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .error_catalogue import BY_CODE, CATALOGUE, ErrorKind

__all__ = [
    "CATALOGUE",
    "ErrorInfo",
    "ErrorKind",
    "classify",
    "classify_hresult",
    "classify_qbo",
    "classify_qbxml",
    "classify_text",
    "classify_zoho",
    "error_info",
]

# HRESULTs with their own entry; the rest are QB_CONNECTION.
_HRESULTS = {
    0x80040400: "HRESULT_0x80040400",
    0x80040408: "HRESULT_0x80040408",
    0x8004040A: "QB_WRONG_COMPANY_FILE",
    0x80040410: "HRESULT_0x80040410",
    0x80040414: "QB_MODAL_DIALOG",
    0x80040420: "HRESULT_0x80040420",
}
# qbXML status codes with their own entry (3170-3180 share one).
_QBXML = {
    3100: "QBXML_3100",
    3120: "QBXML_3120",
    3140: "QBXML_3140",
    3170: "QBXML_3170",
    3175: "QBXML_3170",
    3176: "QBXML_3170",
    3180: "QBXML_3170",
    3200: "QBXML_3200",
    3250: "QBXML_3250",
    3391: "QBXML_3391",
}
_ZOHO = {
    "INVALID_TOKEN": "ZOHO_INVALID_TOKEN",
    "OAUTH_SCOPE_MISMATCH": "ZOHO_OAUTH_SCOPE_MISMATCH",
    "MANDATORY_NOT_FOUND": "ZOHO_MANDATORY_NOT_FOUND",
    "INVALID_DATA": "ZOHO_INVALID_DATA",
}
# Intuit's throttling fault code (with HTTP 429).
QBO_THROTTLE_FAULT = "3001"

_HEX = re.compile(r"0x[0-9a-f]{8}", re.IGNORECASE)
_QBWC = re.compile(r"\bQBWC(\d{4})\b")
# A qbXML status code as the sync engine and the relay write it: "... query: 3120: message",
# "QuickBooks answered 3250: message", "Customer 530: message".
_STATUS = re.compile(r"(?:^|query: |answered |[A-Za-z] )(\d{1,5}): ")
_ZOHO_CODE = re.compile(r"\b([A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+)\b")
_CODE_TAG = re.compile(r"\[([A-Z][A-Za-z0-9_]+)\]")


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error as every surface shows it (JSON keys: ``to_json``)."""

    code: str
    message: str  # technical: what the source said
    user_message: str  # what to do about it
    retryable: bool  # trying again may succeed without anyone acting
    docs: str  # README.md#anchor of the catalogue entry

    @property
    def title(self) -> str:
        """The catalogue entry's one-line title."""
        return BY_CODE[self.code].title

    def to_json(self) -> dict[str, Any]:
        """The stable JSON shape: code, message, user_message, retryable, docs."""
        return {
            "code": self.code,
            "message": self.message,
            "user_message": self.user_message,
            "retryable": self.retryable,
            "docs": self.docs,
        }

    def for_qbwc(self) -> str:
        """The text ``getLastError`` returns: the Web Connector shows it as is.

        It names the code in brackets, so :func:`classify_text` reads the same code back from
        a stored message.
        """
        return f"{self.message} [{self.code}] {self.user_message} (See {self.docs}.)"

    def line(self) -> str:
        """One line for a terminal: ``CODE: message``."""
        return f"{self.code}: {self.message}"


def error_info(code: str, message: str) -> ErrorInfo:
    """The ErrorInfo of catalogue entry ``code`` (RELAY_ERROR if unknown) for ``message``."""
    kind = BY_CODE.get(code) or BY_CODE["RELAY_ERROR"]
    return ErrorInfo(kind.code, message, kind.user_message, kind.retryable, kind.docs)


def _hresult_value(hresult: str) -> int | None:
    match = _HEX.search(hresult or "")
    if match is None:
        return None
    return int(match.group(0), 16)


def classify_hresult(hresult: str, message: str = "") -> ErrorInfo:
    """An HRESULT the Web Connector reported (``connectionError``, ``receiveResponseXML``)."""
    value = _hresult_value(hresult) or _hresult_value(message)
    code = _HRESULTS.get(value or 0)
    if code is None:
        text = (message or "").lower()
        if "modal dialog" in text:
            code = "QB_MODAL_DIALOG"
        elif "different from the one requested" in text:
            code = "QB_WRONG_COMPANY_FILE"
        else:
            code = "QB_CONNECTION"
    technical = f"{hresult or 'no HRESULT'}: {message or 'no message'}"
    return error_info(code, technical)


def classify_qbxml(status_code: int, message: str = "") -> ErrorInfo:
    """A qbXML ``statusCode`` with its ``statusMessage``."""
    code = _QBXML.get(status_code, "QBXML_ERROR")
    return error_info(code, f"{status_code}: {message}" if message else str(status_code))


def classify_zoho(error: BaseException | str, message: str = "") -> ErrorInfo:
    """A ZOHO error: a ZOHO ``code`` string (with its message), or an exception.

    Exceptions of :mod:`lambdas.zoho.errors` know their own entry (``error_info()``); any other
    exception is read by its text.
    """
    if isinstance(error, BaseException):
        own = getattr(error, "error_info", None)
        if callable(own):
            info = own()
            if isinstance(info, ErrorInfo):
                return info
        text = str(error)
        return _zoho_from_text(text) or error_info("ZOHO_ERROR", text)
    technical = f"{error}: {message}" if message else error
    if error == "TOO_MANY_REQUESTS":
        return error_info("ZOHO_CREDITS_EXHAUSTED", technical)
    return error_info(_ZOHO.get(error, "ZOHO_ERROR"), technical)


def _zoho_from_text(text: str) -> ErrorInfo | None:
    if "429 TOO_MANY_REQUESTS" in text or "API credits" in text:
        return error_info("ZOHO_CREDITS_EXHAUSTED", text)
    for match in _ZOHO_CODE.finditer(text):
        code = _ZOHO.get(match.group(1))
        if code is not None:
            return error_info(code, text)
    return None


def classify_qbo(
    http_status: int | None = None,
    fault_code: str | None = None,
    oauth_error: str | None = None,
    message: str = "",
) -> ErrorInfo:
    """A QuickBooks Online failure: the HTTP status, the Fault's code, an OAuth ``error``."""
    parts = [p for p in (oauth_error, fault_code and f"fault {fault_code}", message) if p]
    if http_status is not None:
        parts.insert(0, f"HTTP {http_status}")
    technical = "; ".join(parts) or "no detail"
    if oauth_error == "invalid_grant":
        return error_info("QBO_INVALID_GRANT", technical)
    # Intuit has sent throttle faults as XML even when JSON was asked for: the status decides.
    if http_status == 429 or fault_code == QBO_THROTTLE_FAULT:
        return error_info("QBO_THROTTLED", technical)
    return error_info("QBO_ERROR", technical)


def classify_text(text: str | None) -> ErrorInfo | None:
    """The ErrorInfo a stored message stands for; None for no message.

    Reads, in order: a ``[CODE]`` tag (as :meth:`ErrorInfo.for_qbwc` writes it), a QBWC code,
    a QuickBooks Online sign, an HRESULT, ZOHO's codes, a qbXML status code, the relay's own
    company-file refusal. Anything else is RELAY_ERROR with the text as its message.
    """
    if not text:
        return None
    tag = _CODE_TAG.search(text)
    if tag is not None and tag.group(1) in BY_CODE:
        return error_info(tag.group(1), text)
    qbwc = _QBWC.search(text)
    if qbwc is not None and f"QBWC{qbwc.group(1)}" in BY_CODE:
        return error_info(f"QBWC{qbwc.group(1)}", text)
    if "invalid_grant" in text:
        return error_info("QBO_INVALID_GRANT", text)
    if "ThrottleExceeded" in text:
        return error_info("QBO_THROTTLED", text)
    if _hresult_value(text) is not None or "modal dialog" in text.lower():
        return error_info(classify_hresult(text, text).code, text)
    zoho = _zoho_from_text(text)
    if zoho is not None:
        return zoho
    status = _STATUS.search(text)
    if status is not None and int(status.group(1)) >= 1000:
        return error_info(classify_qbxml(int(status.group(1))).code, text)
    if "belongs to another .qwc" in text:
        return error_info("QB_WRONG_COMPANY_FILE", text)
    return error_info("RELAY_ERROR", text)


def classify(
    *,
    hresult: str | None = None,
    message: str = "",
    qbxml_status: int | None = None,
    zoho: BaseException | str | None = None,
    qbo_status: int | None = None,
    qbo_fault: str | None = None,
    oauth_error: str | None = None,
    text: str | None = None,
) -> ErrorInfo:
    """Classify an error from whichever facts the caller has (the first given wins).

    ``hresult`` (with ``message``), ``qbxml_status`` (with ``message``), ``zoho`` (an
    exception or a code, with ``message``), QuickBooks Online facts, or a stored ``text``.
    """
    if hresult:
        return classify_hresult(hresult, message)
    if qbxml_status is not None:
        return classify_qbxml(qbxml_status, message)
    if zoho is not None:
        return classify_zoho(zoho, message)
    if qbo_status is not None or qbo_fault is not None or oauth_error is not None:
        return classify_qbo(qbo_status, qbo_fault, oauth_error, message)
    return classify_text(text or message) or error_info("RELAY_ERROR", "no message")
