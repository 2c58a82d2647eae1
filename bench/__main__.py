"""``python -m bench [--quick] [--only GROUP ...]``: run the suite, write results, print the
table; exit status 1 when any target is missed (or a benchmark failed to run)."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from . import report
from .suite import FULL, QUICK, Result, Sizes, declared_rows


def groups() -> dict[str, Callable[[Sizes], list[Result]]]:
    """Each benchmark group's run function, imported only when the group runs."""

    def lazy(module: str) -> Callable[[Sizes], list[Result]]:
        def run(sizes: Sizes) -> list[Result]:
            return __import__(f"bench.{module}", fromlist=["run"]).run(sizes)

        return run

    return {
        "parsing": lazy("parsing"),
        "soap": lazy("soap_overhead"),
        "cold": lazy("cold_start"),
        "sync": lazy("full_sync"),
        "credits": lazy("credits"),
        "fairness": lazy("fairness"),
        "cost": lazy("cost"),
        "live": lazy("live_latency"),
    }


def run_suite(sizes: Sizes, only: list[str] | None = None) -> dict[str, Result]:
    """Run the chosen groups (all by default); a group that crashes fails its rows."""
    results: dict[str, Result] = {}
    for name, run in groups().items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        try:
            measured = run(sizes)
        except Exception as exc:  # reported as FAIL rows; the other groups still run
            traceback.print_exc()
            measured = [
                Result(r.key, float("nan"), "error", f"{type(exc).__name__}: {exc}", False)
                for r in declared_rows()
                if r.key.split(".")[0] in _PREFIXES[name]
            ]
        for result in measured:
            results[result.key] = result
            print(
                f"  {result.key:28s} {result.shown:>10s}  {report.verdict(result):5s} "
                f"{result.detail}",
                flush=True,
            )
        print(f"   ({time.perf_counter() - started:.0f} s)", flush=True)
    return results


_PREFIXES = {
    "parsing": ("parse", "memory"),
    "soap": ("soap",),
    "cold": ("cold",),
    "sync": ("sync",),
    "credits": ("credits",),
    "fairness": ("fairness",),
    "cost": ("cost",),
    "live": ("live",),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument("--only", nargs="*", choices=sorted(groups()), help="run these groups")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="results directory"
    )
    args = parser.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    results = run_suite(sizes, args.only)
    seconds = time.perf_counter() - started
    report.write(args.out, results, sizes, seconds)
    print()
    print(report.table(results))
    missed = [r.key for r in results.values() if r.passed is False]
    print(f"{len(missed)} target(s) missed: {', '.join(missed)}" if missed else "every target met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
