"""The SOAP binding: Intuit's WSDL contract, and a Fault (never a crash) for every bad input."""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from lxml import etree

from lambdas.metrics import SOAP_CALLS, SOAP_CLIENT_FAULTS, SOAP_FAULTS, SOAP_SERVER_FAULTS
from lambdas.qbwc.soap_service import WSDL_CACHE_SIZE, SoapEndpoint
from sim.fake_qbwc import envelope
from tests.conftest import shared_path

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _contract(wsdl: bytes) -> dict:
    """Operations -> (input params with types, output element with type), plus soapActions."""
    root = etree.fromstring(wsdl)
    schema = root.find(f"{{{WSDL}}}types/{{{XS}}}schema")
    types = {ct.get("name"): ct for ct in schema.findall(f"{{{XS}}}complexType")}

    def fields(name: str) -> list[tuple[str, str]]:
        el = schema.find(f"{{{XS}}}element[@name='{name}']")
        ct = el.find(f"{{{XS}}}complexType")
        if ct is None:
            ct = types[el.get("type").split(":")[1]]
        out = []
        for child in ct.iter(f"{{{XS}}}element"):
            type_ = child.get("type").split(":")[1]
            out.append((child.get("name"), type_))
        return out

    ops = {}
    for op in root.find(f"{{{WSDL}}}portType").findall(f"{{{WSDL}}}operation"):
        name = op.get("name")
        ops[name] = (fields(name), fields(name + "Response"))
    actions = {
        op.getparent().get("name"): op.get("soapAction") for op in root.iter(f"{{{SOAP}}}operation")
    }
    array = [
        (e.get("name"), e.get("type").split(":")[1])
        for e in types["ArrayOfString"].iter(f"{{{XS}}}element")
    ]
    return {"ops": ops, "actions": actions, "array": array}


def test_wsdl_matches_intuits(local) -> None:
    intuit_path = shared_path("QBWC_WSDL", "reference/qbwc/QBWebConnectorSvc.wsdl")
    if intuit_path is None:
        pytest.skip("QBWC_WSDL is not set and ../shared/reference/qbwc is absent")
    ours = _contract(local.endpoint.wsdl("https://relay.example.com/prod/qbwc"))
    intuit = _contract(intuit_path.read_bytes())
    assert ours["ops"] == intuit["ops"]
    assert ours["actions"] == intuit["actions"]
    assert ours["array"] == intuit["array"] == [("string", "string")]


def test_wsdl_carries_the_public_url(local) -> None:
    root = etree.fromstring(local.endpoint.wsdl("https://qb.example.com/prod/qbwc"))
    (address,) = root.iter(f"{{{SOAP}}}address")
    assert address.get("location") == "https://qb.example.com/prod/qbwc"


def _fault(reply) -> str:
    assert reply.status == 500
    assert reply.content_type.startswith("text/xml")
    root = etree.fromstring(reply.body)
    fault = root.find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault is not None
    text = fault.findtext("faultstring")
    assert "Traceback" not in text and 'File "' not in text
    return text


BAD_INPUTS = {
    "invalid xml": b"<soap:Envelope",
    "empty body": b"",
    "whitespace body": b"   \n",
    "doctype": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b"<x>&e;</x>",
    "unknown operation": envelope("dropTables", [("ticket", "t")]),
    "missing parameter": envelope("authenticate", [("strUserName", "u")]),
    "missing required int": envelope("sendRequestXML", [("ticket", "t"), ("qbXMLMinorVers", 0)]),
    "wrong type": envelope(
        "sendRequestXML", [("ticket", "t"), ("qbXMLMajorVers", "thirteen"), ("qbXMLMinorVers", 0)]
    ),
    "not soap": b"<hello/>",
    # A comment or a processing instruction before the DOCTYPE hides it from a prolog scan;
    # the check looks at the parsed document instead.
    "comment before doctype": b'<?xml version="1.0"?><!-- <soap:Envelope> --><!DOCTYPE x '
    b'[<!ENTITY e "e">]>' + envelope("clientVersion", [("strVersion", "1")])[38:],
    "pi before doctype": b"<?x <a>?><!DOCTYPE soap:Envelope>" + envelope("serverVersion", [])[38:],
    "external dtd": b'<!DOCTYPE x SYSTEM "http://127.0.0.1:1/x.dtd">'
    + envelope("serverVersion", [])[38:],
    "invalid utf-8": envelope("clientVersion", [("strVersion", "ab")]).replace(b"ab", b"a\xff"),
    "utf-16": envelope("serverVersion", []).decode().encode("utf-16"),
    "unknown encoding": envelope("serverVersion", []).replace(b"utf-8", b"x-nope", 1),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gets_a_fault_and_service_keeps_serving(local, name: str) -> None:
    reply = local.endpoint.handle(BAD_INPUTS[name])
    message = _fault(reply)
    assert reply.fault_code == "Client" and b"<faultcode>soap:Client<" in reply.body
    assert message and len(message) < 300
    ok = local.endpoint.handle(envelope("serverVersion", []))
    assert ok.status == 200


def test_dtd_check_reads_the_document_not_the_text(local) -> None:
    """A DOCTYPE spelled in a comment or a CDATA section is no DTD: the request is answered."""
    body = envelope("clientVersion", [("strVersion", "1")]).replace(
        b"<strVersion>1</strVersion>",
        b"<!-- <!DOCTYPE x> --><strVersion><![CDATA[<!DOCTYPE x>]]></strVersion>",
    )
    assert local.endpoint.handle(body).status == 200


def _padded(nest: int, flat: int) -> bytes:
    """serverVersion with a SOAP Header (ignored by the service, so only the bounds decide)
    holding ``nest`` nested elements and ``flat`` empty ones: 4 + nest + flat elements in all,
    nested 2 + nest deep (Envelope, Header, the nested ones)."""
    head = b"<soap:Header>" + b"<n>" * nest + b"</n>" * nest + b"<a/>" * flat + b"</soap:Header>"
    return envelope("serverVersion", []).replace(b"<soap:Body>", head + b"<soap:Body>")


def test_element_count_and_depth_are_bounded_before_spyne(local) -> None:
    endpoint = SoapEndpoint(local.relay, max_elements=50, max_depth=8)
    assert endpoint.handle(_padded(nest=6, flat=40)).status == 200  # exactly at both bounds
    many = endpoint.handle(_padded(nest=0, flat=47))
    assert many.fault_code == "Client" and "more than 50 elements" in _fault(many)
    deep = endpoint.handle(_padded(nest=7, flat=0))
    assert deep.fault_code == "Client" and "deeper than 8 levels" in _fault(deep)


def test_a_doctype_after_a_comment_is_still_refused(local) -> None:
    body = (
        b"<!-- hi --><?pi x?>\n<!DOCTYPE a [<!ENTITY b 'c'>]>" + envelope("serverVersion", [])[38:]
    )
    reply = local.endpoint.handle(body)
    assert reply.fault_code == "Client" and "Document type" in _fault(reply)


def test_invalid_utf8_is_a_client_fault_with_no_traceback_logged(local, caplog) -> None:
    body = envelope("clientVersion", [("strVersion", "ab")]).replace(b"ab", b"a\xff\xfe")
    with caplog.at_level(logging.WARNING):
        reply = local.endpoint.handle(body)
    assert "not valid UTF-8" in _fault(reply)
    assert b"soap:Client" in reply.body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


class Counts:
    """Metrics that remember what was counted."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, name: str, value: int = 1, entity: str | None = None) -> None:
        self.counts[name] += value


def test_client_and_server_faults_are_counted_apart(local, monkeypatch) -> None:
    counts = Counts()
    endpoint = SoapEndpoint(local.relay, metrics=counts)
    endpoint.handle(envelope("serverVersion", []))
    for body in (b"", b"<x", envelope("dropTables", [])):
        endpoint.handle(body)
    endpoint.refuse("Content-Length is not a number.")

    def boom(*args):
        raise RuntimeError("internal")

    monkeypatch.setattr(local.relay, "server_version", boom)
    endpoint.handle(envelope("serverVersion", []))
    assert counts.counts == {
        SOAP_CALLS: 6,
        SOAP_FAULTS: 5,
        SOAP_CLIENT_FAULTS: 4,
        SOAP_SERVER_FAULTS: 1,
    }


def test_wsdl_cache_is_bounded(local) -> None:
    """The address can come from the Host header: forged ones must not grow the cache."""
    endpoint = local.endpoint
    real = "https://qb.example.com/qbwc"
    endpoint.wsdl(real)
    for n in range(WSDL_CACHE_SIZE * 3):
        endpoint.wsdl(f"http://forged-{n}.example/qbwc")
        endpoint.wsdl(real)  # QBWC keeps asking for the real one: it stays cached
    assert len(endpoint._wsdl_cache) == WSDL_CACHE_SIZE
    assert real in endpoint._wsdl_cache
    assert b"forged-47" in endpoint.wsdl("http://forged-47.example/qbwc")


def test_body_over_the_limit_is_a_fault(local) -> None:
    small = SoapEndpoint(local.relay, max_body_bytes=1000)
    body = envelope("clientVersion", [("strVersion", "x" * 2000)])
    assert "at most 1,000" in _fault(small.handle(body))
    assert small.handle(envelope("serverVersion", [])).status == 200


def test_internal_error_is_a_server_fault_without_details(local, monkeypatch) -> None:
    def boom(*args):
        raise RuntimeError("secret internals /etc/x")

    monkeypatch.setattr(local.relay, "client_version", boom)
    text = _fault(local.endpoint.handle(envelope("clientVersion", [("strVersion", "1")])))
    assert "secret" not in text and "internal error" in text


def test_authenticate_returns_array_of_string(local, tenant) -> None:
    from tests.conftest import PASSWORD

    reply = local.endpoint.handle(
        envelope("authenticate", [("strUserName", tenant.qbwc_user), ("strPassword", PASSWORD)])
    )
    root = etree.fromstring(reply.body)
    strings = root.findall(
        ".//{http://developer.intuit.com/}authenticateResult/{http://developer.intuit.com/}string"
    )
    assert len(strings) == 2 and len(strings[0].text) >= 32
