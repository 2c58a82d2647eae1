"""The streaming parser against a reference built from the whole tree, blank text kept.

The parser leaves the whitespace between elements out of its tree when that cannot change a
value (qbxml.blanks) and starts again keeping it when it might have: whatever the whitespace,
comments, CDATA sections, chunk boundaries or stray child elements, every value must be what a
plain ``fromstring`` of the document says.
"""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from bench.qbxml_data import customers_response, invoices_response
from qbxml import Address, Customer, CustomField, QbxmlError, Ref, parse_response, stream_response
from qbxml import parser as parser_module
from qbxml.blanks import may_drop_blanks
from tests.unit.qbxml_support import samples_or_skip

_SPACE = st.sampled_from(["", " ", "\n", "\n  ", "\t \r\n"])
_WORD = st.text(alphabet="ab &<>Zé", min_size=0, max_size=6).map(
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;")
)


_SHAPES = ["{0}{1}{2}", "{0}<X>{1}</X>{2}", "{0}<X/>", ""]
# Markup that makes the parser keep blank text (qbxml.blanks): in about half the documents.
_MARKUP_SHAPES = ["{0}<!-- c -->{1}", "{0}<![CDATA[{1}]]>{2}", "{0}<?pi x?>{1}"]


@st.composite
def _content(draw: st.DrawFn, markup: bool) -> str:
    """The inside of an element read as text, in the odd shapes a hostile peer could send."""
    shape = draw(st.sampled_from(_SHAPES + _MARKUP_SHAPES if markup else _SHAPES))
    return shape.format(draw(_SPACE), draw(_WORD), draw(_SPACE))


@st.composite
def _customer(draw: st.DrawFn, n: int, markup: bool) -> str:
    sp = draw(_SPACE)
    content = _content(markup)
    amount = st.sampled_from(["0.00", "12.50", " 7 ", "1E+2"])
    parts = [
        f"<ListID>{n}-1</ListID>",
        f"<Name>{draw(content)}</Name>",
        f"<CompanyName>{draw(content)}</CompanyName>",
        f"<IsActive>{draw(st.sampled_from(['true', 'false']))}</IsActive>",
        f"<BillAddress>{sp}<Addr1>{draw(content)}</Addr1>{sp}<City>{draw(content)}</City>"
        f"{sp}</BillAddress>",
        f"<TermsRef>{sp}<ListID>{draw(content)}</ListID>{sp}"
        f"<FullName>{draw(content)}</FullName>{sp}</TermsRef>",
        f"<Balance>{draw(_SPACE)}{draw(amount)}</Balance>",
        f"<DataExtRet>{sp}<OwnerID>0</OwnerID>{sp}<DataExtName>{draw(content)}</DataExtName>"
        f"{sp}<DataExtType>STR255TYPE</DataExtType>{sp}"
        f"<DataExtValue>{draw(content)}</DataExtValue>{sp}</DataExtRet>",
    ]
    return f"<CustomerRet>{sp}" + sp.join(parts) + f"{sp}</CustomerRet>"


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    sp = draw(_SPACE)
    count, markup = draw(st.integers(1, 4)), draw(st.booleans())
    body = sp.join(draw(_customer(n, markup)) for n in range(count))
    prolog = draw(st.sampled_from(['<?xml version="1.0" ?>\n', "", '<?qbxml version="13.0"?>']))
    return (
        f'{prolog}<QBXML>{sp}<QBXMLMsgsRs>{sp}<CustomerQueryRs statusCode="0">{sp}{body}{sp}'
        f"</CustomerQueryRs>{sp}</QBXMLMsgsRs>{sp}</QBXML>"
    ).encode()


def _reference(doc: bytes) -> list[tuple[object, ...]]:
    """The fields under test, read from one ``fromstring`` of the document (blank text kept)."""
    root = etree.fromstring(doc, etree.XMLParser(remove_comments=True, remove_pis=True))

    def text(el: etree._Element, path: str) -> str | None:
        found = el.find(path)
        return None if found is None else (found.text or "")

    out = []
    for ret in root.iter("CustomerRet"):
        data_ext = ret.find("DataExtRet")
        out.append(
            (
                text(ret, "ListID"),
                text(ret, "Name"),
                text(ret, "CompanyName"),
                text(ret, "IsActive") == "true",
                Address(addr1=text(ret, "BillAddress/Addr1"), city=text(ret, "BillAddress/City")),
                Ref(text(ret, "TermsRef/ListID"), text(ret, "TermsRef/FullName")),
                Decimal(text(ret, "Balance") or ""),
                [
                    CustomField(
                        "0",
                        text(data_ext, "DataExtName") or "",
                        "STR255TYPE",
                        text(data_ext, "DataExtValue"),
                    )
                ],
            )
        )
    return out


def _fields(record: Customer) -> tuple[object, ...]:
    return (
        record.list_id,
        record.name,
        record.company_name,
        record.is_active,
        record.bill_address,
        record.terms,
        record.balance,
        record.custom_fields,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=_documents(), chunk=st.integers(8, 300))
def test_every_value_is_what_the_whole_tree_says(doc: bytes, chunk: int) -> None:
    with mock.patch.object(parser_module, "CHUNK_SIZE", chunk):
        (rs,) = parse_response(doc).responses
        streamed = [item for item in stream_response(doc) if isinstance(item, Customer)]
    assert [_fields(r) for r in rs.records] == _reference(doc)
    assert streamed == rs.records


def test_blank_text_at_every_chunk_boundary() -> None:
    # libxml2 judges "  " blank by what follows its "<": a chunk ending there must not hide it.
    doc = (
        b"<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode='0'>"
        + (b"<CustomerRet><ListID>1</ListID><Name>  </Name><Phone>\n</Phone></CustomerRet>" * 3)
        + b"</CustomerQueryRs></QBXMLMsgsRs></QBXML>"
    )
    for size in range(2, 90):
        with mock.patch.object(parser_module, "CHUNK_SIZE", size):
            records = parse_response(doc).responses[0].records
        assert [(r.name, r.phone) for r in records] == [("  ", "\n")] * 3, size


def test_a_text_element_holding_elements_keeps_its_leading_whitespace() -> None:
    # Without blank text in the tree this <Name> would read ""; the parser starts again.
    doc = (
        b"<QBXML><QBXMLMsgsRs><CustomerQueryRs statusCode='0'>\n"
        b"<CustomerRet>\n<ListID>1</ListID>\n<Name>n</Name>\n</CustomerRet>\n"
        b"<CustomerRet>\n<ListID>2</ListID>\n<Name>\n <X/>\n</Name>\n</CustomerRet>\n"
        b"</CustomerQueryRs></QBXMLMsgsRs></QBXML>"
    )
    assert may_drop_blanks(doc)
    names = [r.name for r in parse_response(doc).responses[0].records]
    assert names == ["n", "\n "]
    assert [r.name for r in stream_response(doc) if isinstance(r, Customer)] == names


def test_blank_text_is_kept_where_markup_could_follow_it() -> None:
    rest = b"<QBXML><QBXMLMsgsRs/></QBXML>"
    assert may_drop_blanks(b'\xef\xbb\xbf <?xml version="1.0" encoding="utf-8"?>\n' + rest)
    assert not may_drop_blanks(b"<QBXML><!-- c --><QBXMLMsgsRs/></QBXML>")
    assert not may_drop_blanks(b"<QBXML><?pi?><QBXMLMsgsRs/></QBXML>")
    assert not may_drop_blanks(b"<QBXML>\r\n<QBXMLMsgsRs/></QBXML>")
    assert not may_drop_blanks(b'<?xml version="1.0" encoding="UTF-16"?>' + rest)
    assert not may_drop_blanks("<QBXML/>".encode("utf-16-le"))


def test_real_and_generated_responses_read_the_same_with_and_without_blank_text() -> None:
    docs = {p.name: p.read_bytes() for p in sorted(samples_or_skip().rglob("*.xml"))}
    docs["customers"] = customers_response(200)
    docs["invoices"] = invoices_response(100, 5)
    checked = 0
    for name, doc in docs.items():
        if not may_drop_blanks(doc):
            continue
        kept = parser_module._Walker()
        try:
            expected = list(parser_module._parse(doc, kept, etree.XMLPullParser))
        except QbxmlError:
            continue
        assert list(stream_response(doc)) == expected, name
        checked += 1
    assert checked >= 5  # three real responses have no comment, plus the two generated


def test_a_deleted_record_without_its_type_is_a_library_error() -> None:
    doc = (
        b"<QBXML><QBXMLMsgsRs><ListDeletedQueryRs statusCode='0'><ListDeletedRet>"
        b"<ListID>1</ListID></ListDeletedRet></ListDeletedQueryRs></QBXMLMsgsRs></QBXML>"
    )
    with pytest.raises(QbxmlError, match="has no ListDelType"):
        parse_response(doc)
