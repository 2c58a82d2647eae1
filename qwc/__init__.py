"""QuickBooks Web Connector application files (.qwc): build them, and refuse bad ones.

Knows only the QWC XML format and the rules QBWC enforces; nothing about AWS or the relay.
"""

from .document import ELEMENT_ORDER, build_qwc
from .errors import QwcError
from .guids import bare_guid, braced_guid, is_braced_guid, new_guid
from .rules import (
    MAX_DESCRIPTION,
    MAX_RUN_MINUTES,
    MIN_RUN_MINUTES,
    check_app_url,
    check_support_url,
    validate,
)
from .spec import DEFAULT_DESCRIPTION, QB_TYPE, QwcSpec
from .urls import sibling_url

__all__ = [
    "DEFAULT_DESCRIPTION",
    "ELEMENT_ORDER",
    "MAX_DESCRIPTION",
    "MAX_RUN_MINUTES",
    "MIN_RUN_MINUTES",
    "QB_TYPE",
    "QwcError",
    "QwcSpec",
    "bare_guid",
    "braced_guid",
    "build_qwc",
    "check_app_url",
    "check_support_url",
    "is_braced_guid",
    "new_guid",
    "sibling_url",
    "validate",
]
