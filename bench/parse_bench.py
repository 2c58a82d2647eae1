"""Benchmark: qbxml.parse_response against bare lxml.etree.fromstring and xmltodict.parse.

Inputs (generated, see qbxml_data.py): a 10,000-customer CustomerQueryRs and a 5,000-invoice
InvoiceQueryRs with 5 lines each.

Time: CPU time of the process (time.process_time), best of twelve interleaved rounds in rotating
order, so other work on a shared machine inflates neither side of a ratio; what a call returns
(the tree, the records) is freed after its clock stops, for every contender alike. Target:
parse_response into records at most 2.5x bare fromstring on the same bytes.

Memory: each measurement runs in a fresh child process that reads the input file, resets the
kernel's peak-RSS mark (/proc/self/clear_refs) and then parses; the growth is peak RSS minus the
RSS before parsing, so it counts libxml2's C allocations as well as Python objects (tracemalloc's
peak of Python allocations is shown beside it). Target: streaming (stream_response, records
consumed as they come) grows at most 2x the input size. Keeping every record (parse_response)
and a whole tree (fromstring) are shown for comparison.

Run: .venv/bin/python bench/parse_bench.py   (exit status 1 when a target is missed)
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import xmltodict
from lxml import etree
from qbxml_data import customers_response, invoices_response

import qbxml

TIME_TARGET = 2.5
MEMORY_TARGET = 2.0
ROUNDS = 12
COMPARISON_ROUNDS = 3


def cpu_time(fn: Callable[[], Any]) -> float:
    """CPU seconds of ``fn()``; its result (tree or records) is freed after the clock stops."""
    gc.collect()
    start = time.process_time()
    result = fn()
    elapsed = time.process_time() - start
    del result
    return elapsed


def drain(data: bytes) -> int:
    count = 0
    for _ in qbxml.stream_response(data):
        count += 1
    return count


def time_all(data: bytes) -> dict[str, float]:
    cases: dict[str, Callable[[], Any]] = {
        "lxml.etree.fromstring": lambda: etree.fromstring(data),
        "qbxml.parse_response": lambda: qbxml.parse_response(data),
        "qbxml.stream_response": lambda: drain(data),
        "xmltodict.parse": lambda: xmltodict.parse(data),
    }
    best = dict.fromkeys(cases, float("inf"))
    names = list(cases)
    for round_no in range(ROUNDS):
        # Rotate the order: a case run right after one that freed a large tree pays for the
        # page faults of getting that memory back, whoever it is.
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            if name == "xmltodict.parse" and round_no >= COMPARISON_ROUNDS:
                continue  # slow, and only shown for comparison
            best[name] = min(best[name], cpu_time(cases[name]))
    return best


# --- memory, in a child process -------------------------------------------------------------------


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing from /proc/self/status")


def child(mode: str, path: str) -> None:
    data = Path(path).read_bytes()
    work: dict[str, Callable[[], Any]] = {
        "stream": lambda: drain(data),
        "parse_response": lambda: len(qbxml.parse_response(data).responses),
        "fromstring": lambda: len(etree.fromstring(data)),
    }
    gc.collect()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    tracemalloc.start()
    result = work[mode]()
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = _status("VmHWM")
    print(json.dumps({"rss_growth": peak - before, "py_peak": py_peak, "result": result}))


def memory(mode: str, path: Path) -> dict[str, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


# --- report -----------------------------------------------------------------------------------


def mb(n: float) -> str:
    return f"{n / 1e6:6.1f} MB"


def run_case(name: str, data: bytes, workdir: Path) -> bool:
    path = workdir / f"{name}.xml"
    path.write_bytes(data)
    print(f"\n{name}: {mb(len(data))}")
    times = time_all(data)
    base = times["lxml.etree.fromstring"]
    for label, seconds in times.items():
        print(f"  {label:24s} {seconds * 1000:8.1f} ms CPU  {seconds / base:5.2f}x fromstring")
    ratio = times["qbxml.parse_response"] / base
    time_ok = ratio <= TIME_TARGET
    print(
        f"  time ratio parse_response/fromstring = {ratio:.2f} (target <= {TIME_TARGET}) "
        f"{'PASS' if time_ok else 'FAIL'}"
    )
    mem_ok = True
    for mode in ("stream", "parse_response", "fromstring"):
        m = memory(mode, path)
        growth = m["rss_growth"] / len(data)
        line = (
            f"  memory {mode:15s} peak RSS growth {mb(m['rss_growth'])} = {growth:4.2f}x input"
            f"  (Python objects peak {mb(m['py_peak'])})"
        )
        if mode == "stream":
            mem_ok = growth <= MEMORY_TARGET
            line += f"  target <= {MEMORY_TARGET} {'PASS' if mem_ok else 'FAIL'}"
        print(line)
    return time_ok and mem_ok


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return 0
    cases = {
        "10,000 customers (CustomerQueryRs)": customers_response(10_000),
        "5,000 invoices x 5 lines (InvoiceQueryRs)": invoices_response(5_000, 5),
    }
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_case(name, data, Path(tmp)) for name, data in cases.items()]
    ok = all(results)
    print(f"\nparse_bench: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
