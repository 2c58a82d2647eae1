"""qbXML error recovery as the simulated company keeps it (Intuit's ErrRecovery1-3 samples).

A message set sent with ``newMessageSetID="X"`` is processed and its responses saved under X.
A later message set with ``oldMessageSetID="X" newMessageSetID="X"`` and no requests is answered
with the saved responses of X, ``messageSetStatusCode="0"``. ``oldMessageSetID="X"`` alone clears
the saved status of X. For an X nothing is saved under, the answer has no responses and the
status ``UNKNOWN_MESSAGE_SET``: the samples do not show that case, so that code is this
simulator's assumption (a consumer must treat any nonzero code as "no saved status").
``keep=False`` makes the company keep nothing (as a QuickBooks that lost or never kept the
status), so every recovery finds none.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

UNKNOWN_MESSAGE_SET = 9001  # assumption: see the module docstring


class MessageSets:
    """The saved responses of message sets, by newMessageSetID."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.saved: dict[str, list[str]] = {}

    def save(self, message_set_id: str, responses: list[str]) -> None:
        """Keep the responses of the message set just processed."""
        if self.keep:
            self.saved[message_set_id] = list(responses)

    def recover(self, old_id: str, new_id: str | None) -> tuple[list[str], dict[str, str]]:
        """(responses, QBXMLMsgsRs attributes) of a recovery message set (no requests)."""
        if new_id is None:
            self.saved.pop(old_id, None)
            return [], {}
        saved = self.saved.get(old_id)
        if saved is None:
            return [], {"newMessageSetID": new_id, "messageSetStatusCode": str(UNKNOWN_MESSAGE_SET)}
        return saved, {"newMessageSetID": new_id, "messageSetStatusCode": "0"}


def msgs_attributes(attrs: dict[str, str]) -> str:
    """The attribute text of a ``QBXMLMsgsRs`` start tag."""
    return "".join(f" {name}={quoteattr(value)}" for name, value in attrs.items())
