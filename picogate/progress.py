"""One progress bar for long work (evaluator scoring and generation, the demo's training), with rows/s.

Why: scoring a few thousand rows or training the demo model takes minutes, and a command that prints
nothing for minutes looks hung. The bar goes to stderr, only when stderr is a terminal and the caller did
not ask for quiet, so logs, pipes and CI output stay clean; it disappears when the work is done.

>>> with progress_bar(120, "scoring", enabled=True) as bar:
...     bar.advance(10)
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any


class Bar:
    """What long work reports to: `advance(n)` units done, or `phase(...)` for work in several parts.

    A quiet bar (the default) does nothing, so callers never branch on whether a bar is shown. A bar is
    also the plain `progress(n)` callback the evaluator's scorers take.
    """

    def __init__(self, progress: Any = None, task: Any = None, unit: str = "rows") -> None:
        self._progress, self._task, self._unit = progress, task, unit
        self._done = self._phase = 0  # units in the phases before the current one, and in the current one

    def advance(self, n: float = 1) -> None:
        if self._progress is None:
            return
        self._progress.advance(self._task, n)
        speed = self._progress.tasks[0].speed  # one task a bar
        self._progress.update(self._task, rate=f"{speed:,.1f} {self._unit}/s" if speed else "")

    def __call__(self, n: float = 1) -> None:
        self.advance(n)

    def phase(self, description: str, units: int, reports: int | None = None) -> Callable[[int], None]:
        """Start the next part of the work: `units` (rows, say) whose scorer reports `reports` counts in all
        (choices, or two passes a row). Returns the callback for that scorer; the bar keeps counting units,
        so rows/s stays rows per second, and each phase ends on its exact count."""
        self._done += self._phase
        self._phase = units
        if self._progress is None:
            return _ignore
        self._progress.update(self._task, completed=self._done, description=_escape(description))
        scale = units / reports if reports else 1.0
        return lambda n: self.advance(n * scale)


def _ignore(n: int) -> None:
    """The callback of a quiet bar's phase."""


def _escape(description: str) -> str:
    """File and benchmark names are data: one line with control characters visible (the one escaper,
    picogate.escape.text), then never rich markup (a progress description is rendered as markup)."""
    from rich.markup import escape

    from picogate.escape import text

    return escape(text(description))


@contextlib.contextmanager
def progress_bar(total: int, description: str, *, enabled: bool, unit: str = "rows") -> Iterator[Bar]:
    """A transient bar over `total` items on stderr, with `unit`/s; a quiet `Bar` when not `enabled` or
    when stderr is not a terminal."""
    if not enabled or total <= 0 or not sys.stderr.isatty():
        yield Bar()
        return
    from rich.console import Console  # only when a bar is shown
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(_escape(description), total=total, rate="")
        yield Bar(progress, task, unit)
