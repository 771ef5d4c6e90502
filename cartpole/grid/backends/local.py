"""The local backend: a bounded pool of fresh processes, one per trial.

Each trial's process is forked by a fork server (``forkserver.py``) that imported the
trial code once, instead of a new interpreter per trial.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable

from cartpole.grid.backends import Job, UpdateFn, collect
from cartpole.grid.backends.forkserver import ForkedTrial, ForkServer

WAKE_SECONDS = 0.5  # the loop wakes at least this often, when no trial ends
STOP_GRACE_SECONDS = 10.0


def thread_env(threads: int) -> dict[str, str]:
    """Environment that keeps a worker's numeric libraries to ``threads`` threads."""
    n = str(threads)
    return {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "OPENBLAS_NUM_THREADS": n}


class LocalBackend:
    """Runs at most ``workers`` trial processes at once; each process trains one trial."""

    name = "local"

    def __init__(self, workers: int, threads: int = 1, preload: tuple[str, ...] = ()) -> None:
        self.workers = workers
        self.threads = threads
        self.preload = preload

    def run(self, jobs: Iterable[Job], on_update: UpdateFn) -> None:
        pending = iter(jobs)  # taken one at a time, as workers free up (a study's queue)
        more = True
        running: dict[str, tuple[Job, ForkedTrial]] = {}
        previous = {sig: signal.signal(sig, raise_interrupt)
                    for sig in (signal.SIGTERM, signal.SIGHUP)}
        server = ForkServer(thread_env(self.threads), self.preload)
        try:
            while more or running:
                while more and len(running) < self.workers:
                    job = next(pending, None)
                    if job is None:
                        more = False
                        break
                    running[job.trial] = (job, server.launch(job.trial_dir))
                    on_update(job.trial, {"status": "running",
                                          "pid": running[job.trial][1].pid})
                if not running:
                    continue
                server.wait_any(WAKE_SECONDS)
                for trial, (job, proc) in list(running.items()):
                    code = proc.poll()
                    if code is not None:
                        del running[trial]
                        on_update(trial, collect(job, code))
        except BaseException:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan
            stop_all([proc for _, proc in running.values()])
            for trial, (job, proc) in running.items():
                update = collect(job, proc.returncode if proc.returncode is not None else -9)
                if update["status"] == "failed":
                    update = {"status": "interrupted", "error": "stopped by the user"}
                on_update(trial, update)
            raise
        finally:
            server.close()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def stop_all(procs: list[ForkedTrial]) -> None:
    """SIGTERM every worker's process group at once; SIGKILL what is left at the deadline.

    A worker that gets SIGTERM saves its best model so far before it exits.
    """
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait()


def _signal_group(proc: ForkedTrial, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM or SIGHUP to the group runner: stop the group as Ctrl-C would."""
    raise KeyboardInterrupt
