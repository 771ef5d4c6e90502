"""Progress of a remote run on stderr: a live bar on a terminal, a line per tenth otherwise."""

from __future__ import annotations

import sys
from typing import TextIO

from cartpole.display import ProgressBar
from cartpole.remote.play import Episode


class RunProgress:
    def __init__(self, total: int, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.total, self.stream = total, stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self._sum, self._n, self._every = 0.0, 0, max(1, total // 10)
        self._bar = (ProgressBar(total, "episodes", self.stream, transient=True)
                     if self.live else None)

    def __call__(self, episode: Episode) -> None:
        self._n += 1
        self._sum += episode.score
        stats = f"last {episode.score:g} (r{episode.runner:02d})  mean {self._sum / self._n:.1f}"
        if self._bar is not None:
            self._bar.update(self._n, stats)
        elif self._n % self._every == 0 or self._n == self.total:
            print(f"episodes {self._n}/{self.total}  {stats}", file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
