"""The README's performance table is the suite's: generated between markers, one row per
declared measurement, in order (the numbers are machine-dependent and not compared)."""

from __future__ import annotations

import pytest

from bench import readme, report
from bench.suite import Result, declared_rows, handler_modules


def _rows(text: str) -> list[tuple[str, str]]:
    """(measurement, target) of each table row of ``text``."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0] not in ("measurement", "---"):
            out.append((cells[0], cells[3]))
    return out


def test_readme_has_the_generated_section_with_every_declared_row() -> None:
    text = readme.README.read_text()
    assert text.count(readme.BEGIN) == 1 and text.count(readme.END) == 1
    declared = [(r.measurement, r.target) for r in declared_rows()]
    assert _rows(readme.section(text)) == declared


def test_replace_section_swaps_only_the_generated_text() -> None:
    old = f"intro\n{readme.BEGIN}\nold table\n{readme.END}\noutro\n"
    table = report.table({"soap.overhead": Result("soap.overhead", 1.2, "1.20x", "x", True)})
    new = readme.replace_section(old, table)
    assert new.startswith(f"intro\n{readme.BEGIN}\n") and new.endswith(f"{readme.END}\noutro\n")
    assert "old table" not in new
    assert _rows(readme.section(new)) == [(r.measurement, r.target) for r in declared_rows()]
    row = next(line for line in new.splitlines() if "receiveResponseXML" in line)
    assert row.endswith("| <= 1.5x | PASS |")


def test_replace_section_refuses_a_readme_without_markers() -> None:
    with pytest.raises(ValueError, match="markers"):
        readme.replace_section("no markers here\n", "| table |")


def test_every_lambda_entry_module_has_a_cold_start_row() -> None:
    keys = {r.key for r in declared_rows()}
    modules = handler_modules()
    assert "lambdas.handlers.qbwc_api" in modules and "lambdas.handlers.runtime" not in modules
    assert {f"cold.{m.rsplit('.', 1)[1]}" for m in modules} <= keys
    assert len(keys) == len(declared_rows())
