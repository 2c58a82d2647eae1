"""The one error the .qwc library raises."""

from __future__ import annotations


class QwcError(ValueError):
    """A .qwc file would break a rule the Web Connector enforces; the message says which."""
