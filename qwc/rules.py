"""The rules the Web Connector enforces on a .qwc file, checked before anyone imports it.

Sources: Intuit's QBWC Programmer's Guide, chapter 4 (table 4-1) and appendix A (QBWC1000-1004).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from urllib.parse import SplitResult, urlsplit

from .errors import QwcError
from .guids import is_braced_guid
from .spec import PERSONAL_DATA_PREFS, UNATTENDED_MODE_PREFS, QwcSpec

# The guide recommends at most 80 characters: QBWC shows the description in narrow places.
MAX_DESCRIPTION = 80
# QBWC's own interface accepts no interval below one minute; beyond a day a schedule is moot,
# because scheduled updates only happen while the Web Connector runs.
MIN_RUN_MINUTES = 1
MAX_RUN_MINUTES = 24 * 60
MAX_NAME = 100
MAX_URL = 2000
LOCALHOST = "localhost"
# Characters XML 1.0 cannot carry, and control characters that make no sense in these fields.
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ufffe\uffff]")


def _text(field: str, value: str, limit: int, *, may_be_empty: bool = False) -> None:
    if not value.strip() and not may_be_empty:
        raise QwcError(f"{field} must not be empty")
    if value != value.strip():
        raise QwcError(f"{field} must not start or end with spaces")
    if _CONTROL.search(value):
        raise QwcError(f"{field} contains a control character")
    if len(value) > limit:
        raise QwcError(f"{field} is {len(value)} characters long; the limit is {limit}")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _url(field: str, value: str) -> SplitResult:
    _text(field, value, MAX_URL)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise QwcError(f"{field} {value!r} is not a valid URL: {exc}") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise QwcError(f"{field} {value!r} must be an absolute http(s) URL with a host name")
    if parts.username is not None or parts.password is not None:
        raise QwcError(f"{field} must not carry a user name or password")
    if _is_ip(parts.hostname):
        raise QwcError(
            f"{field} {value!r} names an IP address; the Web Connector refuses those "
            "(QBWC1001/QBWC1002). Use a host name."
        )
    return parts


def check_app_url(url: str) -> SplitResult:
    """AppURL: https with a host name, or http on localhost only."""
    parts = _url("AppURL", url)
    if parts.scheme != "https" and parts.hostname != LOCALHOST:
        raise QwcError(
            f"AppURL {url!r} must use https: the Web Connector talks plain http to localhost only"
        )
    return parts


def check_support_url(support: str, app_url: str) -> None:
    """AppSupport: a host-name URL on the same host as AppURL (QBWC1000 otherwise)."""
    app_host = check_app_url(app_url).hostname
    support_host = _url("AppSupport", support).hostname
    # QBWC compares domain names; the same host always satisfies it, whatever its exact rule.
    if (support_host or "").lower() != (app_host or "").lower():
        raise QwcError(
            f"AppSupport is on {support_host!r} but AppURL on {app_host!r}; the Web Connector "
            "requires both on the same domain (QBWC1000)"
        )


def validate(spec: QwcSpec, user_exists: Callable[[str], bool]) -> None:
    """Raise QwcError on the first rule ``spec`` breaks.

    ``user_exists`` answers whether a tenant has that Web Connector user name, so no file is
    issued for a user the relay would answer ``nvu``.
    """
    _text("AppName", spec.app_name, MAX_NAME)
    _text("AppID", spec.app_id, MAX_NAME, may_be_empty=True)
    check_app_url(spec.app_url)
    _text("AppDescription", spec.app_description, MAX_DESCRIPTION)
    check_support_url(spec.app_support, spec.app_url)
    _text("UserName", spec.user_name, MAX_NAME)
    for field, value in (("OwnerID", spec.owner_id), ("FileID", spec.file_id)):
        if not is_braced_guid(value):
            raise QwcError(f"{field} {value!r} must be a braced GUID such as {{8-4-4-4-12 hex}}")
    minutes = spec.run_every_minutes
    if minutes is not None and not MIN_RUN_MINUTES <= minutes <= MAX_RUN_MINUTES:
        raise QwcError(
            f"RunEveryNMinutes must be between {MIN_RUN_MINUTES} and {MAX_RUN_MINUTES}, "
            f"not {minutes}"
        )
    seconds = spec.run_every_seconds
    if seconds is not None and not 1 <= seconds <= MAX_RUN_MINUTES * 60:
        raise QwcError(
            f"RunEveryNSeconds must be between 1 and {MAX_RUN_MINUTES * 60}, not {seconds}"
        )
    if not 0 <= spec.auth_flags <= 0xF:
        raise QwcError(f"AuthFlags must be between 0x0 and 0xF, not {spec.auth_flags:#x}")
    if spec.personal_data not in PERSONAL_DATA_PREFS:
        raise QwcError(f"PersonalDataPref must be one of {', '.join(PERSONAL_DATA_PREFS)}")
    if spec.unattended_mode not in UNATTENDED_MODE_PREFS:
        raise QwcError(f"UnattendedModePref must be one of {', '.join(UNATTENDED_MODE_PREFS)}")
    if not user_exists(spec.user_name):
        raise QwcError(
            f"no tenant has the Web Connector user {spec.user_name!r}; the relay would refuse it "
            "(add the tenant first)"
        )
