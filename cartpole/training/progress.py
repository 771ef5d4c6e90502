"""Progress display: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from cartpole.training.loop import Progress


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


class PlainProgress:
    """One line per evaluation, for logs and pipes."""

    def __init__(self, total: int | None, unit: str, stream: TextIO | None = None) -> None:
        self.total, self.unit = total, unit
        self.stream = stream or sys.stdout
        self._printed = 0

    def __call__(self, p: Progress) -> None:
        if p.evaluations == self._printed:
            return
        self._printed = p.evaluations
        total = f"/{self.total}" if self.total else ""
        counts = (f"steps {p.step}{total}  episodes {p.episode}" if self.unit == "steps"
                  else f"episodes {p.episode}{total}  steps {p.step}")
        print(
            f"{counts}  recent {_fmt(p.recent_score)}  epsilon {p.epsilon:.3f}  "
            f"eval {_fmt(p.last_eval)}  best {_fmt(p.best_eval)}",
            file=self.stream, flush=True,
        )

    def close(self) -> None:
        pass


class LiveProgress:
    """A rich progress bar refreshed in place."""

    def __init__(self, total: int | None, unit: str, stream: TextIO | None = None) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.unit = unit
        self._bar = Progress(
            BarColumn(bar_width=16), MofNCompleteColumn(), TextColumn(unit),
            TimeElapsedColumn(), TextColumn("{task.fields[stats]}"),
            console=Console(file=stream or sys.stdout), transient=False,
        )
        self._task = self._bar.add_task("train", total=total, stats="")
        self._bar.start()

    def __call__(self, p: Progress) -> None:
        stats = (f"ep {p.episode} score {_fmt(p.recent_score, '.0f')} eps {p.epsilon:.2f} "
                 f"eval {_fmt(p.last_eval, '.0f')} best {_fmt(p.best_eval, '.0f')}")
        done = p.step if self.unit == "steps" else p.episode
        self._bar.update(self._task, completed=done, stats=stats)

    def close(self) -> None:
        self._bar.stop()


def make_progress(total: int | None, unit: str,
                  stream: TextIO | None = None) -> PlainProgress | LiveProgress:
    stream = stream or sys.stdout
    if stream.isatty():
        return LiveProgress(total, unit, stream)
    return PlainProgress(total, unit, stream)
