"""ChangeQueue on an SQS FIFO queue, one message group per realm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..batching import sized_batches
from ..qbo_ports import QueuedChange, ReceivedChange
from .common import SQS_BATCH, aws_errors, refused, sqs_queue


def _size(c: QueuedChange) -> int:
    return len(c.body.encode("utf-8")) + len(c.realm) + len("realmString")


class SqsChangeQueue:
    """ChangeQueue on SQS FIFO: the realm is the message group, so SQS hands one realm's
    messages to one consumer at a time, in order, while other realms' go to others; the
    dedup id is SQS's deduplication id (a repeated send within five minutes is dropped)."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url
        self._where = f"the QuickBooks Online change queue ({sqs_queue(queue_url)})"

    def send(self, changes: Sequence[QueuedChange]) -> None:
        for chunk in sized_batches(changes, _size):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": c.body,
                    "MessageGroupId": c.realm,
                    "MessageDeduplicationId": c.dedup_id,
                    "MessageAttributes": {"realm": {"DataType": "String", "StringValue": c.realm}},
                }
                for i, c in enumerate(chunk)
            ]
            with aws_errors(f"could not send to {self._where}"):
                result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            if result.get("Failed"):
                raise refused(self._where, result["Failed"])

    def receive(self, max_messages: int = 10) -> list[ReceivedChange]:
        with aws_errors(f"could not receive from {self._where}"):
            result = self._client.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=min(max_messages, SQS_BATCH),
                MessageAttributeNames=["All"],
                AttributeNames=["ApproximateReceiveCount", "MessageDeduplicationId"],
                WaitTimeSeconds=0,
            )
        out = []
        for m in result.get("Messages", []):
            attrs = m.get("Attributes", {})
            realm = m.get("MessageAttributes", {}).get("realm", {}).get("StringValue", "")
            out.append(
                ReceivedChange(
                    QueuedChange(realm, m["Body"], attrs.get("MessageDeduplicationId", "")),
                    receipt=m["ReceiptHandle"],
                    deliveries=int(attrs.get("ApproximateReceiveCount") or 1),
                )
            )
        return out

    def delete(self, receipts: Sequence[str]) -> None:
        for start in range(0, len(receipts), SQS_BATCH):
            chunk = receipts[start : start + SQS_BATCH]
            with aws_errors(f"could not delete from {self._where}"):
                self._client.delete_message_batch(
                    QueueUrl=self._url,
                    Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
                )
