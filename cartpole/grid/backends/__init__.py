"""Where a group's trials run: local processes, in this process (one trial), or Ray
tasks; each trial is one worker process.

A backend takes the group's ``Job``s and reports each trial's progress through an
``UpdateFn``: ``{"status": "running", ...}`` when it starts, then ``collect``'s
verdict, from the files the worker left, when it ends. ``make_backend`` picks one.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cartpole.paths import ERROR_FILE, MODEL_FILE, RESULT_FILE
from cartpole.training.result import read_result

BACKENDS = ("local", "ray")

UpdateFn = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Job:
    trial: str
    trial_dir: Path
    attempt: str = ""  # written into job.json and back into result.json by the worker


class Backend(Protocol):
    name: str
    # Whether a trial waiting for peers at the pruner's first rung (the file WAITING_FILE
    # in its folder) frees its worker for another trial (grid/first_rung.py).
    frees_waiting: bool

    def start(self) -> None:
        """Begin setting up the workers while the runner prepares the jobs (a study takes
        a moment to open); ``run`` starts them itself if this was not called."""

    def run(self, jobs: Iterable[Job], on_update: UpdateFn) -> None: ...

    def close(self) -> None:
        """Stop what ``start`` set up, if ``run`` has not (an error before any job)."""


def make_backend(name: str, n_jobs: int, workers: int, threads: int = 1,
                 ray_address: str | None = None, progress: bool = True,
                 preload: tuple[str, ...] = ()) -> Backend:
    """Ray tasks (``name`` "ray"); else one trial in this process, or local processes
    (``preload``: modules their fork server imports once, beside the trial code)."""
    if name == "ray":
        from cartpole.grid.backends.ray import RayBackend

        return RayBackend(ray_address, threads, num_cpus=workers)
    if n_jobs == 1:
        from cartpole.grid.backends.inprocess import InProcessBackend

        return InProcessBackend(progress=progress)
    from cartpole.grid.backends.local import LocalBackend

    return LocalBackend(workers, threads, preload)


def collect(job: Job, code: int) -> dict[str, Any]:
    """Turn a finished worker's exit code and files into a status update.

    A result.json counts only if this attempt wrote it: an earlier attempt's stays in
    place, with its best-so-far model, while a rerun runs (see ``attempts.py``).
    """
    result = read_result(job.trial_dir / RESULT_FILE)
    if result is not None and (not job.attempt or result.attempt == job.attempt):
        # completed, or interrupted with its best model so far
        return {"status": "completed", **result.to_dict()}
    if code < 0:
        error = f"killed by {signal.Signals(-code).name}"
    else:
        error = _error_message(job.trial_dir) or f"worker exited with code {code}"
    if (job.trial_dir / MODEL_FILE).exists():
        error += "; the best model so far stays in place"
    return {"status": "failed", "error": error, "exit_code": code}


def _error_message(trial_dir: Path) -> str | None:
    try:
        return json.loads((trial_dir / ERROR_FILE).read_text())["error"]
    except (OSError, ValueError, KeyError):
        return None
