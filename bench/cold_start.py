"""Cold start: each Lambda entry module imported in a fresh interpreter from the packaged asset.

The asset is built by ``infra.packaging`` (hash-checked .pyc) for this machine's platform (the
deployed aarch64 lxml cannot load here), from a lock resolved for that platform under
build/lambda; it is zipped as the CDK CLI does (entries dated 1980) and unzipped, next to a
boto3 install standing in for the runtime's own. Every run is ``python -S -E -B`` (nothing from
this virtualenv, no .pyc written: /var/task is read-only), timed from process start to exit.
``python -c pass``, ``import boto3, lxml.etree`` and every handler are run in turn, round after
round, and each figure is the median of its runs. Lambda's own runtime start-up is not included.
"""

from __future__ import annotations

import compileall
import os
import platform as host
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from infra import packaging

from .suite import Result, Sizes, handler_modules

TARGET = 1.5
# What the functions' configuration gives them (infra/functions.py); enough for module import.
FAKE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "QBRELAY_ENV": "bench",
    "QBRELAY_TENANTS_TABLE": "tenants",
    "QBRELAY_SESSIONS_TABLE": "sessions",
    "QBRELAY_STATE_TABLE": "state",
    "QBRELAY_MAPPINGS_TABLE": "mappings",
    "QBRELAY_RUNS_TABLE": "runs",
    "QBRELAY_WEBHOOKS_TABLE": "webhooks",
    "QBRELAY_RECORD_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/records",
    "QBRELAY_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters",
    "QBRELAY_WEBHOOK_RETRY_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/retry",
    "QBRELAY_SECRETS_PREFIX": "qbxml-relay/bench/",
    "POWERTOOLS_SERVICE_NAME": "qbxml-relay",
    "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/bench",
}
BASELINE = "import boto3, lxml.etree"


def host_platform() -> str:
    """The manylinux tag of this machine, for an asset whose C extensions load here."""
    return (
        "manylinux2014_aarch64"
        if host.machine() in ("aarch64", "arm64")
        else ("manylinux2014_x86_64")
    )


def host_asset() -> Path:
    """The packaged asset for this machine's platform (lock and build cached in build/lambda)."""
    platform = host_platform()
    if platform == packaging.LAMBDA_PLATFORM:
        return packaging.build_asset().path
    lock = packaging.BUILD_ROOT / f"bench-{platform}.lock"
    stale = not lock.is_file() or packaging.lock_problems(
        packaging.read_lock(lock), platform=platform
    )
    if stale:
        packaging.BUILD_ROOT.mkdir(parents=True, exist_ok=True)
        packaging.write_lock(lock, platform=platform)
    return packaging.build_asset(platform=platform, lock=lock).path


def runtime_stand_in() -> Path:
    """boto3 as the Lambda runtime provides it (compiled), installed once under build/lambda."""
    platform = host_platform()
    dest = packaging.BUILD_ROOT / f"runtime-boto3-{platform}"
    if not dest.is_dir():
        build = dest.with_name(dest.name + ".tmp")
        packaging._pip(
            "install",
            "--quiet",
            "--no-compile",
            "--target",
            str(build),
            *packaging._platform_args(packaging.RUNTIME_VERSION, platform),
            "boto3",
        )
        compileall.compile_dir(build, quiet=2, workers=1)
        build.rename(dest)
    return dest


def unpacked_like_lambda(asset: Path, dest: Path) -> Path:
    """``asset`` zipped with 1980 dates and unzipped into ``dest``, as /var/task gets it."""
    archive = dest / "asset.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for path in sorted(p for p in asset.rglob("*") if p.is_file()):
            zf.writestr(
                zipfile.ZipInfo(path.relative_to(asset).as_posix(), (1980, 1, 1, 0, 0, 0)),
                path.read_bytes(),
            )
    task = dest / "task"
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            zf.extract(info, task)
            os.utime(task / info.filename, (315532800, 315532800))
    archive.unlink()
    return task


def launch_seconds(code: str, paths: list[Path]) -> float:
    """Wall seconds of one fresh ``python -S -E -B`` running ``code`` with ``paths`` first."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in paths]!r}\n" if paths else ""
    env = {**FAKE_ENV, "PATH": os.environ.get("PATH", "")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-S", "-E", "-B", "-c", prelude + code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{code!r}: {done.stderr.strip().splitlines()[-1]}")
    return seconds


def measure(paths: list[Path], modules: list[str], runs: int) -> dict[str, float]:
    """Median seconds of each probe over ``runs`` interleaved rounds."""
    probes = {"pass": "pass", "baseline": BASELINE}
    probes.update({m: f"import {m}" for m in modules})
    samples: dict[str, list[float]] = {name: [] for name in probes}
    for _ in range(runs):
        for name, code in probes.items():
            samples[name].append(launch_seconds(code, paths))
    return {name: statistics.median(values) for name, values in samples.items()}


def run(sizes: Sizes) -> list[Result]:
    """The cold-start rows: the baseline against ``python -c pass``, then every handler."""
    asset = host_asset()
    runtime = runtime_stand_in()
    modules = handler_modules()
    with tempfile.TemporaryDirectory() as tmp:
        task = unpacked_like_lambda(asset, Path(tmp))
        medians = measure([task, runtime], modules, sizes.cold_runs)
    base, bare = medians["baseline"], medians["pass"]
    results = [
        Result(
            "cold.boto3",
            base / bare,
            f"{base / bare:.2f}x",
            f"{base * 1000:.0f} ms vs {bare * 1000:.0f} ms",
            None,
            {"seconds": {"pass": bare, "baseline": base}},
        )
    ]
    for module in modules:
        seconds = medians[module]
        ratio = seconds / base
        results.append(
            Result(
                f"cold.{module.rsplit('.', 1)[1]}",
                ratio,
                f"{ratio:.2f}x",
                f"{seconds * 1000:.0f} ms vs {base * 1000:.0f} ms (median of {sizes.cold_runs})",
                ratio <= TARGET,
                {"seconds": seconds},
            )
        )
    return results
