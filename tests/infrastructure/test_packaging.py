"""The offline Lambda packaging: what goes in, what stays out, and how it is compiled."""

from __future__ import annotations

import ast
import compileall
import importlib.util
import marshal
import os
import py_compile
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from infra import packaging
from tests.infrastructure.conftest import Synth, resources

REPO = Path(__file__).resolve().parents[2]


def pyc_flags(pyc: Path) -> int:
    """PEP 552 flags: 0 timestamp, 1 unchecked hash, 3 checked hash."""
    return int.from_bytes(pyc.read_bytes()[4:8], "little")


def test_runtime_requirements_for_the_lambda_runtime() -> None:
    reqs = packaging.runtime_requirements()
    names = {r.split("=")[0].split(">")[0].split("<")[0] for r in reqs}
    assert {"spyne", "lxml", "aws-lambda-powertools", "requests", "legacy-cgi"} <= names
    assert not names & {"waitress", "boto3", "werkzeug"}
    assert not any(";" in r for r in reqs)  # markers evaluated for the runtime, then dropped


def test_markers_follow_the_target_python() -> None:
    on_312 = packaging.runtime_requirements(python_version=(3, 12))
    assert not any(r.startswith("legacy-cgi") for r in on_312)


def test_code_asset_holds_the_packages_but_not_the_local_process(tmp_path: Path) -> None:
    asset = packaging.build_asset(with_dependencies=False, root=tmp_path)
    files = {p.relative_to(asset.path).as_posix() for p in asset.path.rglob("*") if p.is_file()}
    assert "lambdas/handlers/qbwc_api.py" in files
    assert "lambdas/handlers/stale_sync.py" in files
    assert "lambdas/handlers/zoho_forwarder.py" in files
    assert "lambdas/handlers/audit.py" in files
    assert "lambdas/handlers/overdue.py" in files
    assert "qbxml/parser.py" in files
    assert not any(f.startswith(("lambdas/local/", "tests/", "sim/", "infra/")) for f in files)
    assert not any("__pycache__" in f for f in files)
    # Same inputs, same directory: a rebuild is a cache hit.
    assert packaging.build_asset(with_dependencies=False, root=tmp_path) == asset


def stack_handlers(synth: Synth) -> set[str]:
    """Every handler path the stack's functions name."""
    return {f["Properties"]["Handler"] for f in resources(synth, "AWS::Lambda::Function").values()}


def test_every_handler_the_stack_names_is_in_the_asset(dev: Synth, tmp_path: Path) -> None:
    asset = packaging.build_asset(with_dependencies=False, root=tmp_path)
    handlers = stack_handlers(dev)
    assert len(handlers) == 11  # QboOAuth and QboWebhook share lambdas.handlers.qbo_api
    for handler in handlers:
        module, _, name = handler.rpartition(".")
        source = asset.path / (module.replace(".", "/") + ".py")
        assert source.is_file(), handler
        tree = ast.parse(source.read_text(encoding="utf-8"))
        defined = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert name in defined, handler


def test_every_handler_the_stack_names_imports_from_the_asset(dev: Synth, tmp_path: Path) -> None:
    """Imported as Lambda does, from the asset (with the dev environment's dependencies)."""
    asset = packaging.build_asset(with_dependencies=False, root=tmp_path)
    script = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(asset.path)!r})\n"
        "for handler in sys.argv[1:]:\n"
        "    module, _, name = handler.rpartition('.')\n"
        "    loaded = importlib.import_module(module)\n"
        f"    assert loaded.__file__.startswith({str(asset.path)!r}), loaded.__file__\n"
        "    assert callable(getattr(loaded, name)), handler\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_LAMBDA_"))}
    done = subprocess.run(
        [sys.executable, "-c", script, *sorted(stack_handlers(dev))],
        cwd=tmp_path,
        env={**env, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_bytecode_is_hash_checked_and_names_the_lambda_path(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "mod.py").write_text("def f():\n    return 1\n")
    packaging.byte_compile(package, tmp_path)
    (pyc,) = (package / "__pycache__").glob("mod.*.pyc")
    assert pyc_flags(pyc) == 3
    code = marshal.loads(pyc.read_bytes()[16:])
    assert code.co_filename == "/var/task/pkg/mod.py"


def zip_1980(src: Path, archive: Path, dest: Path) -> None:
    """Zip ``src`` the way the CDK CLI does (every entry dated 1980-01-01), then unzip it."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), (1980, 1, 1, 0, 0, 0))
            zf.writestr(info, path.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            zf.extract(info, dest)
            # extract() leaves the current time: restore the entry's date, as Lambda's does.
            os.utime(dest / info.filename, (315532800, 315532800))


def still_valid(pyc: Path, source: Path) -> bool:
    """The import system's check of a .pyc against its source (PEP 552)."""
    data = pyc.read_bytes()
    if pyc_flags(pyc) & 1:
        return data[8:16] == importlib.util.source_hash(source.read_bytes())
    mtime = int(source.stat().st_mtime) & 0xFFFFFFFF
    return int.from_bytes(data[8:12], "little") == mtime


def test_checked_hash_bytecode_survives_a_1980_zip(tmp_path: Path) -> None:
    """Why checked-hash: after the CLI's zip, timestamp .pyc files are stale, hashed ones not."""
    src = tmp_path / "src"
    for name, hashed in (("hashed", True), ("stamped", False)):
        (src / name).mkdir(parents=True)
        (src / name / "__init__.py").write_text("VALUE = 42\n")
        if hashed:
            packaging.byte_compile(src / name, src)
        else:
            compileall.compile_dir(
                src / name, quiet=2, invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP
            )
    zip_1980(src, tmp_path / "asset.zip", tmp_path / "task")
    for name, survives in (("hashed", True), ("stamped", False)):
        pkg = tmp_path / "task" / name
        (pyc,) = (pkg / "__pycache__").glob("*.pyc")
        assert still_valid(pyc, pkg / "__init__.py") is survives, name


@pytest.mark.slow
def test_full_asset_for_lambda_arm64(tmp_path: Path) -> None:
    """Downloads wheels from PyPI: the real bundle, as make synth builds it."""
    asset = packaging.build_asset(root=tmp_path)
    root = asset.path
    assert (root / "spyne" / "__init__.py").is_file()
    assert (root / "cgi.py").is_file()  # legacy-cgi, for python3.13
    assert list((root / "lxml").glob("etree.cpython-313-aarch64-linux-gnu.so"))
    for absent in ("werkzeug", "waitress", "boto3", "botocore", "bin", "spyne/test"):
        assert not (root / absent).exists(), absent
    pycs = list(root.rglob("*.pyc"))
    assert len(pycs) > 500 and all(pyc_flags(p) == 3 for p in pycs)
