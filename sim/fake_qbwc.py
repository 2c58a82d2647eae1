"""A simulated QuickBooks Web Connector: drives a relay over HTTP exactly as QBWC does.

Requests look like those of QBWC's .NET SOAP 1.1 client: ``Content-Type: text/xml;
charset=utf-8``, a quoted ``SOAPAction`` of ``http://developer.intuit.com/<op>``, ``xsi``/``xsd``
declared on the envelope and the operation element unprefixed in the default namespace.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import requests
from lxml import etree

from .fake_company import FakeCompany, QuickBooksError

TNS = "http://developer.intuit.com/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
_ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?>'
    f'<soap:Envelope xmlns:soap="{SOAP_ENV}" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:xsd="http://www.w3.org/2001/XMLSchema">'
    "<soap:Body>{body}</soap:Body></soap:Envelope>"
)


class SoapFaultError(RuntimeError):
    """The service answered with a SOAP Fault."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def envelope(operation: str, params: list[tuple[str, Any]]) -> bytes:
    """The SOAP request body for one operation, parameters in the WSDL's order."""
    parts = []
    for name, value in params:
        if value is None:
            continue  # .NET leaves out null strings
        text = escape(str(value))
        parts.append(f"<{name}>{text}</{name}>" if text else f"<{name} />")
    inner = "".join(parts)
    body = (
        f'<{operation} xmlns="{TNS}">{inner}</{operation}>'
        if inner
        else (f'<{operation} xmlns="{TNS}" />')
    )
    return _ENVELOPE.format(body=body).encode("utf-8")


@dataclass
class SessionResult:
    """What one simulated update did."""

    ticket: str = ""
    auth_status: str = ""
    client_version_reply: str = ""
    exchanges: int = 0
    percents: list[int] = field(default_factory=list)
    last_error: str | None = None
    close_message: str | None = None
    connection_error_reply: str | None = None
    abandoned: bool = False
    noops: int = 0
    calls: list[str] = field(default_factory=list)


class FakeWebConnector:
    """Runs Web Connector updates against the relay at ``url`` (the /qbwc endpoint).

    ``owner_id`` is the OwnerID of the application's QWC file: QBWC asks the company for the
    data extensions under it (FileID among them) in the HCP response. Without one, the
    company's own ``owner_id`` is used. ``on_call``, if given, is called after every operation
    that got an HTTP answer (a fault included) with the operation's name and its round trip in
    seconds (request sent to answer parsed), for load measurements.
    """

    def __init__(
        self,
        url: str,
        version: str = "2.3.0.215",
        timeout: float = 60.0,
        owner_id: str | None = None,
        on_call: Callable[[str, float], None] | None = None,
    ) -> None:
        self.url = url
        self.version = version
        self.timeout = timeout
        self.owner_id = owner_id
        self.on_call = on_call
        self.http = requests.Session()

    def close(self) -> None:
        """Drop the kept-alive HTTP connection."""
        self.http.close()

    def call(self, operation: str, params: list[tuple[str, Any]] | None = None) -> Any:
        """POST one operation; return its result (a list for authenticate, an int for receive)."""
        started = time.perf_counter()
        response = self.http.post(
            self.url,
            data=envelope(operation, params or []),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": f'"{TNS}{operation}"',
            },
            timeout=self.timeout,
        )
        root = etree.fromstring(response.content)
        if self.on_call is not None:
            self.on_call(operation, time.perf_counter() - started)
        fault = root.find(f".//{{{SOAP_ENV}}}Fault")
        if fault is not None or response.status_code != 200:
            raise SoapFaultError(
                response.status_code,
                fault.findtext("faultcode") or "" if fault is not None else "",
                fault.findtext("faultstring") or "" if fault is not None else response.text[:200],
            )
        result = root.find(f".//{{{TNS}}}{operation}Result")
        if operation == "authenticate":
            return [s.text or "" for s in result] if result is not None else []
        text = result.text if result is not None else None
        if operation == "receiveResponseXML":
            return int(text or "0")
        return text or ""

    def run_session(
        self,
        user: str,
        password: str,
        company: FakeCompany,
        *,
        qbxml_major: int = 13,
        qbxml_minor: int = 0,
        abandon_after: int | None = None,
        lose_response_at: int | None = None,
        connection_failure: tuple[str, str] | None = None,
        max_exchanges: int = 100_000,
        max_noops: int = 3,
        noop_pause: float = 0.01,
        on_noop: Callable[[int], None] | None = None,
    ) -> SessionResult:
        """One update, as QBWC runs it, bounded by ``max_exchanges``.

        After a getLastError "NoOp" the Web Connector pauses ``noop_pause`` seconds (QBWC: 5)
        and asks again, up to ``max_noops`` times; ``on_noop(n)``, if given, is called with the
        count of NoOps so far before each pause (a test moves its clock or adds work there).

        ``abandon_after`` stops after that many exchanges without closing (QBWC killed);
        ``lose_response_at=N``: QuickBooks processes the Nth request (its writes are applied)
        and the Web Connector dies before posting the answer: receiveResponseXML is never
        called for it and the session is abandoned. ``connection_failure`` = (hresult,
        message) makes opening QuickBooks fail. However the update ends, the QuickBooks session
        ends with it, and so do its iterators.
        """
        try:
            return self._session(
                user,
                password,
                company,
                qbxml_major=qbxml_major,
                qbxml_minor=qbxml_minor,
                abandon_after=abandon_after,
                lose_response_at=lose_response_at,
                connection_failure=connection_failure,
                max_exchanges=max_exchanges,
                max_noops=max_noops,
                noop_pause=noop_pause,
                on_noop=on_noop,
            )
        finally:
            company.end_session()

    def _session(
        self,
        user: str,
        password: str,
        company: FakeCompany,
        *,
        qbxml_major: int,
        qbxml_minor: int,
        abandon_after: int | None,
        lose_response_at: int | None,
        connection_failure: tuple[str, str] | None,
        max_exchanges: int,
        max_noops: int,
        noop_pause: float,
        on_noop: Callable[[int], None] | None = None,
    ) -> SessionResult:
        result = SessionResult()

        def call(op: str, params: list[tuple[str, Any]] | None = None) -> Any:
            result.calls.append(op)
            return self.call(op, params)

        call("serverVersion")
        result.client_version_reply = call("clientVersion", [("strVersion", self.version)])
        if result.client_version_reply.startswith(("E:", "O:")):
            return result
        auth = call("authenticate", [("strUserName", user), ("strPassword", password)])
        result.ticket, result.auth_status = auth[0], auth[1]
        ticket = result.ticket
        if result.auth_status in ("nvu", "none", "busy"):
            if result.auth_status == "nvu":
                result.close_message = call("closeConnection", [("ticket", ticket)])
            return result
        company_file = result.auth_status
        if connection_failure is not None:
            hresult, message = connection_failure
            result.connection_error_reply = call(
                "connectionError", [("ticket", ticket), ("hresult", hresult), ("message", message)]
            )
            result.last_error = call("getLastError", [("ticket", ticket)])
            return result
        noops = 0
        first = True
        while result.exchanges < max_exchanges:
            request = call(
                "sendRequestXML",
                [
                    ("ticket", ticket),
                    # QBWC sends the HCP response with the first call of a session only.
                    ("strHCPResponse", company.hcp_response(self.owner_id) if first else ""),
                    ("strCompanyFileName", company_file or "C:\\Company\\sample.qbw"),
                    ("qbXMLCountry", "US"),
                    ("qbXMLMajorVers", qbxml_major),
                    ("qbXMLMinorVers", qbxml_minor),
                ],
            )
            first = False
            if request == "":
                message = call("getLastError", [("ticket", ticket)])
                if message == "NoOp" and noops < max_noops:
                    noops += 1
                    result.noops = noops
                    if on_noop is not None:
                        on_noop(noops)
                    time.sleep(noop_pause)
                    continue
                result.last_error = message
                break
            try:
                params = [
                    ("ticket", ticket),
                    ("response", company.process(request)),
                    ("hresult", ""),
                    ("message", ""),
                ]
            except QuickBooksError as exc:
                params = [
                    ("ticket", ticket),
                    ("response", ""),
                    ("hresult", exc.hresult),
                    ("message", exc.message),
                ]
            if lose_response_at is not None and result.exchanges + 1 >= lose_response_at:
                result.abandoned = True
                return result
            percent = call("receiveResponseXML", params)
            result.exchanges += 1
            result.percents.append(percent)
            if abandon_after is not None and result.exchanges >= abandon_after:
                result.abandoned = True
                return result
            if percent < 0:
                result.last_error = call("getLastError", [("ticket", ticket)])
                break
            if percent >= 100:
                break
        result.close_message = call("closeConnection", [("ticket", ticket)])
        return result
