"""DeadLetterQueue on SQS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..ports import DeadLetter
from .common import SQS_BATCH, aws_errors, refused, sqs_queue

# SQS caps a message at 256 KB in all; a reason is a line, keep it so.
REASON_CHARS = 4000


class SqsDeadLetterQueue:
    """DeadLetterQueue on the SQS dead-letter queue; the reason travels as a message attribute."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url
        self._where = f"the dead-letter queue ({sqs_queue(queue_url)})"

    def send(self, letters: Sequence[DeadLetter]) -> None:
        for start in range(0, len(letters), SQS_BATCH):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": x.body,
                    "MessageAttributes": {
                        "tenant": {"DataType": "String", "StringValue": x.tenant},
                        "reason": {
                            "DataType": "String",
                            "StringValue": x.reason[:REASON_CHARS] or "-",
                        },
                    },
                }
                for i, x in enumerate(letters[start : start + SQS_BATCH])
            ]
            with aws_errors(f"could not send to {self._where}"):
                result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            if result.get("Failed"):
                raise refused(self._where, result["Failed"])
