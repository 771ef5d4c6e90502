"""Where a trial's wall time goes: seconds per phase, written into ``result.json``.

``phases`` in a result maps each phase to seconds:

- ``startup``: from the operating system's start of the process to the trial's start
  (interpreter, imports, command line, plan); None where ``/proc`` is missing;
- ``env``: making the training env and the evaluation envs;
- ``build``: the networks, the policy and the replay buffer;
- ``acting``: the rest of the step loop (choosing actions, env steps, the buffer);
- ``learning``: gradient updates;
- ``evaluation`` and ``confirmation``: greedy evaluations and their confirmations;
- ``pruning``: reporting evaluations to a search's study, and waiting there for peers
  (``grid/first_rung.py``); absent without a study;
- ``saving``: the model and its metadata; ``metrics_close``: flushing the engines.

The trial's own ``seconds`` spans ``env`` to ``pruning``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

PHASES = ("startup", "env", "build", "acting", "learning", "evaluation", "confirmation",
          "pruning", "saving", "metrics_close")


def process_age() -> float | None:
    """Seconds since this process started, from ``/proc`` (None where it is missing)."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    start_ticks = int(fields[19])  # field 22 of stat, counted after the command name
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


class PhaseClock:
    """Adds up wall seconds per phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds

    @contextmanager
    def timing(self, phase: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(phase, time.perf_counter() - started)

    def rounded(self) -> dict[str, float]:
        return {phase: round(s, 4) for phase, s in self.seconds.items()}
