"""Fuzzing (hypothesis) of the two places untrusted bytes come in: the SOAP endpoint and the
qbXML response parser.

Inputs are random bytes and text, and real documents mutated: the envelopes the simulated Web
Connector sends, and the qbXML responses of the captured samples and of the simulated company.
The only outcomes allowed are a valid SOAP reply, a SOAP Fault (for random input a Client one:
a Server fault means an exception the relay did not expect), or for the parser a ``QbxmlError``.
The short variants run in ``make test``; the ``slow`` ones (``make test-slow``) run far more.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from lambdas.local.wiring import LocalRelay, build_local
from lambdas.local.wsgi import RelayWsgiApp
from lambdas.qbwc.passwords import hash_password
from lambdas.qbwc.relay import RelaySettings
from lambdas.qbwc.soap_service import WSDL_CACHE_SIZE, SoapReply
from lambdas.store.ports import Tenant
from qbxml import QbxmlError, parse_response
from sim.fake_company import FakeCompany
from sim.fake_qbwc import envelope
from tests.conftest import FIXED_PAGES, PASSWORD, shared_path
from tests.unit.qbxml_support import soap_response_text

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SHORT = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
LONG = settings(
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Fragments that reach the interesting corners of an XML parser: DTDs and entities (refused),
# comments and CDATA (a DTD spelled inside them is no DTD), references, bad UTF-8 and controls.
TOKENS = (
    b"<!DOCTYPE x>",
    b'<!DOCTYPE x [<!ENTITY e "aaaa">]>',
    b'<!ENTITY e SYSTEM "file:///etc/passwd">',
    b"<!-- <!DOCTYPE x> -->",
    b"<![CDATA[<!DOCTYPE x>]]>",
    b"<!--",
    b"-->",
    b"]]>",
    b"&e;",
    b"&amp;",
    b"&lt;",
    b"&#0;",
    b"&#x1F600;",
    b"<?xml version='1.0' encoding='latin-1'?>",
    b"<?pi x?>",
    b"\xff\xfe",
    b"\xc3",
    b"\xed\xa0\x80",
    b"\x00",
    b"\x1b",
    b"<",
    b">",
    b"/>",
    b'"',
    b"xmlns:x='urn:x'",
    b"-1",
    b"99999999999999999999",
    b"</soap:Body>",
    b"<QBXMLMsgsRs>",
    b'<CustomerQueryRs statusCode="0">',
    b"statusCode='x'",
    b"</QBXML>",
)


# Field values that are nearly right: the parsers' edge cases.
VALUES = (
    "",
    " ",
    "0",
    "-0",
    "1e400",
    "NaN",
    "-1.5",
    "1,5",
    "99999999999999999999999",
    "true",
    "TRUE",
    "2024-02-30",
    "2024-03-10T02:30:00-05:00",
    "9999-12-31T23:59:59+14:00",
    "80000001-1234567890",
    "x" * 5000,
    "\u00e9\u4e2d\U0001f600",
)


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """One of ``seeds`` with up to five mutations.

    Byte-level ones mostly break the document (the error paths); ``value`` replaces the text of
    one element with other well-formed text, so the document stays XML and the field parsers
    and the relay's own checks get odd values (the paths past the XML parser).
    """
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(data)))
        op = draw(
            st.sampled_from(
                ("value", "value", "delete", "insert", "token", "flip", "duplicate", "cut")
            )
        )
        if op == "value":
            start = data.find(b">", at)
            end = data.find(b"<", start + 1)
            if start >= 0 and end > start:
                text = draw(st.one_of(st.sampled_from(VALUES), st.text(max_size=24)))
                data[start + 1 : end] = escape(text).encode("utf-8")
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "duplicate":
            data[at:at] = data[at : at + draw(st.integers(1, 256))]
        elif op == "cut":
            del data[at:]
    return bytes(data)


# --- the SOAP endpoint ------------------------------------------------------------------------


def _envelopes(user: str) -> list[bytes]:
    """Real requests of each operation, as the simulated Web Connector sends them."""
    return [
        envelope("serverVersion", []),
        envelope("clientVersion", [("strVersion", "2.3.0.215")]),
        envelope("authenticate", [("strUserName", user), ("strPassword", PASSWORD)]),
        envelope("authenticate", [("strUserName", user), ("strPassword", "wrong")]),
        envelope(
            "sendRequestXML",
            [
                ("ticket", "t-1"),
                ("strHCPResponse", ""),
                ("strCompanyFileName", r"C:\Books\acme.qbw"),
                ("qbXMLCountry", "US"),
                ("qbXMLMajorVers", 13),
                ("qbXMLMinorVers", 0),
            ],
        ),
        envelope(
            "receiveResponseXML",
            [("ticket", "t-1"), ("response", _SIM_RESPONSES[0]), ("hresult", ""), ("message", "")],
        ),
        envelope(
            "connectionError", [("ticket", "t-1"), ("hresult", "0x80040400"), ("message", "x")]
        ),
        envelope("getLastError", [("ticket", "t-1")]),
        envelope("closeConnection", [("ticket", "t-1")]),
    ]


def _check_reply(reply: SoapReply) -> str:
    """'ok', 'Client' or 'Server'; fails unless the reply is a SOAP envelope as QBWC expects."""
    assert reply.content_type.startswith("text/xml")
    root = etree.fromstring(reply.body, etree.XMLParser(resolve_entities=False, no_network=True))
    assert root.tag == f"{{{ENV}}}Envelope"
    body = root.find(f"{{{ENV}}}Body")
    assert body is not None and len(body) == 1
    fault = body.find(f"{{{ENV}}}Fault")
    if reply.status == 200:
        assert fault is None
        return "ok"
    assert reply.status == 500 and fault is not None
    code = fault.findtext("faultcode")
    text = fault.findtext("faultstring") or ""
    assert code in ("soap:Client", "soap:Server")
    assert text and len(text) < 400
    assert "Traceback" not in text and 'File "' not in text
    return code.removeprefix("soap:")


class _Errors(logging.Handler):
    """Collects ERROR records: an expected fault is not logged as an error."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Target:
    """A relay with one tenant, its endpoint and WSGI app, and the envelopes to mutate."""

    def __init__(self, local: LocalRelay, user: str) -> None:
        self.local = local
        self.app = RelayWsgiApp(local.endpoint)
        self.seeds = _envelopes(user)
        self.errors = _Errors()

    def handle(self, body: bytes) -> str:
        """Post ``body`` to the endpoint; the outcome, failing for a Server fault."""
        outcome = _check_reply(self.local.endpoint.handle(body, "203.0.113.9"))
        # Random bytes are the caller's mistake, never an internal error.
        assert outcome != "Server", body
        return outcome

    def wsgi(self, environ: dict[str, Any]) -> tuple[int, bytes]:
        """Run the WSGI app in-process: status and body."""
        seen: list[str] = []

        def start_response(status: str, headers: list[tuple[str, str]]) -> None:
            seen.append(status)

        body = b"".join(self.app(environ, start_response))
        return int(seen[0].split()[0]), body


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    # Module scope: hypothesis runs every example in one test call, and building a relay per
    # example would cost more than the fuzzing itself.
    local = build_local(tmp_path_factory.mktemp("fuzz") / "data", RelaySettings(), FIXED_PAGES)
    local.tenants.create(
        Tenant(name="acme", qbwc_user="acme-qbwc", password_hash=hash_password(PASSWORD))
    )
    t = Target(local, "acme-qbwc")
    log = logging.getLogger("lambdas")
    log.addHandler(t.errors)
    yield t
    log.removeHandler(t.errors)


def _soap_environ(body: bytes, length: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/qbwc",
        "CONTENT_LENGTH": str(len(body)) if length is None else length,
        "wsgi.input": io.BytesIO(body),
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": "203.0.113.9",
        **extra,
    }


def _fuzz_endpoint(target: Target, body: bytes) -> None:
    target.handle(body)
    # Whatever came before, the service keeps serving.
    assert target.handle(envelope("serverVersion", [])) == "ok"
    assert not target.errors.records, target.errors.records[0].getMessage()


def _soap_bodies(target_seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        mutated(target_seeds),
        st.binary(max_size=512),
        st.text(max_size=256).map(lambda s: s.encode("utf-8")),
    )


# The seeds need the tenant's user name only, which is fixed: build them once for the strategies.
_SEEDS: list[bytes] = []


def _seeds() -> list[bytes]:
    if not _SEEDS:
        _SEEDS.extend(_envelopes("acme-qbwc"))
        # Real receiveResponseXML envelopes, as integrators captured them from QBWC.
        _SEEDS.extend(s for s in _RAW_SAMPLES if b"receiveResponseXML" in s)
    return _SEEDS


@SHORT
@given(body=st.deferred(lambda: _soap_bodies(_seeds())))
def test_fuzzed_envelopes_get_a_reply_or_a_client_fault(target: Target, body: bytes) -> None:
    _fuzz_endpoint(target, body)


@pytest.mark.slow
@LONG
@given(body=st.deferred(lambda: _soap_bodies(_seeds())))
def test_fuzzed_envelopes_long(target: Target, body: bytes) -> None:
    _fuzz_endpoint(target, body)


def _fuzz_wsgi(target: Target, body: bytes, length: str | None, host: str) -> None:
    status, reply = target.wsgi(_soap_environ(body, length, HTTP_HOST=host))
    assert status in (200, 500)
    _check_reply(SoapReply(status, "text/xml", reply))
    status, wsdl = target.wsgi(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/qbwc", "QUERY_STRING": "wsdl", "HTTP_HOST": host}
    )
    assert status == 200 and etree.fromstring(wsdl) is not None
    # Every example brings its own Host header: the cache stays bounded all the same.
    assert len(target.local.endpoint._wsdl_cache) <= WSDL_CACHE_SIZE


_HOSTS = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="<>&\"'"),
    min_size=1,
    max_size=40,
)
_LENGTHS = st.one_of(st.none(), st.text(max_size=8), st.integers(-5, 10**9).map(str))


@SHORT
@given(
    body=st.deferred(lambda: _soap_bodies(_seeds())),
    length=_LENGTHS,
    host=_HOSTS,
)
def test_fuzzed_wsgi_posts_get_soap_replies(
    target: Target, body: bytes, length: str | None, host: str
) -> None:
    _fuzz_wsgi(target, body, length, host)


@pytest.mark.slow
@LONG
@given(
    body=st.deferred(lambda: _soap_bodies(_seeds())),
    length=_LENGTHS,
    host=_HOSTS,
)
def test_fuzzed_wsgi_posts_long(target: Target, body: bytes, length: str | None, host: str) -> None:
    _fuzz_wsgi(target, body, length, host)


# --- the qbXML response parser ----------------------------------------------------------------


def _samples() -> tuple[list[bytes], list[bytes]]:
    """The captured responses of the shared reference samples (none if they are absent): the
    files as they are (some are receiveResponseXML envelopes, some are broken), and the qbXML
    that parses (files, and the text inside the envelopes)."""
    root = shared_path("QBXML_SAMPLES_DIR", "reference/samples")
    if root is None:
        return [], []
    files = [
        p for p in sorted(Path(root).rglob("*.xml")) if "_rs" in p.name or ".response." in p.name
    ]
    raw, good = [], []
    for path in files:
        data = path.read_bytes()
        raw.append(data)
        candidates: list[bytes] = [data]
        if b"receiveResponseXML" in data:
            # A broken capture is kept raw only.
            with contextlib.suppress(etree.XMLSyntaxError):
                candidates.append(soap_response_text(path).encode("utf-8"))
        for candidate in candidates:
            try:
                parse_response(candidate)
            except QbxmlError:
                continue
            good.append(candidate)
    return raw, good


def _sim_responses() -> list[str]:
    """Responses of the simulated company to a few queries, line items included."""
    company = FakeCompany(customers=4, vendors=2, items=4, invoices=3, payments=2, seed=3)
    queries = (
        '<CustomerQueryRq requestID="1"/>',
        '<InvoiceQueryRq requestID="2"><IncludeLineItems>true</IncludeLineItems></InvoiceQueryRq>',
        '<ItemQueryRq requestID="3"/>',
        '<ReceivePaymentQueryRq requestID="4"/>',
        '<VendorQueryRq requestID="5"/>',
    )
    return [
        company.process(
            '<?xml version="1.0"?><?qbxml version="13.0"?><QBXML>'
            f'<QBXMLMsgsRq onError="continueOnError">{q}</QBXMLMsgsRq></QBXML>'
        )
        for q in queries
    ]


_SIM_RESPONSES = _sim_responses()
_RAW_SAMPLES, _GOOD_SAMPLES = _samples()
# Mostly documents that parse, so that mutations start from the real thing; the raw files too
# (envelopes, a stray XML declaration, a broken namespace: what integrators really captured).
QBXML_SEEDS: list[bytes] = (
    _GOOD_SAMPLES + [r.encode("utf-8") for r in _SIM_RESPONSES] + _RAW_SAMPLES
)


def test_the_seeds_are_real_responses() -> None:
    """The simulator's responses and (when present) the captured ones parse unmutated."""
    for seed in [r.encode("utf-8") for r in _SIM_RESPONSES] + _GOOD_SAMPLES:
        assert parse_response(seed).responses
    if _RAW_SAMPLES:
        assert len(_GOOD_SAMPLES) >= 5


def _parse(data: bytes | str) -> str:
    """'ok' or 'error'; anything but a ResponseSet or a QbxmlError fails the test."""
    try:
        parse_response(data)
    except QbxmlError as exc:
        assert str(exc)
        return "error"
    return "ok"


_QBXML_INPUTS = st.one_of(
    mutated(QBXML_SEEDS),
    # str input too: the relay hands the parser the text it took out of the envelope.
    mutated(QBXML_SEEDS).map(lambda b: b.decode("utf-8", "replace")),
    st.binary(max_size=512),
    st.text(max_size=256),
)


@SHORT
@given(data=_QBXML_INPUTS)
def test_fuzzed_qbxml_parses_or_raises_qbxml_error(data: bytes | str) -> None:
    _parse(data)


@pytest.mark.slow
@LONG
@given(data=_QBXML_INPUTS)
def test_fuzzed_qbxml_long(data: bytes | str) -> None:
    _parse(data)
