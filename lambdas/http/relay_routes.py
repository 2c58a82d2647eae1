"""The Web Connector's routes: SOAP and its WSDL, liveness, and the .qwc AppSupport pages."""

from __future__ import annotations

from ..qbwc.support_page import SUPPORT_PATH, support_reply
from .messages import BodyError, Request, Response
from .router import Router
from .services import Services

SOAP_PATH = "/qbwc"
HEALTH_PATH = "/health"


def soap_post(request: Request, services: Services) -> Response:
    """One SOAP 1.1 call; an oversized or undecodable body is a SOAP Client fault."""
    soap = services.soap
    limit = soap.max_body_bytes
    if request.content_length > limit:
        reply = soap.refuse(
            f"The request body is {request.content_length:,} bytes; this service accepts at "
            f"most {limit:,}. Lower MaxReturned so responses are smaller."
        )
    else:
        try:
            body = request.body
        except BodyError as exc:
            reply = soap.refuse(str(exc))
        else:
            reply = soap.handle(body, request.source_ip)
    return Response(reply.status, reply.body, reply.content_type)


def soap_get(request: Request, services: Services) -> Response:
    """``?wsdl``: the WSDL naming this service; otherwise a line saying what the path is."""
    if any(key.lower() == "wsdl" for key in request.query):
        url = services.soap_url or f"{request.base_url}{SOAP_PATH}"
        return Response(200, services.soap.wsdl(url), "text/xml; charset=utf-8")
    return Response.text(
        "QuickBooks Web Connector endpoint. POST SOAP 1.1 here; GET ?wsdl for the WSDL.\n"
    )


def health(request: Request, services: Services) -> Response:
    """Liveness: the process answers. Reveals nothing about tenants."""
    return Response.json({"status": "ok", "service": "qbxml-relay"})


def support(request: Request, services: Services) -> Response:
    """The general support page, or one tenant's by the FileID in its .qwc."""
    page = support_reply(request.path, services.optional("tenants"), services.sync_state)
    return Response(page.status, page.body, page.content_type, list(page.headers))


# For /openapi.json (lambdas/http/openapi.py).
HEALTH_DOC = {
    "tags": ["health"],
    "summary": "Liveness: the process answers (no tenant data)",
    "responses": {"200": {"description": '{"status": "ok"}', "schema": {"type": "object"}}},
}


def register(router: Router) -> None:
    """Add the Web Connector routes."""
    router.add("POST", SOAP_PATH, soap_post, max_body=None, summary="QBWC SOAP 1.1 calls")
    router.add("GET", SOAP_PATH, soap_get, summary="?wsdl: the WSDL")
    router.add("GET", HEALTH_PATH, health, summary="liveness", doc=HEALTH_DOC)
    router.add("GET", SUPPORT_PATH, support, summary=".qwc AppSupport page")
    router.add("GET", f"{SUPPORT_PATH}/{{file_id}}", support, summary="a tenant's support page")
