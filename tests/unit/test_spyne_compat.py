"""spyne 2.14.0 imports and serves SOAP on this interpreter (3.12/3.13 need the compat module)."""

import sys

from lambdas.qbwc import spyne_compat  # noqa: F401


def test_spyne_soap_roundtrip_works_on_this_python() -> None:
    from spyne import Application, ServiceBase, Unicode, rpc
    from spyne.protocol.soap import Soap11
    from spyne.server.null import NullServer

    class Echo(ServiceBase):
        @rpc(Unicode, _returns=Unicode)
        def echo(ctx, text):
            return text.upper()

    app = Application([Echo], tns="urn:t", in_protocol=Soap11(), out_protocol=Soap11())
    assert NullServer(app, ostr=False).service.echo("qb") == "QB"


def test_soap_request_through_spyne_on_this_python(local) -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><soap:Envelope '
        b'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<clientVersion xmlns="http://developer.intuit.com/"><strVersion>2.3.0.215</strVersion>'
        b"</clientVersion></soap:Body></soap:Envelope>"
    )
    reply = local.endpoint.handle(body)
    assert reply.status == 200, reply.body
    assert b"<tns:clientVersionResult" in reply.body


def test_compat_finder_is_installed_only_where_needed() -> None:
    from lambdas.qbwc.spyne_compat import _BundledSixFinder

    installed = any(isinstance(f, _BundledSixFinder) for f in sys.meta_path)
    assert installed == (sys.version_info >= (3, 12))
