"""The Ray backend: the same trials as Ray tasks, on a cluster or on a local Ray.

Each trial is one task in a fresh worker process (``max_calls=1``), with at most
``workers`` tasks in flight. The task trains into a scratch folder on whichever
node runs it and sends the trial's files back, so the driver's
``runs/<group>/<trial>/`` looks exactly as with the local backend, with or
without a shared filesystem.

Ctrl-C (or SIGTERM) keeps every trial's best model so far, as with the local
backend. No signal of the user's reaches a Ray worker, and ``ray.cancel`` throws
away what a cancelled task returns, so the driver raises a flag instead: it creates
a named actor, whose existence each task's watcher thread polls for. The task then
stops its trial at the next step (``stopping.request_stop``), saves the best model,
and returns its files as usual; tasks still running after the grace period are
killed and reported interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cartpole.agent.modelfile import DIGEST_KEY, sha256_hex
from cartpole.agent.publish import publish_pair_bytes
from cartpole.errors import ConfigError, ModelMismatchError
from cartpole.fileio import write_bytes, write_json
from cartpole.grid.backends import Job, UpdateFn, collect
from cartpole.grid.backends.local import raise_interrupt, thread_env
from cartpole.paths import (
    ERROR_FILE,
    EVENTS_FILE,
    JOB_FILE,
    METADATA_FILE,
    MODEL_FILE,
    RESULT_FILE,
)
from cartpole.training.result import TrialResult

RETURNED_FILES = (MODEL_FILE, METADATA_FILE, EVENTS_FILE, RESULT_FILE, ERROR_FILE)
STOP_GRACE_SECONDS = 30.0  # a task may still be importing TensorFlow when asked to stop
STOP_POLL_SECONDS = 0.5


def _train_task(job: dict[str, Any], threads: int,
                stop_flag: tuple[str, str] | None = None) -> dict[str, bytes]:
    """Runs inside a Ray worker: train one trial, return its files' bytes."""
    os.environ.update({k: v for k, v in thread_env(threads).items()
                       if k.startswith(("OMP_", "MKL_", "OPENBLAS_"))})
    from cartpole.grid.backends.worker import run_job

    done = threading.Event()
    if stop_flag is not None:
        threading.Thread(target=_watch_stop_flag, args=(*stop_flag, done),
                         name="stop-flag", daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="cartpole-trial-") as tmp:
        trial_dir = Path(tmp)
        write_json(trial_dir / JOB_FILE, job)
        try:
            run_job(trial_dir)
        except Exception as exc:  # noqa: BLE001 - reported through the returned files
            write_json(trial_dir / ERROR_FILE, {"error": f"{type(exc).__name__}: {exc}"})
        finally:
            done.set()
        return {name: (trial_dir / name).read_bytes() for name in RETURNED_FILES
                if (trial_dir / name).exists()}


def _watch_stop_flag(name: str, namespace: str, done: threading.Event) -> None:
    """In a task: once the driver's stop actor exists, keep asking the trial to stop
    (it may not have started training yet when the flag goes up)."""
    import ray

    from cartpole.training.stopping import request_stop

    raised = False
    while not done.wait(STOP_POLL_SECONDS):
        if not raised:
            try:
                ray.get_actor(name, namespace=namespace)
            except ValueError:  # no such actor: no stop requested
                continue
            raised = True
        request_stop()


class _StopFlag:
    """A named actor whose existence asks every task of the group to stop."""

    def ping(self) -> bool:
        return True


def cluster_address(address: str | None) -> str | None:
    """The cluster to join: --ray-address, else $RAY_ADDRESS (set inside Ray jobs and
    KubeRay pods), else None for a private local Ray."""
    return address or os.environ.get("RAY_ADDRESS") or None


def check_ray(address: str | None) -> None:
    """Fail early, before anything is written, when Ray or its cluster is out of reach."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError("--backend ray needs Ray: pip install 'cartpole[ray]'") from None
    address = cluster_address(address)
    if not address or address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot reach the Ray cluster at {address}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None


class RayBackend:
    name = "ray"
    frees_waiting = False  # a waiting trial would hold its Ray worker

    def __init__(self, address: str | None = None, threads: int = 1,
                 num_cpus: int | None = None) -> None:
        self.address, self.threads = address, threads
        self.in_flight = num_cpus or os.cpu_count() or 1

    def start(self) -> None:
        pass  # nothing to set up ahead: Ray starts in run, which stops it

    def close(self) -> None:
        pass

    def run(self, jobs: Iterable[Job], on_update: UpdateFn) -> None:
        import ray

        started_here = not ray.is_initialized()
        temp_dir = self._init(ray) if started_here else None
        stop_flag = (f"cartpole-stop-{secrets.token_hex(6)}",
                     ray.get_runtime_context().namespace)
        pending = iter(jobs)  # taken one at a time, as slots free up (a study's queue)
        more = True
        running: dict[Any, Job] = {}
        previous = {sig: signal.signal(sig, raise_interrupt)
                    for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            task = ray.remote(num_cpus=1, max_calls=1, max_retries=0)(_train_task)
            while more or running:
                while more and len(running) < self.in_flight:
                    job = next(pending, None)
                    if job is None:
                        more = False
                        break
                    spec = json.loads((job.trial_dir / JOB_FILE).read_text())
                    running[task.remote(spec, self.threads, stop_flag)] = job
                    on_update(job.trial, {"status": "running"})
                if not running:
                    continue
                done, _ = ray.wait(list(running), num_returns=1)
                self._finish(ray, done[0], running.pop(done[0]), on_update)
        except BaseException:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan
            self._stop(ray, running, on_update, stop_flag)
            raise
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if started_here:
                ray.shutdown()
                if temp_dir:
                    shutil.rmtree(temp_dir, ignore_errors=True)

    def _init(self, ray: Any) -> str | None:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        temp_dir = None
        address = cluster_address(self.address)
        if address:
            kwargs["address"] = address
        else:
            # A private local Ray: no token in the user's home, no state left in /tmp/ray.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs["num_cpus"] = self.in_flight
            if not os.environ.get("RAY_TMPDIR"):
                # short socket paths; the driver's pid says whose folder it is
                temp_dir = tempfile.mkdtemp(prefix=f"cp-ray-{os.getpid()}-", dir="/tmp")
                kwargs["_temp_dir"] = temp_dir
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address}: {exc}") from None
        return temp_dir

    def _finish(self, ray: Any, ref: Any, job: Job, on_update: UpdateFn) -> None:
        try:
            files = ray.get(ref)
            update = self._land(job, files)
        except Exception as exc:  # noqa: BLE001 - a lost worker fails its trial only
            update = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"[:500]}
        on_update(job.trial, update)

    def _stop(self, ray: Any, running: dict[Any, Job], on_update: UpdateFn,
              stop_flag: tuple[str, str]) -> None:
        """Keep what already finished, ask the rest to stop and save their best model
        so far, land what they return within the grace period, then kill the rest."""
        if not running:
            return
        ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
        for ref in ready:
            self._finish(ray, ref, running.pop(ref), on_update)
        if not running:
            return
        name, namespace = stop_flag
        flag = ray.remote(num_cpus=0)(_StopFlag).options(
            name=name, namespace=namespace, lifetime=None).remote()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while running and time.monotonic() < deadline:
            ready, _ = ray.wait(list(running), num_returns=1,
                                timeout=max(0.0, deadline - time.monotonic()))
            for ref in ready:
                self._finish(ray, ref, running.pop(ref), on_update)
        for ref in running:
            ray.cancel(ref, force=True)
        for job in running.values():
            on_update(job.trial, {"status": "interrupted", "error": "stopped by the user"})
        ray.kill(flag)

    @staticmethod
    def _land(job: Job, files: dict[str, bytes]) -> dict[str, Any]:
        """Write the returned files into the driver's trial folder, as the local backend
        would have: atomically, the model and its metadata as one pair, the result last
        and with local paths."""
        trial_dir = job.trial_dir
        model, meta = files.get(MODEL_FILE), files.get(METADATA_FILE)
        if model is not None and meta is not None:
            metadata = json.loads(meta)
            if metadata.get(DIGEST_KEY) not in (None, sha256_hex(model)):
                raise ModelMismatchError(f"the model of {job.trial} was damaged on its way "
                                         "back from the Ray worker")
            publish_pair_bytes(trial_dir / MODEL_FILE, trial_dir / METADATA_FILE, model,
                               metadata)
        elif meta is not None:  # no model: the trial never reached an evaluation
            write_bytes(trial_dir / METADATA_FILE, meta)
        for name in (EVENTS_FILE, ERROR_FILE):
            if name in files:
                write_bytes(trial_dir / name, files[name])
        if RESULT_FILE not in files:
            return collect(job, 1)
        result = TrialResult.from_dict(json.loads(files[RESULT_FILE]))
        dataclasses.replace(result, dir=str(trial_dir), model=str(trial_dir / MODEL_FILE),
                            missing=result.missing - {"dir", "model"}).write(trial_dir)
        return collect(job, 0)
