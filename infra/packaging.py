"""The Lambda code asset, built offline without Docker: our packages plus their dependencies.

Dependencies come from pyproject.toml's ``dependencies`` (markers evaluated for the Lambda
runtime), installed as wheels for Lambda's platform with ``pip install --platform``. spyne has no
wheel on PyPI, so it is built locally first (it is pure Python). Everything is byte-compiled with
``--invalidation-mode checked-hash``: the CDK CLI zips assets with 1980 timestamps, which makes
pip's timestamp-checked .pyc files look stale, and Lambda (read-only /var/task) would recompile
them at every cold start.

Builds are cached under ``build/lambda`` by a content hash of the inputs, so a synth with nothing
changed costs one directory walk. ``python -m infra.packaging`` builds and prints the asset path.
"""

from __future__ import annotations

import compileall
import hashlib
import os
import py_compile
import shutil
import subprocess
import sys
import tomllib
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parent.parent
BUILD_ROOT = REPO / "build" / "lambda"
RUNTIME_VERSION = (3, 13)
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_TASK_ROOT = "/var/task"
# Bump when the build steps change, so cached builds are not reused.
BUILD_FORMAT = "2"

CODE_PACKAGES = ("qbxml", "qwc", "lambdas")
# The local process (waitress server, qbrelay CLI) is never deployed.
CODE_EXCLUDED = ("lambdas/local",)
# Distributions of pyproject's dependencies that the Lambda package leaves out, and why.
LEFT_OUT = {
    "waitress": "the local process's HTTP server",
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


def install_dependencies(
    requirements: list[str], dest: Path, python_version: tuple[int, int], platform: str
) -> None:
    """Install ``requirements`` for the Lambda platform into ``dest`` (wheels only)."""
    wheels = dest.parent / f"{dest.name}.wheels"
    local = [r for r in requirements if Requirement(r).name.lower() in SDIST_ONLY]
    if local:
        _pip("wheel", "--quiet", "--no-deps", "--wheel-dir", str(wheels), *local)
    _pip(
        "install",
        "--quiet",
        "--no-compile",
        "--target",
        str(dest),
        "--platform",
        platform,
        "--implementation",
        "cp",
        "--python-version",
        f"{python_version[0]}.{python_version[1]}",
        "--only-binary=:all:",
        *(["--find-links", str(wheels)] if local else []),
        *requirements,
    )
    shutil.rmtree(wheels, ignore_errors=True)
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


def _dependencies(
    requirements: list[str],
    platform: str,
    python_version: tuple[int, int],
    compiled: bool,
    root: Path,
) -> Path:
    """The installed (and compiled) dependencies, cached by what was asked for."""
    setup = "\n".join(
        [BUILD_FORMAT, platform, f"{python_version}", str(compiled), *requirements]
    ).encode()
    deps = root / f"deps-{platform}-{_digest(setup)[:16]}"
    if not deps.is_dir():
        root.mkdir(parents=True, exist_ok=True)
        build = root / f".{deps.name}.{os.getpid()}"
        shutil.rmtree(build, ignore_errors=True)
        install_dependencies(requirements, build, python_version, platform)
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
) -> Asset:
    """Build (or reuse) the asset directory for ``platform``.

    The digest covers the code and the dependencies' resolved versions (their dist-info names),
    so a newer release of a dependency is a new asset, uploaded on the next deploy.
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
        requirements = runtime_requirements(python_version=python_version, platform=platform)
        deps = _dependencies(requirements, platform, python_version, compiled, root)
        installed = sorted(p.name for p in deps.iterdir())
        parts.append(f"{BUILD_FORMAT} {platform} {compiled}\n{installed}".encode())
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


def main() -> None:
    """Build the deployable asset and print its directory."""
    print(build_asset().path)


if __name__ == "__main__":
    main()
