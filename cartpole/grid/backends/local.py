"""The local backend: a bounded pool of fresh processes, one per trial."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import deque

from cartpole.grid.backends import Job, UpdateFn, collect
from cartpole.paths import LOG_FILE

POLL_SECONDS = 0.1
STOP_GRACE_SECONDS = 10.0


def thread_env(threads: int) -> dict[str, str]:
    """Environment that keeps a worker's numeric libraries to ``threads`` threads."""
    n = str(threads)
    return {**os.environ, "OMP_NUM_THREADS": n, "MKL_NUM_THREADS": n,
            "OPENBLAS_NUM_THREADS": n, "TF_NUM_INTRAOP_THREADS": n,
            "TF_NUM_INTEROP_THREADS": n, "TF_CPP_MIN_LOG_LEVEL": "2"}


class LocalBackend:
    """Runs at most ``workers`` trial processes at once; each process trains one trial."""

    name = "local"

    def __init__(self, workers: int, threads: int = 1) -> None:
        self.workers = workers
        self.threads = threads

    def run(self, jobs: list[Job], on_update: UpdateFn) -> None:
        pending = deque(jobs)
        running: dict[str, tuple[Job, subprocess.Popen[bytes]]] = {}
        previous = {sig: signal.signal(sig, raise_interrupt)
                    for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    job = pending.popleft()
                    running[job.trial] = (job, self._launch(job))
                    on_update(job.trial, {"status": "running",
                                          "pid": running[job.trial][1].pid})
                time.sleep(POLL_SECONDS)
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
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _launch(self, job: Job) -> subprocess.Popen[bytes]:
        log = (job.trial_dir / LOG_FILE).open("ab")
        try:
            return subprocess.Popen(
                [sys.executable, "-m", "cartpole.grid.backends.worker", str(job.trial_dir)],
                # stdout is shared, so the log engine's JSON lines reach the group's stdout
                stdin=subprocess.DEVNULL, stdout=None, stderr=log,
                env=thread_env(self.threads), start_new_session=True,
            )
        finally:
            log.close()


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
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


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM or SIGHUP to the group runner: stop the group as Ctrl-C would."""
    raise KeyboardInterrupt
