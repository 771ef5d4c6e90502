"""What commands show on a terminal besides their JSON: numbers in tables and lines, and
the live progress bar (training and remote runs share its look)."""

from __future__ import annotations

import sys
from typing import TextIO


def fmt_number(value: float | None, spec: str = ".1f") -> str:
    """``value`` formatted with ``spec``; ``-`` for no value."""
    return "-" if value is None else format(value, spec)


class ProgressBar:
    """A rich bar refreshed in place: bar, ``done/total``, unit, time elapsed, then a
    line of figures that each update replaces."""

    def __init__(self, total: int | None, unit: str, stream: TextIO | None = None,
                 transient: bool = False) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            BarColumn(bar_width=16), MofNCompleteColumn(), TextColumn(unit),
            TimeElapsedColumn(), TextColumn("{task.fields[stats]}"),
            console=Console(file=stream or sys.stdout), transient=transient,
        )
        self._task = self._bar.add_task(unit, total=total, stats="")
        self._bar.start()

    def update(self, completed: int, stats: str) -> None:
        self._bar.update(self._task, completed=completed, stats=stats)

    def stop(self) -> None:
        self._bar.stop()
