"""Parsing without the whitespace between elements, where that cannot change any value read.

A qbXML response is indented: about half of its text nodes are the whitespace between elements.
libxml2 can leave those out (``remove_blank_text``), which saves creating and freeing them (a
tenth of the parse), but its rule is a heuristic: a whitespace-only run is dropped when the next
markup is not the end of the element, so also

1. before a comment, processing instruction or CDATA section inside a text element
   (``<Memo> <!-- x -->a</Memo>`` would read "a", not " a"), and
2. before the first child element of an element read as text (``<Name> <X/></Name>`` would
   read "", not " "; qbXML has no such field, but the parser must not depend on that), and
3. before a carriage return at the start of a text (``<Memo> \r\n</Memo>`` would read "\n").

``may_drop_blanks`` rules out the first and third from the bytes (no ``<!``, ``<?`` or CR after
the prolog, in an encoding where those bytes are those characters; a response taken out of a
SOAP envelope has had its line ends normalized already); the second is caught where a text is
read: ``no_text`` raises ``BlankTextDropped`` and the parser starts again keeping blank text.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

# Encodings in which the bytes "<!" and "<?" are those characters, and only they.
_ASCII_BASED = frozenset(
    {b"utf-8", b"utf8", b"us-ascii", b"ascii", b"iso-8859-1", b"latin1", b"windows-1252"}
)
_PI = re.compile(rb"<\?([^?]|\?(?!>))*\?>\s*")
_ENCODING = re.compile(rb"\sencoding\s*=\s*[\"']([^\"']*)[\"']")
_BOM = b"\xef\xbb\xbf"


class BlankTextDropped(Exception):
    """A text was read from an element whose leading whitespace may have been left out."""


class BlankDroppingParser(etree.XMLPullParser):
    """The pull parser of a tree built without blank text (``no_text`` tells it by its type)."""


def may_drop_blanks(raw: bytes) -> bool:
    """True when leaving blank text out of ``raw``'s tree can change no text but by case 2."""
    pos = len(_BOM) if raw.startswith(_BOM) else 0
    while pos < len(raw) and raw[pos] in b" \t\n":
        pos += 1
    while raw.startswith(b"<?", pos):
        # The XML declaration and processing instructions before the root element.
        pi = _PI.match(raw, pos)
        if pi is None:
            return False
        encoding = _ENCODING.search(pi.group())
        if encoding is not None and encoding.group(1).lower() not in _ASCII_BASED:
            return False
        pos = pi.end()
    # "<" then NUL is UTF-16 or UTF-32 as libxml2 detects it: none of the bytes mean markup.
    if raw[pos : pos + 1] != b"<" or raw[pos + 1 : pos + 2] == b"\x00":
        return False
    return (
        raw.find(b"\r", pos) < 0
        and not _follows_lt(raw, b"!", pos)
        and not _follows_lt(raw, b"?", pos)
    )


def _follows_lt(raw: bytes, mark: bytes, pos: int) -> bool:
    """Whether ``mark`` comes right after a "<" somewhere after ``pos``.

    Searched by the rare byte rather than as "<!": a one-byte find is a memchr, while every "<"
    of the document is a candidate start of the two-byte pattern (30 times slower).
    """
    found = raw.find(mark, pos)
    while found >= 0:
        if raw[found - 1] == 0x3C:  # "<"
            return True
        found = raw.find(mark, found + 1)
    return False


def no_text(el: Any) -> str:
    """The value of an element read as text that has none: "" (present but empty).

    Unless the element has children in a tree built without blank text: then its whitespace
    before them may have been left out, and ``BlankTextDropped`` is raised.
    """
    if len(el) and isinstance(el.getroottree().parser, BlankDroppingParser):
        raise BlankTextDropped
    return ""
