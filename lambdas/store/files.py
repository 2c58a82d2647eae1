"""Local SecretStore: one JSON file per data directory, readable by its owner only.

The file maps secret names to JSON objects. It is created with mode 0600 and written atomically
(a private temporary file renamed over it); a file that group or others can read is refused, since
its secrets may already have leaked and the operator should know.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
from pathlib import Path
from typing import Any

from .ports import StoreError

SECRETS_FILE = "secrets.json"


class FileSecretStore:
    """SecretStore on ``<data dir>/secrets.json`` (mode 0600)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> FileSecretStore:
        """The secrets file of a data directory."""
        return cls(Path(data_dir) / SECRETS_FILE)

    def _read(self) -> dict[str, Any]:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise StoreError(f"cannot open the secrets file {self.path}: {exc.strerror}") from exc
        with os.fdopen(fd, "r", encoding="utf-8") as fh:
            mode = os.fstat(fh.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise StoreError(
                    f"refusing to read {self.path}: it is accessible to group or others "
                    f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {self.path}` and consider "
                    "rotating the secrets it holds"
                )
            try:
                data = json.load(fh)
            except ValueError as exc:
                raise StoreError(f"the secrets file {self.path} is not valid JSON") from exc
        if not isinstance(data, dict):
            raise StoreError(f"the secrets file {self.path} does not hold a JSON object")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600, so the secrets are never briefly exposed.
        fd, tmp = tempfile.mkstemp(prefix=".secrets-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, sort_keys=True, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> dict[str, Any] | None:
        """The secret called ``name``, or None."""
        with self._lock:
            value = self._read().get(name)
        return dict(value) if isinstance(value, dict) else None

    def put(self, name: str, value: dict[str, Any]) -> None:
        """Create or replace the secret called ``name``."""
        with self._lock:
            data = self._read()
            data[name] = value
            self._write(data)

    def delete(self, name: str) -> bool:
        """Remove the secret; False if there was none."""
        with self._lock:
            data = self._read()
            if name not in data:
                return False
            del data[name]
            self._write(data)
        return True
