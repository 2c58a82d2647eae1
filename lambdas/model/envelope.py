"""The queue envelope: one canonical record on its way from a source to the forwarder.

Every message on the record queue is one envelope as JSON. It names the record (tenant, source,
entity, id), its version and content hash, and carries the record itself, or, when the record
is too large for one queue message, a claim check: the key under which the payload store holds
it. Producers and the forwarder build and read envelopes only through this module.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from .content import CANONICAL, canonical_json, json_and_hash
from .identity import SOURCE_QBD, SOURCES, IdentityError, source_id, version

# SQS's limit for one message and for one batch of messages (body and attributes together).
MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH_BYTES = 256 * 1024
MAX_BATCH_COUNT = 10
# Room kept below the limit for the message attributes and the envelope's own keys.
ENVELOPE_HEADROOM = 4 * 1024


_SAFE = re.compile(r"[^A-Za-z0-9._:@#=+-]")


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


class EnvelopeError(ValueError):
    """A queue message is not a readable envelope; the message says why."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """A record (or its claim check) with everything that identifies and orders it."""

    tenant: str
    source: str
    entity: str
    source_id: str
    version: str
    content_hash: str
    record: dict[str, Any] | None = None
    claim: str | None = None  # payload-store key of the record when it travels separately
    # When the producer read the record (epoch seconds): orders two reads of one version, whose
    # content can differ (QuickBooks changes a balance without a new EditSequence).
    read_at: float = 0.0
    # Why a person must confirm this change before it reaches the CRM ("mass deletion", …):
    # set by the relay's containment rules; the forwarder parks such a message until
    # ``qbrelay failures redrive --confirm`` sends it again without the mark.
    review: str | None = None
    # "Module/zoho_id": the ZOHO record this source record was written back from (write-back).
    # The forwarder writes the record into that ZOHO record by id while the mapping knows no
    # ZOHO id yet, instead of upserting on the external id (which the ZOHO record lacks), so a
    # customer created from an account never becomes a second account.
    link: str | None = None
    # ``canonical_json(record)`` when already made (``of`` makes it with the hash), so the
    # record is serialized once however often the message body is asked for.
    record_json: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, tenant: str, source: str, record: dict[str, Any], read_at: float = 0.0) -> Envelope:
        """The envelope of a canonical record; IdentityError when it has no id."""
        text, digest = json_and_hash(record)
        return cls(
            read_at=read_at,
            tenant=tenant,
            source=source,
            entity=str(record.get("entity") or ""),
            source_id=source_id(record),
            version=version(record),
            content_hash=digest,
            record=record,
            record_json=text,
        )

    @property
    def dedup_id(self) -> str:
        """Names this version of this record (the same for every send of it)."""
        return f"{self.tenant}:{self.source}:{self.entity}:{self.source_id}:{self.version}"

    @property
    def claim_key(self) -> str:
        """Where a claim-checked record of this envelope is kept in the payload store."""
        return (
            "/".join(
                _SAFE.sub("_", part) for part in (self.tenant, self.content_hash, self.dedup_id)
            )
            + ".json"
        )

    def checked(self, key: str) -> Envelope:
        """This envelope with its record replaced by a claim check under ``key``."""
        return replace(self, record=None, claim=key, record_json=None)

    def to_json(self) -> str:
        """The message body: the envelope's keys sorted, no spaces, ASCII only."""
        head: dict[str, Any] = {
            "content_hash": self.content_hash,
            "entity": self.entity,
            "id": self.source_id,
            "read_at": self.read_at,
        }
        tail: dict[str, Any] = {
            "source": self.source,
            "tenant": self.tenant,
            "version": self.version,
        }
        if self.review:
            tail["review"] = self.review
        if self.link:
            head["link"] = self.link
        if self.claim is not None:
            head["claim"] = self.claim
            return CANONICAL.encode({**head, **tail})
        # The record sorts between "read_at" and "review"/"source": its JSON is spliced in
        # there, made once (``record_json``), not again inside a larger dumps.
        record = self.record_json
        if record is None:
            record = canonical_json(self.record)  # type: ignore[arg-type]
        return f'{CANONICAL.encode(head)[:-1]},"record":{record},{CANONICAL.encode(tail)[1:]}'

    @classmethod
    def from_json(cls, body: str) -> Envelope:
        """Read a message body; EnvelopeError when it is not an envelope.

        Identity, version and hash missing from the body (an older producer) are derived from
        the record as the producers derive them.
        """
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise EnvelopeError(f"not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise EnvelopeError("not a record message (not an object)")
        tenant, record, claim = data.get("tenant"), data.get("record"), data.get("claim")
        if not isinstance(tenant, str) or not tenant:
            raise EnvelopeError("no tenant")
        source = str(data.get("source") or SOURCE_QBD)
        if source not in SOURCES:
            raise EnvelopeError(f"unknown source {source!r}")
        if isinstance(record, dict):
            if not isinstance(record.get("entity"), str):
                raise EnvelopeError("the record has no entity")
            try:
                derived = cls.of(tenant, source, record)
            except IdentityError as exc:
                raise EnvelopeError(str(exc)) from None
        elif isinstance(claim, str) and claim:
            derived = None
        else:
            raise EnvelopeError("not a record message (no record object and no claim check)")

        def named(name: str, fallback: str | None) -> str:
            value = data.get(name)
            if isinstance(value, str) and value:
                return value
            if fallback is None:
                raise EnvelopeError(f"a claim-checked message needs {name!r}")
            return fallback

        return cls(
            tenant=tenant,
            source=source,
            entity=named("entity", derived.entity if derived else None),
            source_id=named("id", derived.source_id if derived else None),
            version=str(data.get("version") or (derived.version if derived else "")),
            content_hash=named("content_hash", derived.content_hash if derived else None),
            record=record if isinstance(record, dict) else None,
            claim=None if isinstance(record, dict) else claim,
            read_at=_number(data.get("read_at")),
            review=data["review"] if isinstance(data.get("review"), str) else None,
            link=data["link"] if isinstance(data.get("link"), str) and data["link"] else None,
            record_json=derived.record_json if derived else None,
        )
