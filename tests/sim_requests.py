"""Raw qbXML request strings and response helpers for the simulated company's tests.

The tests write requests by hand (not with the qbxml builders) so the simulator is checked
independently of the library that talks to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from lxml import etree

from sim.fake_company import FakeCompany
from tests.conftest import shared_path

OWNER_ID = "{6B063959-81B0-4622-8C09-3A7E4DE9AB9C}"
FILE_ID = "{0C0A4F5E-1D2B-4A3C-9E8F-7A6B5C4D3E2F}"


def message_set(*requests: str, on_error: str = "stopOnError", version: str = "13.0") -> str:
    """A request message set around ``requests``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<?qbxml version="{version}"?>'
        f'<QBXML><QBXMLMsgsRq onError="{on_error}">{"".join(requests)}</QBXMLMsgsRq></QBXML>'
    )


def rq(tag: str, *children: str, request_id: str = "1", **attrs: str) -> str:
    """One ``*Rq`` element; ``attrs`` become attributes (iterator, iteratorID)."""
    extra = "".join(f' {name}="{escape(value)}"' for name, value in attrs.items())
    return f'<{tag} requestID="{request_id}"{extra}>{"".join(children)}</{tag}>'


def el(tag: str, value: Any = None, *children: str) -> str:
    """``<tag>value</tag>`` (escaped) or ``<tag>children</tag>``."""
    inner = escape(str(value)) if value is not None else "".join(children)
    return f"<{tag}>{inner}</{tag}>"


def responses(document: str) -> list[Any]:
    """The ``*Rs`` elements of a response message set."""
    root = etree.fromstring(document.encode("utf-8"))
    assert root.tag == "QBXML"
    return list(root.find("QBXMLMsgsRs"))


def ask(company: FakeCompany, *requests: str, on_error: str = "stopOnError") -> list[Any]:
    """Send requests in one message set; return the ``*Rs`` elements."""
    return responses(company.process(message_set(*requests, on_error=on_error)))


def one(company: FakeCompany, request: str) -> Any:
    """Send one request; return its ``*Rs`` element."""
    (response,) = ask(company, request)
    return response


def rets(response: Any) -> list[Any]:
    """The ``*Ret`` children of a response."""
    return [child for child in response if child.tag.endswith("Ret")]


def status(response: Any) -> int:
    return int(response.get("statusCode"))


def load_schema() -> etree.XMLSchema:
    """Intuit's qbXML 13.0 schema, or a skip with the reason when it is not available."""
    directory = os.environ.get("QBXML_XSD_DIR")
    path = Path(directory) if directory else shared_path("QBXML_XSD_DIR", "reference/qbxml/13.0")
    if path is None or not (path / "qbxmlops130.xsd").exists():
        pytest.skip("QBXML_XSD_DIR is not set and ../shared/reference/qbxml/13.0 is absent")
    return etree.XMLSchema(etree.parse(str(path / "qbxmlops130.xsd")))


def assert_valid(schema: etree.XMLSchema, document: str) -> None:
    """The qbXML document (request or response) validates against the schema."""
    body = document[document.index("<QBXML>") :]
    ok = schema.validate(etree.fromstring(body.encode("utf-8")))
    assert ok, schema.error_log.last_error
