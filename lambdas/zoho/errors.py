"""What can go wrong talking to ZOHO, sorted by what the forwarder should do about it."""

from __future__ import annotations

from ..model.errors import ErrorInfo, classify_text, error_info


class ZohoError(RuntimeError):
    """Base class; the message is safe to log and show (it never holds a secret)."""

    def error_info(self) -> ErrorInfo:
        """The catalogue entry of this error (ZOHO's code when the message names one)."""
        info = classify_text(str(self))
        if info is None or not info.code.startswith("ZOHO_"):
            return error_info("ZOHO_ERROR", str(self))
        return info


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

    def error_info(self) -> ErrorInfo:
        return error_info("ZOHO_UNAVAILABLE", str(self))


class ZohoCreditsExhausted(ZohoError):
    """ZOHO refused for lack of API credits (or repeated 429s suggest so): pause the tenant."""

    def error_info(self) -> ErrorInfo:
        return error_info("ZOHO_CREDITS_EXHAUSTED", str(self))


class ZohoTokenThrottled(ZohoError):
    """ZOHO's accounts server blocked token refreshes; nobody may ask again before ``until``."""

    def __init__(self, message: str, until: float) -> None:
        super().__init__(message)
        self.until = until

    def error_info(self) -> ErrorInfo:
        return error_info("ZOHO_UNAVAILABLE", str(self))


class ZohoRequestError(ZohoError):
    """ZOHO refused a whole request (no per-record results), with its code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.zoho_message = message

    def error_info(self) -> ErrorInfo:
        known = classify_text(self.code)
        code = known.code if known is not None and known.code.startswith("ZOHO_") else ""
        return error_info(code or "ZOHO_ERROR", str(self))
