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
from cartpole.paths import WAITING_FILE

# The loop wakes at least this often when no trial ends: to see a trial start waiting
# for peers (its worker is then free).
WAKE_SECONDS = 0.1
STOP_GRACE_SECONDS = 10.0


def thread_env(threads: int) -> dict[str, str]:
    """Environment that keeps a worker's numeric libraries to ``threads`` threads."""
    n = str(threads)
    return {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "OPENBLAS_NUM_THREADS": n}


class LocalBackend:
    """Runs at most ``workers`` trials at once, each in a process of its own; a trial
    waiting for peers at the pruner's first rung leaves its worker to another."""

    name = "local"
    frees_waiting = True

    def __init__(self, workers: int, threads: int = 1, preload: tuple[str, ...] = ()) -> None:
        self.workers = workers
        self.threads = threads
        self.preload = preload
        self._server: ForkServer | None = None

    def start(self) -> None:
        """Start the fork server, whose imports then overlap the runner's own set-up."""
        if self._server is None:
            self._server = ForkServer(thread_env(self.threads), self.preload)

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def run(self, jobs: Iterable[Job], on_update: UpdateFn) -> None:
        ahead = _Ahead(jobs)
        running: dict[str, tuple[Job, ForkedTrial]] = {}
        previous = {sig: signal.signal(sig, raise_interrupt)
                    for sig in (signal.SIGTERM, signal.SIGHUP)}
        self.start()
        server = self._server
        assert server is not None

        def fill() -> list[Job]:
            """Start trials on the free workers."""
            started = []
            while _busy(running) < self.workers and (job := ahead.take()) is not None:
                running[job.trial] = (job, server.launch(job.trial_dir))
                started.append(job)
            return started

        def announce(started: list[Job]) -> None:
            for job in started:
                on_update(job.trial, {"status": "running", "pid": running[job.trial][1].pid})

        try:
            announce(fill())
            while running or ahead.more:
                ahead.prefetch()  # while the trials train
                if running:
                    server.wait_any(WAKE_SECONDS)
                ended = [(trial, job, code) for trial, (job, proc) in list(running.items())
                         if (code := proc.poll()) is not None]
                for trial, _, _ in ended:
                    del running[trial]
                started = fill()  # a freed worker starts its next trial first, then we report
                for trial, job, code in ended:
                    on_update(trial, collect(job, code))
                announce(started)
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
            self.close()
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sig, handler in previous.items():
                signal.signal(sig, handler)


class _Ahead:
    """The jobs, taken one at a time as workers free up, and one taken ahead: taking one
    may take a while (a study's claim), so the next is taken while the trials train and
    a freed worker starts it at once."""

    def __init__(self, jobs: Iterable[Job]) -> None:
        self._jobs = iter(jobs)
        self._next: Job | None = None
        self._done = False

    @property
    def more(self) -> bool:
        return self._next is not None or not self._done

    def prefetch(self) -> None:
        if self._next is None and not self._done:
            self._next = next(self._jobs, None)
            self._done = self._next is None

    def take(self) -> Job | None:
        self.prefetch()
        job, self._next = self._next, None
        return job


def _busy(running: dict[str, tuple[Job, ForkedTrial]]) -> int:
    """The running trials that hold a worker: not those waiting for peers."""
    return sum(not (job.trial_dir / WAITING_FILE).exists() for job, _ in running.values())


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
