"""qbXML status codes, classified by what a sync must do about them.

Intuit's ranges: 0-499 informational, 500-999 warnings, 1000 and above errors. A few codes get a
class of their own because the right reaction differs (see research/qbwc-anchors-and-protocol.md).
"""

from __future__ import annotations

from enum import StrEnum


class StatusClass(StrEnum):
    """What a status code means for the caller."""

    OK = "ok"
    EMPTY = "empty"  # 1: the query matched nothing; a successful, empty result
    INFO = "info"
    WARNING = "warning"  # 500-999: data may still be returned; log and go on
    RETRYABLE = "retryable"  # record locked or modified by another user; try again
    STALE_EDIT_SEQUENCE = "stale_edit_sequence"
    STALE_ITERATOR = "stale_iterator"
    NAME_IN_USE = "name_in_use"
    INVALID_REFERENCE = "invalid_reference"
    ERROR = "error"


RETRYABLE_CODES = frozenset({3170, 3175, 3176, 3180})
INVALID_REFERENCE_CODES = frozenset({3120, 3130, 3140})
STATUS_NO_MATCH = 1
STATUS_NAME_IN_USE = 3100
STATUS_STALE_EDIT_SEQUENCE = 3200
STATUS_STALE_ITERATOR = 3391
# "This request is not supported by this implementation." (a request type this QuickBooks lacks)
STATUS_UNSUPPORTED_MESSAGE = 1030
# "This feature is not enabled or not available in this version of QuickBooks."
STATUS_FEATURE_NOT_ENABLED = 3250
# What a sync reads as "this company file has no such thing": not an error, skip the entity.
UNSUPPORTED_CODES = frozenset({STATUS_UNSUPPORTED_MESSAGE, STATUS_FEATURE_NOT_ENABLED})


def classify(code: int) -> StatusClass:
    """Return the class of a qbXML ``statusCode``."""
    if code == 0:
        return StatusClass.OK
    if code == STATUS_NO_MATCH:
        return StatusClass.EMPTY
    if code < 500:
        return StatusClass.INFO
    if code < 1000:
        return StatusClass.WARNING
    if code in RETRYABLE_CODES:
        return StatusClass.RETRYABLE
    if code == STATUS_STALE_EDIT_SEQUENCE:
        return StatusClass.STALE_EDIT_SEQUENCE
    if code == STATUS_STALE_ITERATOR:
        return StatusClass.STALE_ITERATOR
    if code == STATUS_NAME_IN_USE:
        return StatusClass.NAME_IN_USE
    if code in INVALID_REFERENCE_CODES:
        return StatusClass.INVALID_REFERENCE
    return StatusClass.ERROR


def is_success(code: int) -> bool:
    """True when the response carries a usable (possibly empty) result."""
    return classify(code) in (
        StatusClass.OK,
        StatusClass.EMPTY,
        StatusClass.INFO,
        StatusClass.WARNING,
    )
