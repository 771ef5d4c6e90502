"""The Ray backend: the same trials as Ray tasks, on a cluster or on a local Ray.

Each trial is one task in a fresh worker process (``max_calls=1``), with at most
``workers`` tasks in flight. The task trains into a scratch folder on whichever
node runs it and sends the trial's files back, so the driver's
``runs/<group>/<trial>/`` looks exactly as with the local backend, with or
without a shared filesystem.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

from cartpole import artifacts
from cartpole.errors import ConfigError
from cartpole.fileio import write_json
from cartpole.grid.local import Job, UpdateFn, collect, thread_env
from cartpole.grid.worker import ERROR_FILE, JOB_FILE

RETURNED_FILES = (artifacts.MODEL_FILE, artifacts.METADATA_FILE, artifacts.EVENTS_FILE,
                  artifacts.RESULT_FILE, ERROR_FILE)
CANCEL_GRACE_SECONDS = 10.0


def _train_task(job: dict[str, Any], threads: int) -> dict[str, bytes]:
    """Runs inside a Ray worker: train one trial, return its files' bytes."""
    os.environ.update({k: v for k, v in thread_env(threads).items()
                       if k.startswith(("OMP_", "MKL_", "OPENBLAS_", "TF_"))})
    from cartpole.grid.worker import run_job

    with tempfile.TemporaryDirectory(prefix="cartpole-trial-") as tmp:
        trial_dir = Path(tmp)
        write_json(trial_dir / JOB_FILE, job)
        try:
            run_job(trial_dir)
        except Exception as exc:  # noqa: BLE001 - reported through the returned files
            write_json(trial_dir / ERROR_FILE, {"error": f"{type(exc).__name__}: {exc}"})
        return {name: (trial_dir / name).read_bytes() for name in RETURNED_FILES
                if (trial_dir / name).exists()}


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

    def __init__(self, address: str | None = None, threads: int = 1,
                 num_cpus: int | None = None) -> None:
        self.address, self.threads = address, threads
        self.in_flight = num_cpus or os.cpu_count() or 1

    def run(self, jobs: list[Job], on_update: UpdateFn) -> None:
        import ray

        started_here = not ray.is_initialized()
        temp_dir = self._init(ray) if started_here else None
        pending = list(jobs)
        running: dict[Any, Job] = {}
        try:
            task = ray.remote(num_cpus=1, max_calls=1, max_retries=0)(_train_task)
            while pending or running:
                while pending and len(running) < self.in_flight:
                    job = pending.pop(0)
                    spec = json.loads((job.trial_dir / JOB_FILE).read_text())
                    running[task.remote(spec, self.threads)] = job
                    on_update(job.trial, {"status": "running"})
                done, _ = ray.wait(list(running), num_returns=1)
                self._finish(ray, done[0], running.pop(done[0]), on_update)
        except BaseException:
            self._cancel(ray, running, on_update)
            raise
        finally:
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
                temp_dir = tempfile.mkdtemp(prefix="cp-ray-", dir="/tmp")  # short socket paths
                kwargs["_temp_dir"] = temp_dir
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {address}: {exc}") from None
        return temp_dir

    def _finish(self, ray: Any, ref: Any, job: Job, on_update: UpdateFn) -> None:
        try:
            files = ray.get(ref)
        except Exception as exc:  # noqa: BLE001 - a lost worker fails its trial only
            on_update(job.trial, {"status": "failed",
                                  "error": f"{type(exc).__name__}: {exc}"[:500]})
            return
        on_update(job.trial, self._land(job, files))

    def _cancel(self, ray: Any, running: dict[Any, Job], on_update: UpdateFn) -> None:
        """Keep what already finished, ask the rest to stop, then force them."""
        if not running:
            return
        ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
        for ref in ready:
            self._finish(ray, ref, running.pop(ref), on_update)
        for ref in running:
            ray.cancel(ref)
        ready, _ = ray.wait(list(running), num_returns=len(running),
                            timeout=CANCEL_GRACE_SECONDS)
        for ref in running:
            if ref not in ready:
                ray.cancel(ref, force=True)
        for job in running.values():
            on_update(job.trial, {"status": "interrupted", "error": "stopped by the user"})

    @staticmethod
    def _land(job: Job, files: dict[str, bytes]) -> dict[str, Any]:
        """Write the returned files into the driver's trial folder, with local paths."""
        for name, data in files.items():
            (job.trial_dir / name).write_bytes(data)
        result_path = job.trial_dir / artifacts.RESULT_FILE
        if result_path.exists():
            result = json.loads(result_path.read_text())
            result["dir"] = str(job.trial_dir)
            result["model"] = str(job.trial_dir / artifacts.MODEL_FILE)
            write_json(result_path, result)
            return collect(job, 0)
        return collect(job, 1)
