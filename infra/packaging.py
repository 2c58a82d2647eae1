"""The Lambda code asset, built offline without Docker: our packages plus their dependencies.

Dependencies come from the lock file ``infra/lambda-requirements.lock``: every distribution of
pyproject.toml's ``dependencies`` (markers evaluated for the Lambda runtime) and what they need,
each at an exact version with its sha256, installed for Lambda's platform with ``pip install
--require-hashes --platform``. ``python -m infra.packaging lock`` (``make lock``) writes it, by
asking pip to resolve for the runtime rather than for the machine doing the build. spyne has no
wheel on PyPI: the lock holds its sdist's hash, and the wheel is built locally from that
hash-checked sdist first (it is pure Python). Everything is byte-compiled with
``--invalidation-mode checked-hash``: the CDK CLI zips assets with 1980 timestamps, which makes
pip's timestamp-checked .pyc files look stale, and Lambda (read-only /var/task) would recompile
them at every cold start.

Builds are cached under ``build/lambda`` by a content hash of the inputs, so a synth with nothing
changed costs one directory walk. ``python -m infra.packaging`` builds and prints the asset path.
"""

from __future__ import annotations

import compileall
import hashlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import tomllib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO / "build" / "lambda"
LOCK = REPO / "infra" / "lambda-requirements.lock"
RUNTIME_VERSION = (3, 13)
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_TASK_ROOT = "/var/task"
# Bump when the build steps change, so cached builds are not reused.
BUILD_FORMAT = "3"

CODE_PACKAGES = ("qbxml", "qwc", "lambdas")
# The local process (waitress server, qbrelay CLI) is never deployed.
CODE_EXCLUDED = ("lambdas/local",)
# Distributions of pyproject's dependencies that the Lambda package leaves out, and why.
LEFT_OUT = {
    "waitress": "the local process's HTTP server",
    "tqdm": "the local CLI's progress bars",
    # The runtime ships boto3; the code uses only long-stable client calls, and bundling it
    # would add 33 MB (botocore alone is 30 MB) to every function.
    "boto3": "provided by the python3.13 Lambda runtime",
}
# Must never be in the package: spyne imports werkzeug when it can, +20-30 ms cold start.
FORBIDDEN = ("werkzeug",)
# On PyPI as sdist only: built into a wheel locally (pure Python, so any platform).
SDIST_ONLY = ("spyne",)
# Files a running function never reads: scripts, test suites, C headers and Cython sources.
PRUNED_DIRS = ("bin", "spyne/test", "lxml/includes")
PRUNED_SUFFIXES = (".pyx", ".pxd", ".pxi", ".h", ".c")


class PackagingError(RuntimeError):
    """The asset could not be built; the message says which step failed."""


@dataclass(frozen=True, slots=True)
class Asset:
    """A built asset directory and the content hash that names it."""

    path: Path
    digest: str


def target_environment(python_version: tuple[int, int], platform: str) -> dict[str, str]:
    """Marker values for Lambda's Linux runtime (not the machine doing the build)."""
    env = default_environment()
    version = f"{python_version[0]}.{python_version[1]}"
    machine = "aarch64" if platform.endswith("aarch64") else "x86_64"
    env.update(
        python_version=version,
        python_full_version=f"{version}.0",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine=machine,
        os_name="posix",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    return env


def runtime_requirements(
    pyproject: Path = REPO / "pyproject.toml",
    python_version: tuple[int, int] = RUNTIME_VERSION,
    platform: str = LAMBDA_PLATFORM,
) -> list[str]:
    """pyproject's dependencies that apply on the runtime, minus LEFT_OUT, without markers."""
    declared = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    env = target_environment(python_version, platform)
    out = []
    for spec in declared:
        req = Requirement(spec)
        if req.name.lower() in LEFT_OUT or (req.marker and not req.marker.evaluate(env)):
            continue
        req.marker = None
        out.append(str(req))
    return sorted(out)


def _pip(*args: str) -> None:
    cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise PackagingError(f"{' '.join(cmd[2:5])} … failed:\n{done.stdout}\n{done.stderr}")


def _platform_args(python_version: tuple[int, int], platform: str) -> list[str]:
    return [
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        f"{python_version[0]}.{python_version[1]}",
        "--only-binary=:all:",
    ]


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


# The lock file: pip's requirements format (``name==version`` with ``--hash`` options), each
# entry followed by ``# via`` naming what needs it (DIRECT: pyproject.toml itself).
DIRECT = "pyproject.toml"
_TARGET_PREFIX = "# target: "


def lock_target(python_version: tuple[int, int], platform: str) -> str:
    return f"cp{python_version[0]}{python_version[1]} {platform}"


@dataclass(frozen=True, slots=True)
class Locked:
    """One distribution in the lock file."""

    name: str  # canonical (PEP 503) name
    version: str
    hashes: tuple[str, ...]
    via: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lock:
    target: str
    entries: dict[str, Locked]


def read_lock(path: Path = LOCK) -> Lock:
    """Parse a lock file written by ``write_lock``."""
    target = ""
    entries: dict[str, Locked] = {}
    current: dict | None = None

    def close() -> None:
        if current is not None:
            entries[current["name"]] = Locked(
                current["name"], current["version"], tuple(current["hashes"]), tuple(current["via"])
            )

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if not line:
            continue
        if raw.startswith(_TARGET_PREFIX):
            target = raw.removeprefix(_TARGET_PREFIX).strip()
        elif raw.startswith("#"):
            continue
        elif not raw[0].isspace():
            close()
            name, sep, version = line.partition("==")
            if not sep:
                raise PackagingError(f"{path.name}: not an exact pin: {raw!r}")
            current = {"name": canonicalize_name(name), "version": version.strip()}
            current.update(hashes=[], via=[])
        elif current is None:
            raise PackagingError(f"{path.name}: an option outside an entry: {raw!r}")
        elif line.startswith("--hash="):
            current["hashes"].append(line.removeprefix("--hash="))
        elif line.startswith("# via "):
            current["via"].extend(v.strip() for v in line.removeprefix("# via ").split(","))
    close()
    return Lock(target, entries)


def lock_problems(
    lock: Lock,
    python_version: tuple[int, int] = RUNTIME_VERSION,
    platform: str = LAMBDA_PLATFORM,
    pyproject: Path = REPO / "pyproject.toml",
) -> list[str]:
    """Why ``lock`` does not match pyproject's runtime dependencies (empty when it does).

    The direct entries must be exactly pyproject's dependencies for the runtime (markers
    evaluated, LEFT_OUT removed) at versions their specifiers allow; every other entry must be
    needed, through its ``# via``, by something pyproject asks for; nothing left out or forbidden
    may be locked; every entry carries a hash.
    """
    problems = []
    target = lock_target(python_version, platform)
    if lock.target != target:
        problems.append(f"locked for {lock.target or 'an unnamed target'}, not {target}")
    wanted = {
        canonicalize_name(r.name): r
        for r in map(Requirement, runtime_requirements(pyproject, python_version, platform))
    }
    for name, req in sorted(wanted.items()):
        entry = lock.entries.get(name)
        if entry is None:
            problems.append(f"{req} is not in the lock")
            continue
        if not req.specifier.contains(Version(entry.version), prereleases=True):
            problems.append(f"{name}=={entry.version} does not satisfy {req}")
        if DIRECT not in entry.via:
            problems.append(f"{name} is not marked as a direct dependency (via {DIRECT})")
    reached = set(wanted)
    grew = True
    while grew:
        grew = False
        for name, entry in lock.entries.items():
            if name not in reached and reached & set(entry.via):
                reached.add(name)
                grew = True
    for name, entry in sorted(lock.entries.items()):
        if DIRECT in entry.via and name not in wanted:
            problems.append(f"{name} is locked as direct, but pyproject does not ask for it here")
        elif name not in reached:
            problems.append(f"{name} is locked, but nothing pyproject asks for needs it")
        if name in LEFT_OUT or name in FORBIDDEN:
            problems.append(f"{name} must not be in the Lambda package")
        if not entry.hashes:
            problems.append(f"{name} has no hash")
    return problems


def write_lock(
    path: Path = LOCK,
    python_version: tuple[int, int] = RUNTIME_VERSION,
    platform: str = LAMBDA_PLATFORM,
) -> Lock:
    """Resolve pyproject's runtime dependencies for the Lambda platform and write the lock.

    pip resolves as it installs for the target (``--dry-run --report``), so markers and wheel
    choices are the runtime's, not this machine's. Hashes are those of the files pip picks for
    the target; for SDIST_ONLY distributions, of the sdist the wheel is built from.
    """
    requirements = runtime_requirements(python_version=python_version, platform=platform)
    env = {**target_environment(python_version, platform), "extra": ""}
    with tempfile.TemporaryDirectory(prefix="qbrelay-lock-") as tmp:
        work = Path(tmp)
        wheels = work / "wheels"
        sdist_hashes = {}
        for spec in requirements:
            name = canonicalize_name(Requirement(spec).name)
            if name not in SDIST_ONLY:
                continue
            sdists = work / "sdist" / name
            _pip("download", "--quiet", "--no-deps", "--no-binary=:all:", "-d", str(sdists), spec)
            (sdist,) = sdists.iterdir()
            sdist_hashes[name] = _sha256(sdist)
            _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), str(sdist))
        report = work / "report.json"
        _pip(
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            "--target",
            str(work / "target"),
            *_platform_args(python_version, platform),
            *(["--find-links", str(wheels)] if sdist_hashes else []),
            *requirements,
        )
        items = json.loads(report.read_text())["install"]
    direct = {canonicalize_name(Requirement(r).name) for r in requirements}
    needs: dict[str, set[str]] = {}
    entries = {}
    for item in items:
        meta = item["metadata"]
        name = canonicalize_name(meta["name"])
        for spec in meta.get("requires_dist") or ():
            req = Requirement(spec)
            if not req.marker or req.marker.evaluate(env):
                needs.setdefault(canonicalize_name(req.name), set()).add(name)
        if name in sdist_hashes:
            digest = sdist_hashes[name]
        else:
            hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
            if "sha256" not in hashes:
                raise PackagingError(f"pip reported no sha256 for {name}")
            digest = "sha256:" + hashes["sha256"]
        entries[name] = (meta["version"], digest)
    lock = Lock(
        lock_target(python_version, platform),
        {
            name: Locked(
                name,
                version,
                (digest,),
                tuple(([DIRECT] if name in direct else []) + sorted(needs.get(name, ()))),
            )
            for name, (version, digest) in sorted(entries.items())
        },
    )
    lines = [
        "# The Lambda package's dependencies: exact versions and sha256 hashes of the files pip",
        "# installs for the runtime. Written by `make lock` (python -m infra.packaging lock) from",
        "# pyproject.toml's dependencies; do not edit by hand. infra/packaging.py installs from it",
        "# with --require-hashes. SDIST_ONLY distributions (spyne) carry their sdist's hash:",
        "# the wheel is built locally from the hash-checked sdist.",
        f"{_TARGET_PREFIX}{lock.target}",
    ]
    for entry in lock.entries.values():
        lines.append(f"{entry.name}=={entry.version} \\")
        lines.extend(f"    --hash={h}" for h in entry.hashes)
        lines.append(f"    # via {', '.join(entry.via)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lock


def install_dependencies(
    lock: Path, dest: Path, python_version: tuple[int, int], platform: str
) -> None:
    """Install the locked distributions for the Lambda platform into ``dest``, hash-checked."""
    work = dest.parent / f"{dest.name}.wheels"
    shutil.rmtree(work, ignore_errors=True)
    wheels = work / "wheels"
    wheels.mkdir(parents=True)
    lines = []
    for entry in read_lock(lock).entries.values():
        pin = f"{entry.name}=={entry.version}"
        hashes = " ".join(f"--hash={h}" for h in entry.hashes)
        if entry.name in SDIST_ONLY:
            # pip checks the sdist against the lock's hash before building the wheel from it.
            sdist_req = work / f"{entry.name}.txt"
            sdist_req.write_text(f"{pin} {hashes}\n")
            _pip(
                "wheel",
                "--quiet",
                "--no-deps",
                "--require-hashes",
                f"--no-binary={entry.name}",
                "--wheel-dir",
                str(wheels),
                "-r",
                str(sdist_req),
            )
            built = [
                w
                for w in wheels.glob("*.whl")
                if canonicalize_name(w.name.split("-")[0]) == entry.name
            ]
            if len(built) != 1:
                raise PackagingError(f"building {pin} gave {[w.name for w in built]}")
            hashes = f"--hash={_sha256(built[0])}"
        lines.append(f"{pin} {hashes}")
    requirements = work / "requirements.txt"
    requirements.write_text("\n".join(lines) + "\n")
    # --require-hashes also makes pip refuse any dependency the lock does not pin.
    _pip(
        "install",
        "--quiet",
        "--no-compile",
        "--require-hashes",
        "--target",
        str(dest),
        *_platform_args(python_version, platform),
        "--find-links",
        str(wheels),
        "-r",
        str(requirements),
    )
    shutil.rmtree(work, ignore_errors=True)
    present = sorted(name for name in FORBIDDEN if (dest / name).exists())
    if present:
        raise PackagingError(f"the Lambda package must not contain {', '.join(present)}")
    for rel in PRUNED_DIRS:
        shutil.rmtree(dest / rel, ignore_errors=True)
    for path in dest.rglob("*"):
        if path.suffix in PRUNED_SUFFIXES and path.is_file():
            path.unlink()


def code_files() -> Iterator[tuple[Path, str]]:
    """The project files that go into the asset: (absolute path, path inside the asset)."""
    for package in CODE_PACKAGES:
        base = REPO / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(REPO).as_posix()
            if (
                path.is_file()
                and "__pycache__" not in path.parts
                and path.suffix != ".pyc"
                and not any(rel == ex or rel.startswith(ex + "/") for ex in CODE_EXCLUDED)
            ):
                yield path, rel


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def byte_compile(directory: Path, asset_root: Path) -> None:
    """Compile every module with hash-checked .pyc files, which survive 1980-dated zips.

    Tracebacks name the files where Lambda unpacks them (/var/task), not the build directory.
    """
    with warnings.catch_warnings():
        # spyne 2.14.0 has invalid escape sequences in a few strings; harmless, known upstream.
        warnings.simplefilter("ignore", SyntaxWarning)
        ok = compileall.compile_dir(
            directory,
            quiet=2,
            force=True,
            workers=1,
            stripdir=str(asset_root),
            prependdir=LAMBDA_TASK_ROOT,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
    if not ok:
        raise PackagingError(f"byte-compiling {directory} failed")


def _replace_dir(build: Path, final: Path, kind: str) -> None:
    """Move a finished build into place and drop older builds of the same kind."""
    try:
        build.rename(final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(build, ignore_errors=True)  # a concurrent build finished first
    for old in final.parent.glob(f"{kind}-*"):
        if old != final and old.is_dir():
            shutil.rmtree(old, ignore_errors=True)


def dependencies_key(
    lock: Path, platform: str, python_version: tuple[int, int], compiled: bool
) -> str:
    """The cache key of an installed dependency set: the build steps and the lock's bytes."""
    setup = "\n".join([BUILD_FORMAT, platform, f"{python_version}", str(compiled)]).encode()
    return _digest(setup, lock.read_bytes())


def _dependencies(
    lock: Path,
    platform: str,
    python_version: tuple[int, int],
    compiled: bool,
    root: Path,
) -> Path:
    """The installed (and compiled) dependencies, cached by the lock file and the build steps."""
    key = dependencies_key(lock, platform, python_version, compiled)
    deps = root / f"deps-{platform}-{key[:16]}"
    if not deps.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        build = root / f".{deps.name}.{os.getpid()}"
        shutil.rmtree(build, ignore_errors=True)
        install_dependencies(lock, build, python_version, platform)
        if compiled:
            byte_compile(build, build)
        _replace_dir(build, deps, f"deps-{platform}")
    return deps


def build_asset(
    *,
    with_dependencies: bool = True,
    platform: str = LAMBDA_PLATFORM,
    python_version: tuple[int, int] = RUNTIME_VERSION,
    root: Path = BUILD_ROOT,
    lock: Path = LOCK,
) -> Asset:
    """Build (or reuse) the asset directory for ``platform``.

    The digest covers the code, the lock file and the dependencies' installed versions (their
    dist-info names), so a newer locked release of a dependency is a new asset, uploaded on the
    next deploy. The lock must match pyproject's runtime dependencies (``lock_problems``).
    ``with_dependencies=False`` gives the project's code alone: what infrastructure tests use,
    since they check the template, not the package, and must not need the network.
    """
    compiled = sys.version_info[:2] == python_version
    files = list(code_files())
    parts = [rel.encode() + b"\0" + path.read_bytes() for path, rel in files]
    deps = None
    if with_dependencies:
        if not compiled:
            print(
                f"warning: building with Python {sys.version_info[0]}.{sys.version_info[1]}, "
                f"not {python_version[0]}.{python_version[1]}: the asset ships without "
                "bytecode and Lambda will compile at every cold start",
                file=sys.stderr,
            )
        problems = lock_problems(read_lock(lock), python_version, platform)
        if problems:
            raise PackagingError(
                f"{lock.name} does not match pyproject.toml ({'; '.join(problems)}): run make lock"
            )
        deps = _dependencies(lock, platform, python_version, compiled, root)
        installed = sorted(p.name for p in deps.iterdir())
        parts.append(f"{BUILD_FORMAT} {platform} {compiled}\n{installed}".encode())
        parts.append(lock.read_bytes())
    digest = _digest(*parts)
    kind = f"asset-{platform}" if with_dependencies else "code"
    final = root / f"{kind}-{digest[:16]}"
    if final.is_dir():
        return Asset(final, digest)
    root.mkdir(parents=True, exist_ok=True)
    build = root / f".{final.name}.{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    if deps is not None:
        shutil.copytree(deps, build)
    else:
        build.mkdir()
    for path, rel in files:
        target = build / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    if compiled and deps is not None:
        for package in CODE_PACKAGES:
            if (build / package).is_dir():
                byte_compile(build / package, build)
    _replace_dir(build, final, kind)
    return Asset(final, digest)


def main(argv: list[str] | None = None) -> None:
    """Build the deployable asset and print its directory; ``lock``: rewrite the lock file."""
    args = sys.argv[1:] if argv is None else argv
    if args == ["lock"]:
        lock = write_lock()
        print(f"{LOCK.relative_to(REPO)}: {len(lock.entries)} distributions for {lock.target}")
    elif not args:
        print(build_asset().path)
    else:
        sys.exit("usage: python -m infra.packaging [lock]")


if __name__ == "__main__":
    main()
