"""Data at rest: the local data directory is 0700 and every file in it 0600, whatever the umask."""

from __future__ import annotations

import logging
import multiprocessing
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lambdas.store.files import FileSecretStore, FileTokenCache
from lambdas.store.payloads import FolderPayloadStore
from lambdas.store.ports import StoreError, ZohoToken
from lambdas.store.sqlite import SqliteDatabase, SqliteRecordQueue
from lambdas.store.sqlite.database import DB_FILE


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def permissive_umask(request) -> Iterator[int]:
    """Run the test under a umask that would leave new files group/world-readable."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def every_entry(root: Path) -> list[Path]:
    return [root, *root.rglob("*")]


def test_database_directory_file_wal_and_shm_are_owner_only(tmp_path, permissive_umask) -> None:
    data = tmp_path / "data"
    db = SqliteDatabase.in_dir(data)
    SqliteRecordQueue(db).send([])  # a write: the WAL and shared-memory files exist now
    db.connection().execute("CREATE TABLE t (x)")
    db.connection().execute("INSERT INTO t VALUES (1)")
    wal, shm = data / (DB_FILE + "-wal"), data / (DB_FILE + "-shm")
    assert wal.exists() and shm.exists()
    assert mode(data) == 0o700
    assert mode(data / DB_FILE) == mode(wal) == mode(shm) == 0o600
    db.close()


def test_every_file_of_a_used_data_directory_is_owner_only(tmp_path, permissive_umask) -> None:
    data = tmp_path / "data"
    db = SqliteDatabase.in_dir(data)
    FileSecretStore.in_dir(data).put("zoho/acme", {"client_secret": "x"})
    FolderPayloadStore.in_dir(data).put("acme/Customer/abc.json", b"{}")
    tokens = FileTokenCache.in_dir(data)
    assert tokens.try_lease("acme", "a", now=1.0, seconds=30)
    tokens.save("acme", "a", ZohoToken("1000.tok", "https://z.example", 3700.0))
    entries = every_entry(data)
    assert {p.name for p in entries} >= {
        "secrets.json",
        "zoho-tokens.json",
        "abc.json",
        DB_FILE + "-wal",
    }
    wrong = {str(p): oct(mode(p)) for p in entries if mode(p) != (0o700 if p.is_dir() else 0o600)}
    assert wrong == {}
    db.close()


def test_loose_data_directory_and_database_are_tightened_with_a_warning(tmp_path, caplog) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    sqlite3.connect(data / DB_FILE).close()  # as an earlier release left it
    os.chmod(data / DB_FILE, 0o644)
    leftover = data / (DB_FILE + "-wal")
    leftover.write_bytes(b"")
    os.chmod(leftover, 0o644)
    caplog.set_level(logging.WARNING)
    SqliteDatabase.in_dir(data).close()
    assert mode(data) == 0o700 and mode(data / DB_FILE) == 0o600
    assert not leftover.exists() or mode(leftover) == 0o600
    assert "tightened to 0700" in caplog.text and "tightened to 0600" in caplog.text


def test_the_old_token_table_is_dropped(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    with sqlite3.connect(data / DB_FILE) as conn:
        conn.execute("CREATE TABLE zoho_tokens (tenant TEXT PRIMARY KEY, token TEXT)")
        conn.execute("INSERT INTO zoho_tokens VALUES ('acme', '{\"access_token\": \"1000.x\"}')")
    conn.close()
    db = SqliteDatabase.in_dir(data)
    names = {r[0] for r in db.connection().execute("SELECT name FROM sqlite_master")}
    assert "zoho_tokens" not in names
    db.close()


def test_payload_folders_are_owner_only_at_every_level(tmp_path, permissive_umask) -> None:
    root = tmp_path / "payloads"
    store = FolderPayloadStore(root)
    store.put("acme/Invoice/deep/x.json", b"{}")
    assert store.get("acme/Invoice/deep/x.json") == b"{}"
    assert [oct(mode(p)) for p in every_entry(root) if p.is_dir()] == [oct(0o700)] * 4
    assert mode(root / "acme/Invoice/deep/x.json") == 0o600


def test_token_cache_files_are_owner_only_and_a_readable_one_is_refused(
    tmp_path, permissive_umask
) -> None:
    cache = FileTokenCache.in_dir(tmp_path / "data")
    assert cache.try_lease("acme", "a", now=1.0, seconds=30)
    cache.save("acme", "a", ZohoToken("1000.tok", "https://z.example", 3700.0))
    assert mode(cache.path) == 0o600
    assert all(mode(p) == 0o600 for p in cache.path.parent.iterdir())
    os.chmod(cache.path, 0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        cache.load("acme")


def _race(path: str, holder: str, start: Any, results: Any) -> None:
    start.wait()
    results.put(FileTokenCache(path).try_lease("acme", holder, now=100.0, seconds=30))


def test_token_lease_admits_one_refresher_across_processes(tmp_path) -> None:
    path = str(tmp_path / "zoho-tokens.json")
    ctx = multiprocessing.get_context("spawn")  # fork from a threaded pytest may deadlock
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(path, f"p{i}", start, results)) for i in range(6)]
    for proc in procs:
        proc.start()
    start.set()
    won = [results.get(timeout=30) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
    assert won.count(True) == 1
    # The winner's lease is on file: nobody else gets it until it expires.
    assert FileTokenCache(path).try_lease("acme", "late", now=101.0, seconds=30) is False
    assert FileTokenCache(path).try_lease("acme", "late", now=131.0, seconds=30) is True
