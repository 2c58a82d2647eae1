"""``make audit``: known vulnerabilities in this environment and in the Lambda lock file.

Runs pip-audit twice: over the installed environment (the dev virtualenv, which is what ``make
demo`` and the local process run on) and over ``infra/lambda-requirements.lock`` (what is
deployed). The advisory database is PyPI's JSON API by default, OSV with ``AUDIT_SERVICE=osv``.

pip-audit takes a package the database does not answer for as "not found" and skips it, so an
unreachable or filtered database could pass as a clean audit. Hence a canary first: a release
with published advisories must come back with them. Exit codes:

- 0: nothing known;
- 1: known vulnerabilities (listed);
- 2: pip-audit itself failed;
- 3: the advisory database cannot be reached (nothing, or not everything, was audited).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from infra.packaging import LOCK, REPO

CLEAN, VULNERABLE, FAILED, UNREACHABLE = 0, 1, 2, 3
# A release with long-published advisories (CVE-2023-32681, CVE-2024-35195, CVE-2024-47081).
CANARY = ("requests", "2.31.0")
SERVICES = {
    "pypi": "PyPI's JSON API (https://pypi.org/pypi/<name>/<version>/json)",
    "osv": "OSV (https://api.osv.dev)",
}
TIMEOUT_SECONDS = 15
# pip-audit's words for a dependency it could not look up (not one it chose to skip).
NOT_AUDITED = ("could not be audited", "not found on pypi")


class Unreachable(Exception):
    """The advisory database did not answer as one that holds advisories."""


def canary(service: str) -> None:
    """Ask the database about CANARY; raise Unreachable unless it lists advisories."""
    name, version = CANARY
    if service == "osv":
        body = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version})
        request = urllib.request.Request(
            "https://api.osv.dev/v1/query",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
        )
        key = "vulns"
    else:
        request = urllib.request.Request(f"https://pypi.org/pypi/{name}/{version}/json")
        key = "vulnerabilities"
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"HTTP {exc.code} for {name} {version}") from exc
    except (OSError, ValueError) as exc:  # URLError, timeouts, TLS, a page that is not JSON
        raise Unreachable(str(getattr(exc, "reason", exc))) from exc
    if not answer.get(key):
        raise Unreachable(f"no advisories returned for {name} {version}, which has some")


def pip_audit(service: str, *args: str) -> dict:
    """Run pip-audit with JSON output; raise Unreachable or RuntimeError when it fails."""
    with tempfile.TemporaryDirectory(prefix="qbrelay-audit-") as tmp:
        out = Path(tmp) / "audit.json"
        cmd = [
            sys.executable,
            "-m",
            "pip_audit",
            "--progress-spinner=off",
            "--vulnerability-service",
            service,
            "--timeout",
            str(TIMEOUT_SECONDS),
            "--format=json",
            "--output",
            str(out),
            *args,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
        if done.returncode not in (0, 1) or not out.is_file():
            err = done.stderr.strip()
            last = err.splitlines()[-1] if err else f"exit code {done.returncode}"
            lowered = err.lower()
            if any(w in lowered for w in ("connection", "timed out", "resolve", "ssl", "http")):
                raise Unreachable(last)
            raise RuntimeError(f"pip-audit {' '.join(args)} failed: {last}")
        return json.loads(out.read_text())


def report(label: str, result: dict) -> tuple[int, list[str]]:
    """Print the findings of one scan; return (vulnerabilities, packages not audited)."""
    found = 0
    not_audited = []
    deps = result.get("dependencies", [])
    for dep in deps:
        reason = dep.get("skip_reason")
        if reason:
            if any(w in reason.lower() for w in NOT_AUDITED):
                not_audited.append(dep["name"])
            continue
        for vuln in dep.get("vulns", []):
            found += 1
            aliases = ", ".join(vuln.get("aliases", []))
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            print(
                f"{label}: {dep['name']} {dep['version']}: {vuln['id']}"
                f"{f' ({aliases})' if aliases else ''}; fixed in {fixes}"
            )
    audited = len(deps) - len(not_audited)
    print(f"{label}: {audited} packages audited, {found} known vulnerabilities")
    return found, not_audited


def main() -> int:
    service = os.environ.get("AUDIT_SERVICE", "pypi")
    if service not in SERVICES:
        print(f"audit: AUDIT_SERVICE must be one of {', '.join(SERVICES)}", file=sys.stderr)
        return FAILED
    scans = {
        # Our own project is installed editable and is not on PyPI.
        "environment": ("--skip-editable",),
        # Hashed and exactly pinned: no resolution, so no pip and no download of the packages.
        LOCK.relative_to(REPO).as_posix(): ("--disable-pip", "--requirement", str(LOCK)),
    }
    total = 0
    try:
        canary(service)
        for label, args in scans.items():
            found, not_audited = report(label, pip_audit(service, *args))
            total += found
            if not_audited:
                names = ", ".join(sorted(not_audited)[:5]) + (
                    ", ..." if len(not_audited) > 5 else ""
                )
                raise Unreachable(f"no answer for {len(not_audited)} {label} packages ({names})")
    except Unreachable as exc:
        print(
            f"audit: the advisory database, {SERVICES[service]}, cannot be reached ({exc}); "
            "the dependencies were not (fully) audited",
            file=sys.stderr,
        )
        return UNREACHABLE
    except RuntimeError as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return FAILED
    return VULNERABLE if total else CLEAN


if __name__ == "__main__":
    sys.exit(main())
