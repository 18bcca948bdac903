"""What long CLI work tells its user: messages, and live progress bars while it works.

On a terminal the bars redraw in place below the messages; elsewhere (CI logs, a file) only the
messages are printed, one line each, so logs stay readable.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

# Called with (done, total) as work advances; the total may only be known once work has started.
Advance = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:
    pass


class Reporter:
    def __init__(self, console: Console | None = None):
        # The stdout of its creation: while a run executes, `make run` points sys.stdout elsewhere (pipeline._execute).
        self.console = console or Console(file=sys.stdout, highlight=False)
        self._bars = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
            disable=not self.console.is_terminal,
        )

    @classmethod
    def quiet(cls) -> Reporter:
        return cls(Console(quiet=True))

    def __enter__(self) -> Reporter:
        self._bars.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._bars.stop()

    def echo(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        """A bar for one piece of work (a spinner with elapsed time while `total` is unknown)."""
        task_id = self._bars.add_task(description, total=total)

        def advance(done: int, total: int) -> None:
            self._bars.update(task_id, completed=done, total=total)

        try:
            yield advance
        finally:
            self._bars.remove_task(task_id)


class RelayedReporter:
    """A Reporter for work in another process: its messages and bars travel through `queue` (a multiprocessing
    queue) to `relay`, which shows them on the Reporter of the process that started the work."""

    def __init__(self, queue: Any):
        self.queue = queue

    def echo(self, text: str) -> None:
        self.queue.put(("echo", text))

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Advance]:
        key = uuid.uuid4().hex
        self.queue.put(("start", key, description, total))
        try:
            yield lambda done, total: self.queue.put(("advance", key, done, total))
        finally:
            self.queue.put(("end", key))


def relay(queue: Any, out: Reporter) -> None:
    """Show on `out` what RelayedReporters put on `queue`, until a None."""
    tasks: dict[str, tuple[Any, Advance]] = {}
    for kind, key, *rest in iter(queue.get, None):
        if kind == "echo":
            out.echo(key)
        elif kind == "start":
            bar = out.task(*rest)
            tasks[key] = (bar, bar.__enter__())
        elif kind == "advance":
            tasks[key][1](*rest)
        else:
            tasks.pop(key)[0].__exit__(None, None, None)
