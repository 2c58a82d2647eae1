"""The relay's way to the write-back capture on AWS: a synchronous invocation of the capture
function (lambdas/handlers/writeback_capture.py) for one tenant, bounded in time.

The relay holds no ZOHO credential; asking the capture function keeps it that way while the
session's plan still gets ZOHO's latest changes. A slow or failing capture costs the session
at most ``CAPTURE_TIMEOUT_SECONDS`` and never fails it (lambdas/writeback/runner.before_plan).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..store.ports import Tenant

# Within API Gateway's 29 s for authenticate, with room for the relay's own work.
CAPTURE_TIMEOUT_SECONDS = 10


class CaptureFailed(RuntimeError):
    """The capture function answered with an error."""


def invoke_capture(client: Any, function_name: str) -> Callable[[Tenant], None]:
    """A function that runs the capture for one tenant through ``function_name``."""

    def capture(tenant: Tenant) -> None:
        reply = client.invoke(
            FunctionName=function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps({"tenant": tenant.name}).encode(),
        )
        if reply.get("FunctionError"):
            raise CaptureFailed(f"the capture function failed: {reply['FunctionError']}")

    return capture


def lambda_client() -> Any:
    """A Lambda client that waits at most CAPTURE_TIMEOUT_SECONDS and does not retry."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=3,
        read_timeout=CAPTURE_TIMEOUT_SECONDS,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.client("lambda", config=config)
