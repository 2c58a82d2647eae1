"""Errors of the QuickBooks Online layer. Messages are safe to show: never a token or secret."""

from __future__ import annotations


class QboError(RuntimeError):
    """A QuickBooks Online call failed.

    ``code`` is Intuit's error code ("3200", "5010", "invalid_grant", or the HTTP status when
    the body had none), ``intuit_tid`` the transaction id Intuit support asks for, and
    ``retryable`` whether the same call may succeed later unchanged.
    """

    def __init__(
        self, code: str, message: str, intuit_tid: str = "", retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.intuit_tid = intuit_tid
        self.retryable = retryable


class QboConfigError(QboError):
    """The QuickBooks Online settings are missing or invalid (the message names the fix)."""

    def __init__(self, message: str) -> None:
        super().__init__("config", message)


class QboNeedsReconnect(QboError):
    """The company must be connected again (invalid_grant, revoked, hard expiry, no tokens)."""

    def __init__(self, message: str, intuit_tid: str = "", code: str = "needs_reconnect") -> None:
        super().__init__(code, message, intuit_tid, retryable=False)


class QboThrottled(QboError):
    """Intuit kept answering 429 (or the realm's limit kept it waiting) past the budget."""

    def __init__(self, message: str, intuit_tid: str = "", retry_after: float = 60.0) -> None:
        super().__init__("3001", message, intuit_tid, retryable=True)
        self.retry_after = retry_after


class QboUnavailable(QboError):
    """Intuit answered 5xx (or did not answer) after the client's bounded backoff."""

    def __init__(self, message: str, intuit_tid: str = "", code: str = "unavailable") -> None:
        super().__init__(code, message, intuit_tid, retryable=True)


class QboNoAnswer(QboUnavailable):
    """No answer came (timeouts, dropped connections) within the client's retries.

    For a write this means its outcome is unknown: Intuit may have applied it. Only the same
    ``requestid`` again (Intuit then answers with the first answer) or a read-back tells."""

    def __init__(self, message: str, intuit_tid: str = "") -> None:
        super().__init__(message, intuit_tid, code="no_answer")


class OAuthStateRefused(QboError):
    """An OAuth callback whose ``state`` is unknown, used already, expired or for another app."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid_state", message)


class CdcWindowTooLarge(QboError):
    """A change-data-capture answer was saturated (1,000 objects): split the window.

    ``entity``: the saturated entity when known ("" when the cap held across the entities asked
    for); the catch-up splits the entity list first, then one entity's time window."""

    def __init__(self, message: str, intuit_tid: str = "", entity: str = "") -> None:
        super().__init__("cdc_window_too_large", message, intuit_tid)
        self.entity = entity


class CdcWindowExpired(QboError):
    """``changed_since`` is older than CDC's 30-day look-back: a full read is needed."""

    def __init__(self, message: str) -> None:
        super().__init__("cdc_window_expired", message)
