"""PayloadStore adapters: claim-checked records in a folder of the data directory, or in S3.

A record too large for one queue message is stored here under a key derived from its identity
and content hash, and the message carries only the key. Objects are written whole (atomically
in the folder) and expire with the queue's retention (an S3 lifecycle rule on AWS; ``prune``
locally), so nothing needs deleting on the hot path.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .ports import StoreError
from .private import private_dir

PAYLOADS_DIR = "payloads"
# SQS keeps a message 14 days at most; a payload need not outlive its message.
RETENTION_SECONDS = 14 * 24 * 3600
_SAFE_KEY = re.compile(r"^[A-Za-z0-9._:@#=+-]+(/[A-Za-z0-9._:@#=+-]+)*$")


def check_key(key: str) -> str:
    """``key`` if it is a safe relative object key (no ``..``, no absolute path)."""
    if not _SAFE_KEY.match(key) or any(part in ("", ".", "..") for part in key.split("/")):
        raise StoreError(f"not a payload key: {key!r}")
    return key


class FolderPayloadStore:
    """PayloadStore in ``<data dir>/payloads``: directories 0700, files 0600.

    Payloads are queued customer records, so every directory level is created owner-only
    (``mkdir(parents=True)`` would give the intermediate ones the default mode) and files come
    from ``mkstemp``, which creates them 0600 whatever the umask.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> FolderPayloadStore:
        """The payload folder of a data directory."""
        return cls(Path(data_dir) / PAYLOADS_DIR)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        try:
            folder = private_dir(self.root)
            for part in path.parent.relative_to(self.root).parts:
                folder = private_dir(folder / part)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise StoreError(f"could not store payload {key}: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"could not read payload {key}: {exc.strerror or exc}") from exc

    def prune(self, now: float | None = None, older_than: float = RETENTION_SECONDS) -> int:
        """Delete payloads older than the queue's retention; how many were deleted."""
        cutoff = (now if now is not None else time.time()) - older_than
        removed = 0
        for path in self.root.rglob("*.json") if self.root.exists() else ():
            if path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


class S3PayloadStore:
    """PayloadStore in an S3 bucket (SSE and TLS-only by the bucket's policy)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "records/") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix

    def put(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=self._prefix + check_key(key),
                Body=data,
                ContentType="application/json",
                ServerSideEncryption="AES256",
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(
                f"S3 bucket {self._bucket}: could not store {key}: {_code(exc)}"
            ) from exc

    def get(self, key: str) -> bytes | None:
        try:
            reply = self._client.get_object(Bucket=self._bucket, Key=self._prefix + check_key(key))
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                return None
            raise StoreError(
                f"S3 bucket {self._bucket}: could not read {key}: {_code(exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise StoreError(f"S3 bucket {self._bucket}: could not read {key}: {exc}") from exc
        return reply["Body"].read()


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return str(exc)
