"""RecordQueue on SQS."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..batching import batches, message_group
from ..ports import QueueMessage, ReceivedMessage
from .common import SQS_BATCH, aws_errors, refused, sqs_queue


class SqsRecordQueue:
    """RecordQueue on SQS: batches of at most 10 messages and 256 KiB (``store.batching``).

    Every message carries its tenant as its MessageGroupId, which makes the standard queue a
    fair queue: when one tenant's backlog takes a disproportionate share of the forwarders'
    capacity, SQS delivers the quiet tenants' messages first (ordering and throughput stay
    those of a standard queue).
    """

    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url
        self._where = f"the record queue ({sqs_queue(queue_url)})"

    def send(self, messages: Sequence[QueueMessage]) -> None:
        for chunk in list(batches(messages)):
            entries = [
                {
                    "Id": str(i),
                    "MessageBody": m.body,
                    "MessageGroupId": message_group(m.tenant),
                    "MessageAttributes": {
                        "tenant": {"DataType": "String", "StringValue": m.tenant},
                        # SQS refuses an empty attribute value.
                        "dedup_id": {"DataType": "String", "StringValue": m.dedup_id or "-"},
                    },
                }
                for i, m in enumerate(chunk)
            ]
            with aws_errors(f"could not send to {self._where}"):
                result = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
            if result.get("Failed"):
                raise refused(self._where, result["Failed"])

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]:
        with aws_errors(f"could not receive from {self._where}"):
            result = self._client.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=min(max_messages, SQS_BATCH),
                MessageAttributeNames=["All"],
                AttributeNames=["ApproximateReceiveCount"],
                WaitTimeSeconds=0,
            )
        out = []
        for m in result.get("Messages", []):
            attrs = m.get("MessageAttributes", {})
            out.append(
                ReceivedMessage(
                    QueueMessage(
                        tenant=attrs.get("tenant", {}).get("StringValue", ""),
                        dedup_id=attrs.get("dedup_id", {}).get("StringValue", ""),
                        body=m["Body"],
                    ),
                    receipt=m["ReceiptHandle"],
                    deliveries=int(m.get("Attributes", {}).get("ApproximateReceiveCount") or 1),
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
