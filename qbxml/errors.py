"""The one exception family the qbXML library raises."""


class QbxmlError(ValueError):
    """Malformed qbXML, or a request that cannot be built as QuickBooks requires."""


class FieldTooLongError(QbxmlError):
    """A field exceeds the maximum length QuickBooks accepts for it."""

    def __init__(self, field: str, limit: int, length: int) -> None:
        super().__init__(f"{field} is {length} characters long; QuickBooks accepts at most {limit}")
        self.field = field
        self.limit = limit
        self.length = length
