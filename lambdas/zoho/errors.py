"""What can go wrong talking to ZOHO, sorted by what the forwarder should do about it."""

from __future__ import annotations


class ZohoError(RuntimeError):
    """Base class; the message is safe to log and show (it never holds a secret)."""


class ZohoConfigError(ZohoError):
    """Needs an operator: bad credentials, missing scope or permission, unknown module or field.

    Retrying cannot help; forwarding for the tenant stops until the setup is fixed. ``code`` is
    ZOHO's error code when ZOHO gave one (``OAUTH_SCOPE_MISMATCH``, ``NO_PERMISSION`` ...).
    """

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class ZohoUnavailable(ZohoError):
    """Transient: timeouts, 5xx, a refresh in progress elsewhere. Retry later."""


class ZohoCreditsExhausted(ZohoError):
    """ZOHO refused for lack of API credits (or repeated 429s suggest so): pause the tenant."""


class ZohoTokenThrottled(ZohoError):
    """ZOHO's accounts server blocked token refreshes; nobody may ask again before ``until``."""

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message)
        self.until = until


class ZohoRequestError(ZohoError):
    """ZOHO refused a whole request (no per-record results), with its code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.zoho_message = message
