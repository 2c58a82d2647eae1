"""Local SecretStore and TokenCache: JSON files in the data directory, readable by their owner.

The secrets file maps secret names to JSON objects. It is created with mode 0600 and written
atomically (a private temporary file renamed over it); a file that group or others can read is
refused, since its secrets may already have leaked and the operator should know.

The ZOHO access tokens minted from those secrets live beside them in ``zoho-tokens.json``, with
the same protection, rather than in the general database: an access token is as good as the
credentials for its hour, and it should sit where the secrets sit.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

from .ports import StoreError, ZohoToken
from .private import create_private_file, private_dir

SECRETS_FILE = "secrets.json"
TOKENS_FILE = "zoho-tokens.json"

T = TypeVar("T")


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
        return _read_private_json(self.path, "the secrets file", "the secrets it holds")

    def _write(self, data: dict[str, Any]) -> None:
        _write_private_json(self.path, data, ".secrets-")

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


def _read_private_json(path: Path, what: str, rotate: str) -> dict[str, Any]:
    """The JSON object in ``path`` ({} if missing); refused if group or others can read it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise StoreError(f"cannot open {what} {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "r", encoding="utf-8") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StoreError(
                f"refusing to read {path}: it is accessible to group or others "
                f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}` and consider "
                f"rotating {rotate}"
            )
        try:
            data = json.load(fh)
        except ValueError as exc:
            raise StoreError(f"{what} {path} is not valid JSON") from exc
    if not isinstance(data, dict):
        raise StoreError(f"{what} {path} does not hold a JSON object")
    return data


def _write_private_json(path: Path, data: dict[str, Any], prefix: str) -> None:
    """Replace ``path`` atomically with ``data`` (mode 0600, in a 0700 directory)."""
    private_dir(path.parent)
    # mkstemp creates the file with mode 0600, so the contents are never briefly exposed.
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, sort_keys=True, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileTokenCache:
    """TokenCache on ``<data dir>/zoho-tokens.json`` (mode 0600), beside the secrets file.

    The file maps a tenant to ``{"token": {...} | null, "lease_holder": str | null,
    "lease_until": float}``. Every read-modify-write holds an exclusive ``flock`` on a separate
    lock file, so the lease admits one refresher across the serve, forwarder and CLI processes
    (and threads: each call opens its own descriptor, and flock locks of different open files
    exclude each other). The lock is on a separate file because the data file is replaced by
    rename, which would leave a lock on the old inode guarding nothing. Plain loads need no
    lock: the rename makes every read see one whole version.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name("." + self.path.name + ".lock")

    @classmethod
    def in_dir(cls, data_dir: Path | str) -> FileTokenCache:
        """The token cache of a data directory."""
        return cls(Path(data_dir) / TOKENS_FILE)

    def _read(self) -> dict[str, Any]:
        return _read_private_json(self.path, "the ZOHO token cache", "the ZOHO credentials")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.path.parent)
        create_private_file(self._lock_path)
        fd = os.open(self._lock_path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Apply ``change`` to the file's data under the lock; written only if it changed."""
        with self._locked():
            data = self._read()
            before = json.dumps(data, sort_keys=True)
            result = change(data)
            if json.dumps(data, sort_keys=True) != before:
                _write_private_json(self.path, data, ".zoho-tokens-")
            return result

    def load(self, tenant: str) -> ZohoToken | None:
        """The tenant's cached token, or None."""
        entry = self._read().get(tenant)
        token = entry.get("token") if isinstance(entry, dict) else None
        return ZohoToken(**token) if isinstance(token, dict) else None

    def try_lease(self, tenant: str, holder: str, now: float, seconds: float) -> bool:
        """Take the refresh lease if nobody holds an unexpired one (or ``holder`` does)."""

        def take(data: dict[str, Any]) -> bool:
            entry = data.setdefault(tenant, {"token": None})
            other = entry.get("lease_holder")
            if other and other != holder and float(entry.get("lease_until", 0)) > now:
                return False
            entry["lease_holder"], entry["lease_until"] = holder, now + seconds
            return True

        return self._update(take)

    def save(self, tenant: str, holder: str, token: ZohoToken) -> None:
        """Store the token and release ``holder``'s lease (if it still holds it)."""

        def store(data: dict[str, Any]) -> None:
            entry = data.setdefault(tenant, {})
            entry["token"] = asdict(token)
            _drop_lease(entry, holder)

        self._update(store)

    def release(self, tenant: str, holder: str) -> None:
        """Give the lease back without a new token (the refresh failed)."""
        self._update(lambda data: _drop_lease(data.get(tenant) or {}, holder))

    def delete_tenant(self, tenant: str) -> None:
        """Forget the tenant's cached token, refresh block and lease (idempotent)."""
        self._update(lambda data: data.pop(tenant, None))


def _drop_lease(entry: dict[str, Any], holder: str) -> None:
    if entry.get("lease_holder") == holder:
        entry["lease_holder"], entry["lease_until"] = None, 0.0
