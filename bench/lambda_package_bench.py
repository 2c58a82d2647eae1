"""Lambda package size and cold init per function, each measured in a fresh interpreter.

Builds the deployable asset (manylinux2014_aarch64) for the sizes, and the same asset for this
machine's platform for the timings (the aarch64 lxml cannot load here). The asset is zipped the
way the CDK CLI does it (every entry dated 1980-01-01) and unzipped read-only-style (no new .pyc
written), next to a boto3 install standing in for the runtime's own (/var/runtime). Each run is
``python -S -E -B``: nothing from this virtualenv leaks in, and no .pyc is written (/var/task is
read-only).

Reported per function: module import, and import plus the first-call setup the handler caches
(SOAP endpoint and boto3 clients for the relay, the tenant store for the stale check). Lambda's
own runtime start-up is not included; Lambda gives 512 MB about a third of a vCPU, so expect
roughly 3x these figures there.

    python bench/lambda_package_bench.py [--runs 7] [--importtime]
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform as host
import shutil
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra import packaging

# Function -> (handler module, the cached setup function its first invocation runs).
FUNCTIONS = {
    "Relay": ("lambdas.handlers.qbwc_api", "endpoint"),
    "Forwarder": ("lambdas.handlers.zoho_forwarder", None),
    "StaleSync": ("lambdas.handlers.stale_sync", "configuration"),
}
FAKE_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "QBRELAY_ENV": "bench",
    "QBRELAY_TENANTS_TABLE": "tenants",
    "QBRELAY_SESSIONS_TABLE": "sessions",
    "QBRELAY_STATE_TABLE": "state",
    "QBRELAY_MAPPINGS_TABLE": "mappings",
    "QBRELAY_RUNS_TABLE": "runs",
    "QBRELAY_RECORD_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/records",
    "QBRELAY_DLQ_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters",
    "QBRELAY_SECRETS_PREFIX": "qbxml-relay/bench/",
    "POWERTOOLS_SERVICE_NAME": "qbxml-relay",
    "POWERTOOLS_METRICS_NAMESPACE": "QbxmlRelay/bench",
}
PROBE = """
import sys, time
sys.path[:0] = [{task!r}, {runtime!r}]
t0 = time.perf_counter()
import importlib
module = importlib.import_module({module!r})
t1 = time.perf_counter()
if {setup!r}:
    getattr(module, {setup!r})()
t2 = time.perf_counter()
print(f"{{(t1 - t0) * 1000:.1f}} {{(t2 - t0) * 1000:.1f}}")
"""


def host_platform() -> str:
    return (
        "manylinux2014_aarch64"
        if host.machine() in ("aarch64", "arm64")
        else ("manylinux2014_x86_64")
    )


def runtime_stand_in(platform: str) -> Path:
    """boto3 as the Lambda runtime provides it, installed once under build/lambda."""
    dest = packaging.BUILD_ROOT / f"runtime-boto3-{platform}"
    if not dest.is_dir():
        build = dest.with_name(dest.name + ".tmp")
        packaging.install_dependencies(["boto3"], build, packaging.RUNTIME_VERSION, platform)
        compileall.compile_dir(build, quiet=2, workers=1)
        build.rename(dest)
    return dest


def zip_like_cdk(src: Path, archive: Path) -> tuple[int, int, int]:
    """Zip ``src`` with 1980 dates; (zip bytes, unzipped bytes, files)."""
    total = files = 0
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in src.rglob("*") if p.is_file()):
            data = path.read_bytes()
            info = zipfile.ZipInfo(path.relative_to(src).as_posix(), (1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            total += len(data)
            files += 1
    return archive.stat().st_size, total, files


def unzip_like_lambda(archive: Path, dest: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            zf.extract(info, dest)
            os.utime(dest / info.filename, (315532800, 315532800))


def measure(task: Path, runtime: Path, module: str, setup: str | None, runs: int) -> list[tuple]:
    code = PROBE.format(task=str(task), runtime=str(runtime), module=module, setup=setup)
    env = {**FAKE_ENV, "PATH": os.environ.get("PATH", "")}
    out = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-S", "-E", "-B", "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{module}: {done.stderr.strip().splitlines()[-1]}")
        out.append(tuple(float(x) for x in done.stdout.split()))
    return out


def importtime_top(task: Path, runtime: Path, module: str, top: int) -> list[str]:
    code = f"import sys; sys.path[:0] = [{str(task)!r}, {str(runtime)!r}]; import {module}"
    done = subprocess.run(
        [sys.executable, "-S", "-E", "-B", "-X", "importtime", "-c", code],
        env={**FAKE_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines()[1:]:
        _, _, cumulative, name = (part.strip() for part in line.replace("|", ":", 2).split(":"))
        rows.append((int(cumulative), name))
    rows.sort(reverse=True)
    return [f"{us / 1000:8.1f} ms  {name}" for us, name in rows[:top]]


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--importtime",
        type=int,
        default=0,
        metavar="N",
        help="also list the N slowest imports of each handler",
    )
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]} on {host.machine()}, {os.cpu_count()} CPUs")

    deployed = packaging.build_asset()
    local = packaging.build_asset(platform=host_platform())
    runtime = runtime_stand_in(host_platform())
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        zipped, unzipped, files = zip_like_cdk(deployed.path, tmp_path / "deployed.zip")
        print(
            f"package (shared by every function, {packaging.LAMBDA_PLATFORM}): "
            f"{zipped / 2**20:.1f} MiB zipped, {unzipped / 2**20:.1f} MiB unzipped, "
            f"{files} files"
        )
        zip_like_cdk(local.path, tmp_path / "local.zip")
        task = tmp_path / "task"
        unzip_like_lambda(tmp_path / "local.zip", task)
        # What pip's timestamp .pyc files amount to after the 1980 zip: nothing usable.
        bare = tmp_path / "bare"
        unzip_like_lambda(tmp_path / "local.zip", bare)
        for cache in [p for p in bare.rglob("__pycache__") if p.is_dir()]:
            shutil.rmtree(cache)
        print(
            f"\n{'function':<10} {'import ms':>16} {'import + setup ms':>20}"
            f" {'same, no usable .pyc':>22}"
        )
        for name, (module, setup) in FUNCTIONS.items():
            if not (task / (module.replace(".", "/") + ".py")).is_file():
                print(f"{name:<10} {'(handler not in this checkout)':>45}")
                continue
            samples = measure(task, runtime, module, setup, args.runs)
            stale = measure(bare, runtime, module, setup, args.runs)
            print(
                f"{name:<10} {spread([s[0] for s in samples]):>16} "
                f"{spread([s[1] for s in samples]):>20} {spread([s[1] for s in stale]):>22}"
            )
            if args.importtime:
                for row in importtime_top(task, runtime, module, args.importtime):
                    print(f"{'':<12}{row}")
    print(f"\nmedian (min-max) of {args.runs} fresh interpreters each")


if __name__ == "__main__":
    main()
