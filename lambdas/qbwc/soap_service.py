"""The QBWC SOAP binding (spyne): Intuit's WSDL contract over ``QbwcRelay``.

This is the only module that imports spyne (the package's ``__init__`` first installs
``spyne_compat``). ``SoapEndpoint`` is transport-neutral: the local WSGI
server and the Lambda handler both hand it a request body and get back status, headers and body.
Every failure becomes a SOAP 1.1 Fault with a short message: QBWC shows the text to the user, and
a stack trace or an HTML error page would only confuse it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from spyne import (
    Application,
    Array,
    Integer32,
    MethodContext,
    ServiceBase,
    Unicode,
    rpc,
)
from spyne.error import Fault
from spyne.interface.wsdl import Wsdl11
from spyne.protocol.soap import Soap11
from spyne.server import ServerBase

from ..metrics import (
    SOAP_CALLS,
    SOAP_CLIENT_FAULTS,
    SOAP_FAULTS,
    SOAP_SERVER_FAULTS,
    Metrics,
    NoMetrics,
)
from .relay import QbwcRelay

log = logging.getLogger(__name__)
# spyne logs every fault it builds, client mistakes included, with a traceback; faults are
# reported once, by this module, instead.
logging.getLogger("spyne").setLevel(logging.CRITICAL)

TNS = "http://developer.intuit.com/"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP_NS = "http://schemas.xmlsoap.org/wsdl/soap/"
CONTENT_TYPE = "text/xml; charset=utf-8"
DEFAULT_MAX_BODY = 8 * 1024 * 1024
# Distinct service addresses whose WSDL is kept: the address comes from the request's Host header
# when no public URL is configured, so an unbounded cache would grow with every forged Host.
WSDL_CACHE_SIZE = 8
# Bounds checked before spyne builds a tree: a QBWC envelope has a few dozen elements (the qbXML
# travels as escaped text in one of them), so these refuse only abuse. Without them an 8 MB body
# of empty elements makes a tree of ~240 MB.
DEFAULT_MAX_ELEMENTS = 100_000
DEFAULT_MAX_DEPTH = 64

ArrayOfString = Array(Unicode, type_name="ArrayOfString")
RequiredInt = Integer32(min_occurs=1, nillable=False)

OPERATIONS = (
    "serverVersion",
    "clientVersion",
    "authenticate",
    "sendRequestXML",
    "receiveResponseXML",
    "connectionError",
    "getLastError",
    "closeConnection",
)


class ClientFault(Fault):
    """A fault caused by the caller's request."""

    def __init__(self, message: str) -> None:
        super().__init__(faultcode="Client", faultstring=message)


def _call(ctx: Any, operation: str, *args: Any, **kwargs: Any) -> Any:
    """Run one relay operation; an unexpected error is logged here and answered as a Fault."""
    relay: QbwcRelay = ctx.app.relay
    try:
        return getattr(relay, operation)(*args, **kwargs)
    except Fault:
        raise
    except Exception as exc:
        log.exception("%s failed", operation)
        raise Fault("Server", "The relay hit an internal error; it has been logged.") from exc


def _required(name: str, value: str | None) -> str:
    if value is None:
        raise ClientFault(f"Missing parameter: {name}")
    return value


class QBWebConnectorSvc(ServiceBase):
    """The eight operations QBWC calls; names and parameters exactly as in Intuit's WSDL."""

    @rpc(_returns=Unicode)
    def serverVersion(ctx):
        return _call(ctx, "server_version")

    @rpc(Unicode, _returns=Unicode)
    def clientVersion(ctx, strVersion):
        return _call(ctx, "client_version", strVersion or "", client=ctx.udc)

    @rpc(Unicode, Unicode, _returns=ArrayOfString)
    def authenticate(ctx, strUserName, strPassword):
        return _call(
            ctx,
            "authenticate",
            _required("strUserName", strUserName),
            _required("strPassword", strPassword),
            client=ctx.udc,
        )

    @rpc(Unicode, Unicode, Unicode, Unicode, RequiredInt, RequiredInt, _returns=Unicode)
    def sendRequestXML(
        ctx,
        ticket,
        strHCPResponse,
        strCompanyFileName,
        qbXMLCountry,
        qbXMLMajorVers,
        qbXMLMinorVers,
    ):
        return _call(
            ctx,
            "send_request_xml",
            _required("ticket", ticket),
            strHCPResponse or "",
            strCompanyFileName or "",
            qbXMLCountry or "",
            qbXMLMajorVers,
            qbXMLMinorVers,
        )

    @rpc(Unicode, Unicode, Unicode, Unicode, _returns=Integer32)
    def receiveResponseXML(ctx, ticket, response, hresult, message):
        return _call(
            ctx,
            "receive_response_xml",
            _required("ticket", ticket),
            response or "",
            hresult or "",
            message or "",
        )

    @rpc(Unicode, Unicode, Unicode, _returns=Unicode)
    def connectionError(ctx, ticket, hresult, message):
        return _call(
            ctx, "connection_error", _required("ticket", ticket), hresult or "", message or ""
        )

    @rpc(Unicode, _returns=Unicode)
    def getLastError(ctx, ticket):
        return _call(ctx, "get_last_error", _required("ticket", ticket))

    @rpc(Unicode, _returns=Unicode)
    def closeConnection(ctx, ticket):
        return _call(ctx, "close_connection", _required("ticket", ticket))


@dataclass(frozen=True, slots=True)
class SoapReply:
    """What a transport sends back."""

    status: int
    content_type: str
    body: bytes
    # "Client" or "Server" for a Fault, None for a normal reply (metrics only; not sent).
    fault_code: str | None = None


def fault_reply(message: str, code: str = "Client") -> SoapReply:
    """A SOAP 1.1 Fault (HTTP 500, text/xml) with ``message`` as the faultstring."""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soap:Envelope xmlns:soap="{SOAP_ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    )
    return SoapReply(500, CONTENT_TYPE, body.encode("utf-8"), code)


class _Refused(Exception):
    """Raised from inside the scan to stop libxml2 at the first reason to refuse."""


class _ScanTarget:
    """The scan's parser target: counts elements and depth, refuses a DTD, builds nothing.

    A parser target gets callbacks instead of making a tree, so an envelope of a million empty
    elements costs a counter, not a million lxml elements; and raising from a callback stops
    the parse there (only start, end and doctype are defined: lxml then skips text, comments
    and processing instructions without calling Python).
    """

    def __init__(self, max_elements: int, max_depth: int) -> None:
        self.max_elements = max_elements
        self.max_depth = max_depth
        self.elements = 0
        self.depth = 0

    def start(self, tag: Any, attrib: Any) -> None:
        self.elements += 1
        self.depth += 1
        if self.elements > self.max_elements:
            raise _Refused(
                f"The envelope has more than {self.max_elements:,} elements; "
                "lower MaxReturned so responses are smaller."
            )
        if self.depth > self.max_depth:
            raise _Refused(f"The envelope nests elements deeper than {self.max_depth} levels.")

    def end(self, tag: Any) -> None:
        self.depth -= 1

    def doctype(self, *args: Any) -> None:
        # libxml2 reports every <!DOCTYPE>, internal subset or not, before any entity in it
        # could be expanded; one in a comment or CDATA section is not a DTD and never gets here.
        raise _Refused("Document type declarations and entities are not accepted.")

    def close(self) -> None:
        return None


# The scan feeds the body in slices: libxml2 stops between them as soon as a callback refuses,
# instead of first tokenising the whole body.
_SCAN_SLICE = 64 * 1024


def _refusal(body: bytes, max_elements: int, max_depth: int) -> str | None:
    """Why ``body`` is refused before spyne parses it, or None.

    One streaming pass with no tree (see _ScanTarget): the body is well-formed, has no DTD,
    and has at most ``max_elements`` elements nested at most ``max_depth`` deep. spyne then
    builds the only tree of a normal request.
    """
    try:
        # spyne decodes the body as UTF-8 whatever the XML declaration says; say so plainly
        # instead of letting its UnicodeDecodeError surface as an internal error.
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            f"The request body is not valid UTF-8 (byte {exc.start:,}); "
            "send the SOAP envelope encoded as UTF-8."
        )
    # A new parser per request: lxml parsers are not safe to share between threads (waitress
    # serves several), and making one is cheap. No entity substitution, no network, no DTD
    # loading, libxml2's size limits kept.
    parser = etree.XMLParser(
        target=_ScanTarget(max_elements, max_depth),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
    )
    view = memoryview(body)
    try:
        for offset in range(0, len(body), _SCAN_SLICE):
            parser.feed(bytes(view[offset : offset + _SCAN_SLICE]))
        parser.close()
    except _Refused as exc:
        return str(exc)
    except (etree.XMLSyntaxError, ValueError, LookupError):
        # ValueError / LookupError: an unknown or contradictory encoding declaration, say.
        return "The request body is not well-formed XML."
    return None


_LXML_PREFIX = re.compile(r"^.*?:\d+:\d+:\w+:\w+:\w+: ")


def _clean_fault(fault: Fault) -> tuple[str, str]:
    """(code, message) for a spyne fault: short, no file names or internal markers."""
    code = str(fault.faultcode or "Server")
    text = str(fault.faultstring or "")
    if "XMLSyntaxError" in code:
        return "Client", "The request body is not well-formed XML."
    if "SchemaValidationError" in code:
        detail = _LXML_PREFIX.sub("", text).replace("{" + TNS + "}", "").strip().rstrip('"')
        if "No matching global declaration" in detail:
            match = re.search(r"Element '([^']+)'", detail)
            name = match.group(1) if match else "?"
            return "Client", (
                f"Unknown operation '{name}'. This service implements: {', '.join(OPERATIONS)}."
            )
        return "Client", f"Invalid request: {detail}"
    if code.startswith("Client") or code.endswith(".Client"):
        return "Client", text or "Invalid request."
    return "Server", "The relay hit an internal error; it has been logged."


class _DirectServer(ServerBase):
    """Runs spyne's pipeline on a body in hand, with no WSGI environ."""

    transport = "http://schemas.xmlsoap.org/soap/http"

    def handle(self, body: bytes, client: str | None = None) -> tuple[bool, bytes | Fault]:
        ctx = MethodContext(self, MethodContext.SERVER)
        ctx.in_string = [body]
        # The caller's network address, for the operations that note it (spyne's user context;
        # the method contexts made from this one share it).
        ctx.udc = client
        contexts = self.generate_contexts(ctx, "utf-8")
        p_ctx = contexts[0]
        if p_ctx.in_error:
            return False, p_ctx.in_error
        self.get_in_object(p_ctx)
        if p_ctx.in_error:
            return False, p_ctx.in_error
        self.get_out_object(p_ctx)
        if p_ctx.out_error:
            return False, p_ctx.out_error
        self.get_out_string(p_ctx)
        return True, b"".join(
            s if isinstance(s, bytes) else s.encode("utf-8") for s in p_ctx.out_string
        )


class SoapEndpoint:
    """The QBWC SOAP service for one relay: POST bodies in, SOAP replies out, and the WSDL."""

    def __init__(
        self,
        relay: QbwcRelay,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        metrics: Metrics | None = None,
        max_elements: int = DEFAULT_MAX_ELEMENTS,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.max_elements = max_elements
        self.max_depth = max_depth
        self.metrics = metrics or NoMetrics()
        self._app = Application(
            [QBWebConnectorSvc],
            tns=TNS,
            name="QBWebConnectorSvc",
            in_protocol=Soap11(validator="lxml"),
            out_protocol=Soap11(),
        )
        self._app.relay = relay
        self._server = _DirectServer(self._app)
        self._wsdl_cache: OrderedDict[str, bytes] = OrderedDict()
        self._wsdl_lock = threading.Lock()

    def handle(self, body: bytes, client: str | None = None) -> SoapReply:
        """Answer one SOAP POST. Never raises.

        ``client`` is the caller's network address as the transport knows it (None if unknown):
        the relay notes the Web Connector version per address (display only).
        """
        return self._counted(self._handle(body, client))

    def refuse(self, message: str) -> SoapReply:
        """A Client fault for a request the transport refused before it had a body (a bad
        Content-Length, say), counted like the faults of ``handle``."""
        return self._counted(fault_reply(message))

    def _counted(self, reply: SoapReply) -> SoapReply:
        self.metrics.count(SOAP_CALLS)
        if reply.status != 200:
            # SOAP 1.1 answers every fault with HTTP 500, so the gateway's 5xx count cannot tell
            # a caller's mistake from the relay's; these two counters can (the alarm uses them).
            self.metrics.count(SOAP_FAULTS)
            server = reply.fault_code == "Server"
            self.metrics.count(SOAP_SERVER_FAULTS if server else SOAP_CLIENT_FAULTS)
        return reply

    def _handle(self, body: bytes, client: str | None) -> SoapReply:
        if not body or not body.strip():
            return fault_reply("The request body is empty; expected a SOAP 1.1 envelope.")
        if len(body) > self.max_body_bytes:
            return fault_reply(
                f"The request body is {len(body):,} bytes; this service accepts at most "
                f"{self.max_body_bytes:,}. Lower MaxReturned so responses are smaller."
            )
        refusal = _refusal(body, self.max_elements, self.max_depth)
        if refusal is not None:
            return fault_reply(refusal)
        try:
            ok, result = self._server.handle(body, client)
        except Exception:
            log.exception("SOAP request failed")
            return fault_reply("The relay hit an internal error; it has been logged.", "Server")
        if ok:
            assert isinstance(result, bytes)
            return SoapReply(200, CONTENT_TYPE, result)
        assert isinstance(result, Fault)
        code, message = _clean_fault(result)
        if code == "Server":
            log.error("SOAP fault: %s %s", result.faultcode, result.faultstring)
        return fault_reply(message, code)

    def wsdl(self, url: str) -> bytes:
        """The WSDL with ``url`` as the service address and Intuit's soapAction URIs."""
        with self._wsdl_lock:
            cached = self._wsdl_cache.get(url)
            if cached is None:
                cached = self._build_wsdl(url)
                self._wsdl_cache[url] = cached
                # Least recently used out: the real address (asked for by every QBWC setup)
                # stays while forged Host headers push each other out.
                while len(self._wsdl_cache) > WSDL_CACHE_SIZE:
                    self._wsdl_cache.popitem(last=False)
            else:
                self._wsdl_cache.move_to_end(url)
            return cached

    def _build_wsdl(self, url: str) -> bytes:
        wsdl = Wsdl11(self._app.interface)
        wsdl.build_interface_document(url)
        root = etree.fromstring(wsdl.get_interface_document())
        for op in root.iter(f"{{{WSDL_SOAP_NS}}}operation"):
            name = op.getparent().get("name")
            op.set("soapAction", TNS + name)
        for address in root.iter(f"{{{WSDL_SOAP_NS}}}address"):
            address.set("location", url)
        return etree.tostring(root, xml_declaration=True, encoding="utf-8")
