"""The deliverer's retry queue on SQS: a delayed message per pending webhook delivery.

The message names the delivery only; the delivery log holds the rest. SQS delays a message by
at most 15 minutes, which is the retry policy's cap. Locally the delivery log's
``next_attempt_at`` plays this part (``SqliteDeliveryLog.due``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from ...webhooks.ports import Delivery
from .common import aws_errors, sqs_queue

MAX_DELAY_SECONDS = 900


class SqsRetryQueue:
    """Schedules the next attempt of a delivery as a delayed message on ``url``."""

    def __init__(self, client: Any, url: str, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._url = url
        self._clock = clock
        self._where = sqs_queue(url)

    def schedule(self, delivery: Delivery) -> None:
        """Send the message that brings ``delivery`` back at its ``next_attempt_at``."""
        wait = (delivery.next_attempt_at or 0.0) - self._clock()
        delay = min(MAX_DELAY_SECONDS, max(0, math.ceil(wait)))
        with aws_errors(self._where):
            self._client.send_message(
                QueueUrl=self._url,
                MessageBody=json.dumps({"delivery_id": delivery.id}),
                DelaySeconds=delay,
            )


def delivery_of(body: str) -> str | None:
    """The delivery id a retry message names (None for a message that is not one)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    value = doc.get("delivery_id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) and value else None
