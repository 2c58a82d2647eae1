"""DeadLetterQueue on SQS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..batching import sized_batches
from ..ports import DeadLetter, HeldLetter
from .common import SQS_BATCH, aws_errors, refused, sqs_queue

# A letter is the original message (within the envelope's headroom of the 256 KiB limit) plus
# its reason: a reason is a line, and must fit in that headroom.
REASON_CHARS = 1000


def _letter_bytes(x: DeadLetter) -> int:
    return (
        len(x.body.encode()) + len(x.tenant.encode()) + len(x.reason[:REASON_CHARS].encode()) + 64
    )


class SqsDeadLetterQueue:
    """DeadLetterQueue on the SQS dead-letter queue; the reason travels as a message attribute."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url
        self._where = f"the dead-letter queue ({sqs_queue(queue_url)})"

    def send(self, letters: Sequence[DeadLetter]) -> None:
        for chunk in list(sized_batches(letters, _letter_bytes)):
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
                        "parked_at": {"DataType": "Number", "StringValue": repr(x.parked_at)},
                    },
                }
                for i, x in enumerate(chunk)
            ]
            with aws_errors(f"could not send to {self._where}"):
                result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            if result.get("Failed"):
                raise refused(self._where, result["Failed"])

    def hold(self, limit: int = 100, seconds: float = 60.0) -> list[HeldLetter]:
        out: list[HeldLetter] = []
        while len(out) < limit:
            with aws_errors(f"could not receive from {self._where}"):
                reply = self._client.receive_message(
                    QueueUrl=self._url,
                    MaxNumberOfMessages=min(SQS_BATCH, limit - len(out)),
                    VisibilityTimeout=int(seconds),
                    MessageAttributeNames=["All"],
                    WaitTimeSeconds=0,
                )
            messages = reply.get("Messages", [])
            if not messages:
                break
            for m in messages:
                attrs = m.get("MessageAttributes", {})

                def value(name: str, attrs: dict[str, Any] = attrs) -> str:
                    return str(attrs.get(name, {}).get("StringValue", ""))

                letter = DeadLetter(
                    tenant=value("tenant"),
                    body=m["Body"],
                    # SQS moved it here by itself (maxReceiveCount): no reason attribute.
                    reason=value("reason") or "moved by SQS after maxReceiveCount receives",
                    parked_at=float(value("parked_at") or 0.0),
                )
                out.append(HeldLetter(letter, m["ReceiptHandle"]))
        return out

    def release(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), SQS_BATCH):
            chunk = receipts[start : start + SQS_BATCH]
            with aws_errors(f"could not release messages of {self._where}"):
                self._client.change_message_visibility_batch(
                    QueueUrl=self._url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
                        for i, r in enumerate(chunk)
                    ],
                )

    def remove(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), SQS_BATCH):
            chunk = receipts[start : start + SQS_BATCH]
            with aws_errors(f"could not delete from {self._where}"):
                self._client.delete_message_batch(
                    QueueUrl=self._url,
                    Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
                )
