"""Run a single trial in this process, with the live progress display."""

from __future__ import annotations

from collections.abc import Iterable

from cartpole.fileio import write_json
from cartpole.grid.backends import Job, UpdateFn, collect
from cartpole.grid.backends.worker import run_job
from cartpole.paths import ERROR_FILE


class InProcessBackend:
    """For a group of one trial: no worker process, and a live progress bar."""

    name = "local"
    frees_waiting = False  # one trial: it has no peers to wait for

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress

    def start(self) -> None:
        pass  # nothing to set up ahead: the trial runs in this process

    def close(self) -> None:
        pass

    def run(self, jobs: Iterable[Job], on_update: UpdateFn) -> None:
        for job in jobs:
            on_update(job.trial, {"status": "running"})
            try:
                run_job(job.trial_dir, progress=self.progress)
            except KeyboardInterrupt:
                on_update(job.trial, {"status": "interrupted", "error": "stopped by the user"})
                raise
            except Exception as exc:  # noqa: BLE001 - recorded as the trial's failure
                write_json(job.trial_dir / ERROR_FILE, {"error": f"{type(exc).__name__}: {exc}"})
                on_update(job.trial, collect(job, 1))
                continue
            update = collect(job, 0)
            on_update(job.trial, update)
            if update["status"] == "interrupted":
                raise KeyboardInterrupt
