"""Page sizes that keep every qbXML response inside the platform's limits.

A Lambda request is capped at 6 MB and SOAP escaping of the qbXML inside receiveResponseXML adds
about 40%, so a response must stay under about 3 MB. The page size (``MaxReturned``) of each
tenant and entity follows the bytes per record QuickBooks actually sent, and is persisted.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BYTES_PER_RECORD = 2_000.0


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

    def estimate_bytes(self, page_size: int, bytes_per_record: float | None) -> float:
        """The largest response a page of ``page_size`` records is expected to produce."""
        return page_size * (bytes_per_record or DEFAULT_BYTES_PER_RECORD)
