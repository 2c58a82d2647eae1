"""The Lambda lock file: exactly pyproject's runtime dependencies, pinned and hashed."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra import packaging

REPO = Path(__file__).resolve().parents[2]


def test_the_lock_covers_exactly_pyprojects_runtime_dependencies() -> None:
    lock = packaging.read_lock()
    assert packaging.lock_problems(lock) == []
    direct = {n for n, e in lock.entries.items() if packaging.DIRECT in e.via}
    wanted = {canonicalize_name(Requirement(r).name) for r in packaging.runtime_requirements()}
    assert direct == wanted
    assert "legacy-cgi" in direct  # its marker evaluated for python3.13, not this machine
    assert not set(lock.entries) & {*packaging.LEFT_OUT, *packaging.FORBIDDEN, "botocore"}
    assert lock.target == f"cp313 {packaging.LAMBDA_PLATFORM}"
    for entry in lock.entries.values():
        assert entry.hashes and all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in entry.hashes)


def test_every_locked_version_is_past_the_floors_pyproject_sets() -> None:
    lock = packaging.read_lock()
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    floors = {Requirement(d).name: Requirement(d).specifier for d in declared}
    assert floors["requests"].contains("2.32.4") and not floors["requests"].contains("2.32.3")
    assert floors["waitress"].contains("3.0.1") and not floors["waitress"].contains("3.0.0")
    for name in ("requests", "lxml", "spyne", "aws-lambda-powertools", "tzdata"):
        assert floors[name].contains(lock.entries[canonicalize_name(name)].version), name


def write_pyproject(tmp_path: Path, dependencies: list[str]) -> Path:
    path = tmp_path / "pyproject.toml"
    deps = ", ".join(f'"{d}"' for d in dependencies)
    path.write_text(f'[project]\nname = "x"\nversion = "0"\ndependencies = [{deps}]\n')
    return path


def declared_dependencies() -> list[str]:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return list(declared)


def test_drift_between_pyproject_and_the_lock_is_named(tmp_path: Path) -> None:
    lock = packaging.read_lock()
    deps = [
        d for d in declared_dependencies() if not d.startswith("tzdata")
    ]  # removed from pyproject
    deps = [("requests>=99" if d.startswith("requests") else d) for d in deps]  # floor raised
    deps.append("attrs>=23")  # added to pyproject
    problems = packaging.lock_problems(lock, pyproject=write_pyproject(tmp_path, deps))
    text = "\n".join(problems)
    assert "attrs>=23 is not in the lock" in text
    assert "does not satisfy requests>=99" in text
    assert "tzdata is locked as direct" in text


def test_locked_extras_left_out_and_unhashed_entries_are_named() -> None:
    lock = packaging.read_lock()
    entries = dict(lock.entries)
    entries["boto3"] = packaging.Locked("boto3", "1.40.0", ("sha256:" + "0" * 64,), ("requests",))
    entries["six"] = packaging.Locked("six", "1.17.0", ("sha256:" + "0" * 64,), ("nothing",))
    entries["idna"] = packaging.Locked("idna", entries["idna"].version, (), ("requests",))
    text = "\n".join(packaging.lock_problems(packaging.Lock(lock.target, entries)))
    assert "boto3 must not be in the Lambda package" in text
    assert "six is locked, but nothing pyproject asks for needs it" in text
    assert "idna has no hash" in text
    other = packaging.Lock("cp312 manylinux2014_x86_64", lock.entries)
    assert any("not cp313" in p for p in packaging.lock_problems(other))


def test_read_lock_round_trips_the_format(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    path.write_text(
        "# comment\n# target: cp313 manylinux2014_aarch64\n"
        "Typing_Extensions==4.12.0 \\\n    --hash=sha256:aa \\\n    --hash=sha256:bb\n"
        "    # via aws-lambda-powertools, pyproject.toml\n"
    )
    lock = packaging.read_lock(path)
    assert lock.target == "cp313 manylinux2014_aarch64"
    assert lock.entries == {
        "typing-extensions": packaging.Locked(
            "typing-extensions",
            "4.12.0",
            ("sha256:aa", "sha256:bb"),
            ("aws-lambda-powertools", "pyproject.toml"),
        )
    }
    path.write_text("requests>=2\n")
    with pytest.raises(packaging.PackagingError, match="not an exact pin"):
        packaging.read_lock(path)


def test_a_stale_lock_stops_the_build_before_any_download(tmp_path: Path) -> None:
    stale = tmp_path / "stale.lock"
    text = packaging.LOCK.read_text()
    stale.write_text(re.sub(r"(?m)^requests==\S+", "requests==2.31.0", text))
    with pytest.raises(packaging.PackagingError, match=r"requests==2.31.0 does not satisfy"):
        packaging.build_asset(root=tmp_path / "build", lock=stale)
    assert not (tmp_path / "build").exists()


def test_the_dependency_cache_is_keyed_by_the_lock(tmp_path: Path) -> None:
    a, b = tmp_path / "a.lock", tmp_path / "b.lock"
    a.write_text(packaging.LOCK.read_text())
    b.write_text(packaging.LOCK.read_text().replace("sha256:", "sha256:0", 1))
    args = (packaging.LAMBDA_PLATFORM, packaging.RUNTIME_VERSION, True)
    assert packaging.dependencies_key(a, *args) != packaging.dependencies_key(b, *args)
    assert packaging.dependencies_key(a, *args) == packaging.dependencies_key(a, *args)
