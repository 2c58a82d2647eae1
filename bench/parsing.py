"""qbXML parsing to canonical records against bare ``lxml.etree.fromstring`` on the same bytes.

Time: CPU time of the process (``time.process_time``), best of several interleaved rounds in
rotating order, so other work on a shared machine inflates neither side of a ratio; what a call
returns (the tree, the records) is freed after its clock stops, for every contender alike.
``xmltodict.parse`` (the common dict-based way to read qbXML) is shown beside it.

Memory: each measurement runs in a fresh child process that reads the input file, resets the
kernel's peak-RSS mark (/proc/self/clear_refs) and then streams the records
(``qbxml.stream_response``, each consumed as it comes); the growth is peak RSS minus the RSS
before parsing, so it counts libxml2's C allocations as well as Python objects.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xmltodict
from lxml import etree

import qbxml

from .qbxml_data import customers_response, invoices_response
from .suite import Result, Sizes

TIME_TARGET = 2.0
MEMORY_TARGET = 2.0


def cpu_time(fn: Callable[[], Any]) -> float:
    """CPU seconds of ``fn()``; its result (tree or records) is freed after the clock stops."""
    gc.collect()
    start = time.process_time()
    result = fn()
    elapsed = time.process_time() - start
    del result
    return elapsed


def drain(data: bytes) -> int:
    """Stream ``data``, dropping each record as it comes; the number of items."""
    count = 0
    for _ in qbxml.stream_response(data):
        count += 1
    return count


def best_times(cases: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Best CPU time of each case over ``rounds`` interleaved rounds, in rotating order."""
    best = dict.fromkeys(cases, float("inf"))
    names = list(cases)
    for round_no in range(rounds):
        # A case run right after one that freed a large tree pays for the page faults of
        # getting that memory back, whoever it is: rotate so no case always follows another.
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            best[name] = min(best[name], cpu_time(cases[name]))
    return best


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} missing from /proc/self/status")


def memory_child(path: str) -> None:
    """In a fresh process: print the peak RSS growth of streaming the file at ``path``."""
    data = Path(path).read_bytes()
    gc.collect()
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    items = drain(data)
    print(json.dumps({"rss_growth": _status("VmHWM") - before, "items": items}))


def stream_memory(data: bytes) -> int:
    """Peak RSS growth, in bytes, of streaming ``data`` in a fresh child process."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as tmp:
        tmp.write(data)
        tmp.flush()
        out = subprocess.run(
            [sys.executable, "-m", "bench.parsing", tmp.name],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
    return int(json.loads(out.stdout)["rss_growth"])


def _case(label: str, data: bytes, rounds: int) -> list[Result]:
    times = best_times(
        {
            "fromstring": lambda: etree.fromstring(data),
            "qbxml": lambda: qbxml.parse_response(data),
            "xmltodict": lambda: xmltodict.parse(data),
        },
        rounds,
    )
    base = times["fromstring"]
    ratio = times["qbxml"] / base
    dict_ratio = times["xmltodict"] / base
    size = f"{len(data) / 1e6:.1f} MB"
    growth = stream_memory(data)
    mem = growth / len(data)
    return [
        Result(
            f"parse.{label}",
            ratio,
            f"{ratio:.2f}x",
            f"{times['qbxml'] * 1000:.0f} ms vs {base * 1000:.0f} ms CPU on {size}",
            ratio <= TIME_TARGET,
            {"seconds": times, "bytes": len(data)},
        ),
        Result(
            f"parse.{label}.xmltodict",
            dict_ratio,
            f"{dict_ratio:.2f}x",
            f"{times['xmltodict'] * 1000:.0f} ms CPU (no typed records)",
            None,
        ),
        Result(
            f"memory.{label}",
            mem,
            f"{mem:.2f}x",
            f"peak RSS +{growth / 1e6:.1f} MB streaming {size}",
            mem <= MEMORY_TARGET,
            {"rss_growth": growth},
        ),
    ]


def run(sizes: Sizes) -> list[Result]:
    """The parsing rows: customers, then invoices (time, xmltodict beside it, memory)."""
    customers = _case("customers", customers_response(sizes.customers), sizes.parse_rounds)
    invoices = _case("invoices", invoices_response(sizes.invoices, sizes.lines), sizes.parse_rounds)
    order = ["parse.customers", "parse.customers.xmltodict", "parse.invoices"]
    order += ["parse.invoices.xmltodict", "memory.customers", "memory.invoices"]
    by_key = {r.key: r for r in customers + invoices}
    return [by_key[k] for k in order]


if __name__ == "__main__":
    memory_child(sys.argv[1])
