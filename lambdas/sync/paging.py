"""Page sizes that keep every qbXML response inside the platform's limits.

A Lambda request is capped at 6 MB and SOAP escaping of the qbXML inside receiveResponseXML adds
about 40%, so a response must stay under about 3 MB. The page size (``MaxReturned``) of each
tenant and entity follows the bytes per record QuickBooks actually sent, and is persisted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_BYTES_PER_RECORD = 2_000.0
# An answer's start tag (``<CustomerQueryRs requestID="3-Customer" ...``; record elements end
# in ``Ret``): found from its requestID attribute, a literal the regex engine scans for fast (a
# pattern starting with ``<\w+`` tried every tag of a 3 MB page: 10 ms), then checked back to
# the tag's ``<`` (a text holding the same characters has a ``>`` between).
_REQUEST_ID = re.compile(rb'requestID="([^"]*)"')
_RS_OPEN = re.compile(rb"<\w+Rs\b[^>]*\s")


@dataclass(frozen=True, slots=True)
class PagePolicy:
    """Bounds and target of the adaptive page size."""

    initial: int = 200
    minimum: int = 10
    maximum: int = 1_000
    target_bytes: int = 2_000_000

    def clamp(self, size: int) -> int:
        return max(self.minimum, min(self.maximum, size))

    def observe(
        self, bytes_per_record: float | None, response_bytes: int, records: int
    ) -> float | None:
        """The updated bytes-per-record estimate after a response of ``records`` records.

        Leans toward the larger of old and new, so one page of small records cannot make the
        next page overflow.
        """
        if records <= 0:
            return bytes_per_record
        seen = response_bytes / records
        if bytes_per_record is None:
            return seen
        return max(seen, (seen + bytes_per_record) / 2)

    def size_for(self, bytes_per_record: float | None) -> int:
        """The page size that keeps a page near ``target_bytes``."""
        if bytes_per_record is None or bytes_per_record <= 0:
            return self.clamp(self.initial)
        return self.clamp(int(self.target_bytes / bytes_per_record))

    @property
    def unknown_bytes_per_record(self) -> float:
        """The record size a first page is safe for (``initial`` of them fill the target):
        what a record of unknown size is counted as when pages share a message set."""
        return self.target_bytes / self.initial

    def estimate_bytes(self, page_size: int, bytes_per_record: float | None) -> float:
        """The largest response a page of ``page_size`` records is expected to produce."""
        return page_size * (bytes_per_record or DEFAULT_BYTES_PER_RECORD)


def response_bytes(response: str) -> dict[str, int]:
    """The bytes each answer of a qbXML response takes, by requestID: from its start tag to the
    next answer's (the last to the end). With several queries in one message set, each entity's
    bytes per record come from its own answer, not from a share of the whole; an id that
    occurs twice is left out (nothing then tells its answers apart)."""
    raw = response.encode("utf-8")
    starts = []
    for m in _REQUEST_ID.finditer(raw):
        lt = raw.rfind(b"<", 0, m.start())
        tag = _RS_OPEN.match(raw, lt, m.start()) if lt >= 0 else None
        if tag is not None and tag.end() == m.start():
            starts.append((lt, m.group(1).decode("utf-8", "replace")))
    sizes: dict[str, int] = {}
    seen: set[str] = set()
    for i, (start, request_id) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(raw)
        if request_id in seen:
            sizes.pop(request_id, None)
            continue
        seen.add(request_id)
        sizes[request_id] = end - start
    return sizes
