"""Queue batches within SQS's limits: 10 messages and 256 KiB per batch, 256 KiB per message.

Both record-queue adapters apply the same limits, so tests on the SQLite twin exercise them.
The size of a message is its body plus its attributes (SQS counts both).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from ..model.envelope import MAX_BATCH_BYTES, MAX_BATCH_COUNT, MAX_MESSAGE_BYTES
from .ports import QueueMessage, StoreError

T = TypeVar("T")

# The attributes every record message carries (name, type and value bytes).
_ATTRIBUTE_NAMES = ("tenant", "dedup_id")
_ATTRIBUTE_TYPE = len("String")
# What SQS accepts as a MessageGroupId: 1 to 128 letters, digits and ASCII punctuation.
_GROUP_ID = re.compile(r"[A-Za-z0-9!-/:-@\[-`{-~]{1,128}")


def message_group(tenant: str) -> str:
    """The SQS MessageGroupId of a tenant's messages: the fair queue's tenant.

    Tenant names already fit (64 letters, digits, ``.``, ``_``, ``-``); anything else is
    replaced by its SHA-256, so every message still carries a stable group of its tenant.
    """
    if _GROUP_ID.fullmatch(tenant):
        return tenant
    return hashlib.sha256(tenant.encode()).hexdigest()


def message_bytes(m: QueueMessage) -> int:
    """What SQS counts of a message: body and attributes (and, as a margin, the group id,
    which SQS's documentation does not name among them)."""
    attrs = sum(len(n) + _ATTRIBUTE_TYPE for n in _ATTRIBUTE_NAMES)
    group = len(message_group(m.tenant))
    return (
        len(m.body.encode("utf-8"))
        + attrs
        + len(m.tenant.encode())
        + len(m.dedup_id.encode())
        + group
    )


def check_message_size(m: QueueMessage) -> None:
    """StoreError when one message is larger than a queue message may be."""
    size = message_bytes(m)
    if size > MAX_MESSAGE_BYTES:
        raise StoreError(
            f"record {m.dedup_id} is {size:,} bytes, over the queue's {MAX_MESSAGE_BYTES:,}-byte "
            "message limit (large records travel by claim check)"
        )


def batches(messages: Sequence[QueueMessage]) -> Iterator[list[QueueMessage]]:
    """Record messages in order, in batches of at most 10 messages and 256 KiB in all."""
    for m in messages:
        check_message_size(m)
    return sized_batches(messages, message_bytes)


def sized_batches(items: Sequence[T], size_of: Callable[[T], int]) -> Iterator[list[T]]:
    """``items`` in order, in batches within SQS's count and total-size limits."""
    batch: list[T] = []
    size = 0
    for m in items:
        n = size_of(m)
        if batch and (len(batch) == MAX_BATCH_COUNT or size + n > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(m)
        size += n
    if batch:
        yield batch
