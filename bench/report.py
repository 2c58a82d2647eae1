"""The suite's outputs: ``results.json`` and the markdown table, one row per declared row."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from .suite import Result, Row, declared_rows

HEADER = "| measurement | measured | against | target | result |"
RULE = "|---|---|---|---|---|"


def verdict(result: Result | None) -> str:
    if result is None:
        return "not run"
    if result.passed is None:
        return "—"
    return "PASS" if result.passed else "FAIL"


def table(results: dict[str, Result], rows: list[Row] | None = None) -> str:
    """The markdown table: every declared row, measured or not."""
    lines = [HEADER, RULE]
    for row in rows or declared_rows():
        result = results.get(row.key)
        shown = result.shown if result else ""
        detail = result.detail if result else ""
        lines.append(
            f"| {row.measurement} | {shown} | {detail} | {row.target} | {verdict(result)} |"
        )
    return "\n".join(lines) + "\n"


def machine() -> str:
    """One line naming what the numbers were measured on."""
    return (
        f"Python {sys.version.split()[0]} on {platform.machine()}, {os.cpu_count()} CPUs "
        f"({platform.system()})"
    )


def write(out_dir: Path, results: dict[str, Result], sizes: Any, seconds: float) -> None:
    """Write results.json and results.md into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {
        "machine": machine(),
        "sizes": sizes.__class__.__name__ and {k: getattr(sizes, k) for k in sizes.__slots__},
        "seconds": round(seconds, 1),
        "rows": [
            {
                "key": r.key,
                "measurement": r.measurement,
                "target": r.target,
                "result": verdict(results.get(r.key)),
                **(results[r.key].to_json() if r.key in results else {}),
            }
            for r in declared_rows()
        ],
    }
    (out_dir / "results.json").write_text(json.dumps(doc, indent=2, default=str) + "\n")
    md = f"Measured by `make bench` ({machine()}, suite {seconds:.0f} s):\n\n" + table(results)
    (out_dir / "results.md").write_text(md)
