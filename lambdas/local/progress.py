"""Progress of long local runs (the demo, a first full sync in ``serve``, an audit).

On a terminal each task is a tqdm bar; otherwise (a log file, CI, a pipe) one plain line per
milestone: the start, each tenth of the total crossed, each change of what is being worked on,
and the end; never a carriage return. Progress goes to standard error, so standard output stays
what a script reads (``qbrelay demo --json``). Updates are cheap: a bar redraws at most a few
times a second, and plain mode prints only on milestones.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ..qbwc.relay import SessionProgress


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


def _width(stream: TextIO) -> int:
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0


BAR, LINES, OFF = "bar", "lines", "off"


class Task:
    """One task's progress: ``update`` with how much is done (of ``total``, if known).

    ``mode``: ``bar`` (a tqdm bar), ``lines`` (a plain line per milestone) or ``off``.
    """

    def __init__(self, label: str, total: int | None, unit: str, stream: TextIO, mode: str) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.stream = stream
        self.done = 0
        self.note = ""
        self._tenth = 0  # plain mode: the last tenth of the total printed
        self.closed = mode == OFF
        self._bar: Any = None
        if mode == BAR:
            from tqdm import tqdm  # only a terminal needs it

            options: dict[str, Any] = {}
            if _width(stream) > 0:
                options["dynamic_ncols"] = True
            else:  # a terminal that reports no size (a bare pty): tqdm would draw nothing
                options.update(ncols=100, nrows=24)
            if unit == "%":  # a session's percent: no rate, which would read "%/s"
                options["bar_format"] = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}{postfix}]"
            self._bar = tqdm(
                total=total,
                desc=label,
                unit=f" {unit}" if unit else "it",
                file=stream,
                leave=True,
                mininterval=0.2,
                **options,
            )
        elif mode == LINES:
            self._line(f"{label}: started")

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _figures(self) -> str:
        if self.unit == "%":
            return f"{self.done}%"
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            return f"{self.done:,} of {self.total:,}{unit} ({100 * self.done // self.total}%)"
        return f"{self.done:,}{unit}"

    def update(self, done: int, total: int | None = None, note: str = "", detail: str = "") -> None:
        """``done`` so far (of ``total``, which may change).

        ``note`` says what is under way (a new one is a milestone); ``detail`` is shown with it
        but is no milestone (running counts), so plain mode prints a line per step, not per call.
        """
        if self.closed:
            return
        if total is not None:
            self.total = total
        done = max(done, 0)
        changed = bool(note) and note != self.note
        if note:
            self.note = note
        shown = ", ".join(x for x in (self.note, detail) if x)
        if self._bar is not None:
            if total is not None and self._bar.total != total:
                self._bar.total = total
            self._bar.set_postfix_str(shown, refresh=False)
            self._bar.update(done - self._bar.n)
            self.done = done
            return
        self.done = done
        tenth = 10 * done // self.total if self.total else 0
        if changed or tenth > self._tenth:
            self._tenth = max(self._tenth, tenth)
            self._line(f"{self.label}: {self._figures()}" + (f", {shown}" if shown else ""))

    def advance(self, n: int = 1, note: str = "", detail: str = "") -> None:
        """``n`` more done."""
        self.update(self.done + n, note=note, detail=detail)

    def close(self, summary: str = "") -> None:
        """End the task; ``summary`` is its last word."""
        if self.closed:
            return
        self.closed = True
        if self._bar is not None:
            if summary:
                self._bar.set_postfix_str(summary, refresh=False)
            self._bar.close()
            return
        self._line(f"{self.label}: done, {self._figures()}" + (f"; {summary}" if summary else ""))

    def __enter__(self) -> Task:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close("stopped" if exc[0] is not None else "")


class Progress:
    """Where long runs report progress: bars on a terminal, plain lines otherwise, or nothing.

    ``stream`` defaults to standard error; ``bar`` to whether it is a terminal; ``enabled=False``
    reports nothing (tasks are still returned, so callers need no checks).
    """

    def __init__(
        self, stream: TextIO | None = None, bar: bool | None = None, enabled: bool = True
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bar = _is_terminal(self.stream) if bar is None else bar
        self.enabled = enabled

    @classmethod
    def for_command(cls, quiet: bool, json_output: bool = False) -> Progress:
        """A command's progress on standard error: off when ``quiet``; with ``json_output`` only
        a bar (a person watching), never lines a script reading the output would get."""
        progress = cls()
        progress.enabled = not quiet and (progress.bar or not json_output)
        return progress

    def task(self, label: str, total: int | None = None, unit: str = "") -> Task:
        """Start a task."""
        mode = OFF if not self.enabled else BAR if self.bar else LINES
        return Task(label, total, unit, self.stream, mode)


class SessionProgressView:
    """Web Connector sessions as tasks: one per session ticket, from the relay's reports.

    ``first_sync_only``: show only sessions reading some entity in full for the first time (in
    ``serve``, the routine sessions every few minutes stay quiet).
    """

    def __init__(self, progress: Progress, first_sync_only: bool = False) -> None:
        self.progress = progress
        self.first_sync_only = first_sync_only
        self._tasks: dict[str, Task] = {}
        # The server answers on several threads; sessions of different tenants interleave.
        self._lock = threading.Lock()

    def __call__(self, report: SessionProgress) -> None:
        with self._lock:
            task = self._tasks.get(report.ticket)
            if task is None:
                if self.first_sync_only and not report.first_sync:
                    return
                kind = "first full sync" if report.first_sync else "sync"
                task = self.progress.task(f"QuickBooks {kind} of {report.tenant}", 100, "%")
                self._tasks[report.ticket] = task
            received = f"{report.received:,} records received"
            if report.percent < 0:
                task.close(f"stopped on an error after {received}")
            elif report.step is None:
                task.update(100, note=received)
                task.close(received)
            else:
                task.update(report.percent, note=f"reading {report.step}", detail=received)
            if task.closed:
                self._tasks.pop(report.ticket, None)

    def close(self) -> None:
        """End the tasks of sessions still open (the process is stopping)."""
        with self._lock:
            for task in self._tasks.values():
                task.close("unfinished")
            self._tasks.clear()


def audit_view(task: Task) -> Callable[[int, int, str, int], None]:
    """An audit's ``progress`` callback showing it on ``task``."""

    def show(done: int, total: int, module: str, rows: int) -> None:
        if module:
            task.update(
                done, total, note=f"reading {module}", detail=f"{rows:,} rows" if rows else ""
            )
        else:
            task.update(done, total, note="finished", detail=f"{rows:,} ZOHO records read")

    return show
