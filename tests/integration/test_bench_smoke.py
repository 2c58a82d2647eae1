"""The benchmark suite's code paths at trivial sizes, so the suite cannot rot between runs.

Only that each group runs and reports every row it declares; the figures at these sizes mean
nothing (speed targets are checked by ``make bench``, never here). Cold start needs the
packaged asset for this platform (network), so only its probe runs here.
"""

from __future__ import annotations

import math

from bench import cold_start
from bench.__main__ import run_suite
from bench.suite import SMOKE, declared_rows


def test_every_group_but_cold_start_reports_each_of_its_rows() -> None:
    results = run_suite(SMOKE, ["parsing", "soap", "sync", "credits", "fairness", "cost", "live"])
    wanted = [r.key for r in declared_rows() if not r.key.startswith("cold.")]
    assert sorted(results) == sorted(wanted)
    for result in results.values():
        assert result.shown != "error", result.detail
        assert math.isfinite(result.value)
    # Correctness figures hold at any size.
    assert results["sync.resync"].passed and results["sync.zoho_calls"].passed
    assert results["credits.per_1000"].passed
    # No quiet tenant waits more than a batch behind the backlog; every share is a share.
    assert results["fairness.behind"].passed
    assert 0 < results["fairness.hot_partition"].value < 1
    assert results["cost.total"].value > 0
    # Every live change lands on the other side, whatever the size.
    for key in ("live.qb_to_zoho.p95", "live.zoho_to_qb.p95"):
        assert results[key].extra["lost"] == 0 and results[key].extra["changes"] > 0
    assert results["live.cost.total"].value > 0


def test_cold_start_probe_times_a_fresh_interpreter() -> None:
    seconds = cold_start.launch_seconds("import json", [])
    assert 0 < seconds < 30
