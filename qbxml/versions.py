"""qbXML specification versions and the negotiation between QuickBooks and the relay."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import total_ordering

from .errors import QbxmlError


@total_ordering
@dataclass(frozen=True, slots=True)
class QbxmlVersion:
    """A US-numbered qbXML spec version such as 13.0."""

    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> QbxmlVersion:
        """Parse "13.0" (or "13"); raise QbxmlError for anything else."""
        parts = text.strip().split(".")
        try:
            if len(parts) == 1:
                return cls(int(parts[0]), 0)
            if len(parts) == 2:
                return cls(int(parts[0]), int(parts[1]))
        except ValueError:
            pass
        raise QbxmlError(f"not a qbXML version: {text!r}")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, QbxmlVersion):
            return NotImplemented
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


# The newest spec whose schema the builders are written and validated against.
MAX_VERSION = QbxmlVersion(13, 0)
# Iterators (needed for paged queries) arrived in qbXML 5.0 (QuickBooks 2006).
MIN_VERSION = QbxmlVersion(5, 0)


def negotiate(supported: Iterable[str]) -> QbxmlVersion | None:
    """Highest version both QuickBooks (``supported``) and the relay can speak, or None.

    Non-US spec names from before QuickBooks 2008 (CA3.0, UK2.0, ...) are ignored: they are a
    separate numbering the relay does not speak.
    """
    best: QbxmlVersion | None = None
    for text in supported:
        try:
            version = QbxmlVersion.parse(text)
        except QbxmlError:
            continue
        if MIN_VERSION <= version <= MAX_VERSION and (best is None or version > best):
            best = version
    return best
