"""The Ray backend: the same trials as Ray tasks, on a cluster or on a local Ray.

Each trial is one task in a fresh worker process (``max_calls=1``). The task trains
into a scratch folder on whichever node runs it and sends the trial's files back,
so the driver's ``runs/<group>/<trial>/`` looks exactly as with the local backend,
with or without a shared filesystem.
"""

from __future__ import annotations

import json
import os
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


class RayBackend:
    name = "ray"

    def __init__(self, address: str | None = None, threads: int = 1,
                 num_cpus: int | None = None, temp_dir: str | None = None) -> None:
        self.address, self.threads = address, threads
        self.num_cpus, self.temp_dir = num_cpus, temp_dir

    def _init(self) -> Any:
        try:
            import ray
        except ImportError:
            raise ConfigError("--backend ray needs Ray: pip install 'cartpole[ray]'") from None
        if ray.is_initialized():
            return ray
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "configure_logging": False}
        if self.address:
            kwargs["address"] = self.address
        else:
            # A private local Ray on loopback: no token file in the user's home.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs["num_cpus"] = self.num_cpus or os.cpu_count() or 1
            if self.temp_dir:
                kwargs["_temp_dir"] = self.temp_dir
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {self.address}: {exc}") from None
        return ray

    def run(self, jobs: list[Job], on_update: UpdateFn) -> None:
        ray = self._init()
        try:
            task = ray.remote(num_cpus=1, max_calls=1, max_retries=0)(_train_task)
            pending = {}
            for job in jobs:
                spec = json.loads((job.trial_dir / JOB_FILE).read_text())
                pending[task.remote(spec, self.threads)] = job
                on_update(job.trial, {"status": "running"})
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(done[0])
                try:
                    files = ray.get(done[0])
                except Exception as exc:  # noqa: BLE001 - a lost worker fails its trial only
                    on_update(job.trial, {"status": "failed",
                                          "error": f"{type(exc).__name__}: {exc}"[:500]})
                    continue
                on_update(job.trial, self._land(job, files))
        except BaseException:
            for ref, job in list(locals().get("pending", {}).items()):
                ray.cancel(ref, force=True)
                on_update(job.trial, {"status": "interrupted", "error": "stopped by the user"})
            raise
        finally:
            ray.shutdown()

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
