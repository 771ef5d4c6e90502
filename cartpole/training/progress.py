"""Progress display: a live bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from cartpole.display import ProgressBar, fmt_number
from cartpole.training.loop import Progress


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
            f"{counts}  recent {fmt_number(p.recent_score)}  epsilon {p.epsilon:.3f}  "
            f"eval {fmt_number(p.last_eval)}  best {fmt_number(p.best_eval)}",
            file=self.stream, flush=True,
        )

    def close(self) -> None:
        pass


class LiveProgress:
    """A rich progress bar refreshed in place."""

    def __init__(self, total: int | None, unit: str, stream: TextIO | None = None) -> None:
        self.unit = unit
        self._bar = ProgressBar(total, unit, stream)

    def __call__(self, p: Progress) -> None:
        stats = (f"ep {p.episode} score {fmt_number(p.recent_score, '.0f')} eps {p.epsilon:.2f} "
                 f"eval {fmt_number(p.last_eval, '.0f')} best {fmt_number(p.best_eval, '.0f')}")
        done = p.step if self.unit == "steps" else p.episode
        self._bar.update(done, stats)

    def close(self) -> None:
        self._bar.stop()


def make_progress(total: int | None, unit: str,
                  stream: TextIO | None = None) -> PlainProgress | LiveProgress:
    stream = stream or sys.stdout
    if stream.isatty():
        return LiveProgress(total, unit, stream)
    return PlainProgress(total, unit, stream)
