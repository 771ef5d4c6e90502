"""Entry point of one trial's process: ``python -m cartpole.grid.backends.worker TRIAL_DIR``.

The parent writes ``job.json`` into the trial folder first; the worker trains into
that folder and exits 0, or writes ``error.json`` and exits 1.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

from cartpole.fileio import write_json
from cartpole.paths import ERROR_FILE, JOB_FILE, WAITING_FILE
from cartpole.training.result import TrialResult


def write_job(trial_dir: Path, job: dict[str, Any]) -> None:
    trial_dir.mkdir(parents=True, exist_ok=True)
    (trial_dir / WAITING_FILE).unlink(missing_ok=True)  # a killed attempt's
    write_json(trial_dir / JOB_FILE, job)


def run_job(trial_dir: Path, progress: bool = False) -> TrialResult:
    """Train the trial described by ``trial_dir/job.json``; return its result."""
    from cartpole.metrics.engines import EngineContext, build_sinks
    from cartpole.training.loop import TrialSpec
    from cartpole.training.progress import make_progress
    from cartpole.training.runtime import limit_threads
    from cartpole.training.trial_dir import train_into

    job = json.loads((trial_dir / JOB_FILE).read_text())
    limit_threads(int(job.get("threads", 1)))
    spec = TrialSpec.from_dict(job["spec"])
    sinks = build_sinks(tuple(job.get("metrics_engines", ())), job.get("metrics_config", {}),
                        EngineContext(job["group"], job["trial"], trial_dir))
    budget = spec.step_budget
    display = (make_progress(budget or spec.episodes, "steps" if budget else "episodes")
               if progress else None)
    attempt = job.get("attempt")
    try:
        return train_into(spec, trial_dir, job["group"], job["trial"], sinks, display,
                          extra={"peak_rss_mb": peak_rss_mb, "attempt": lambda: attempt},
                          previous=job.get("previous"), prune=_pruner(job, trial_dir))
    finally:
        if display:
            display.close()


def _pruner(job: dict[str, Any], trial_dir: Path) -> Any:
    """With a study (``--prune``, a sampled search or ``--storage``): report each
    evaluation to it, and stop when its pruner says so."""
    study = job.get("study")
    if not study:
        return None
    from cartpole.grid.study import reporter, whole_url

    url = whole_url(study["storage"])
    on_wait = _waiting_marker(trial_dir) if study.get("wait") else None
    return reporter(job["group"], url, study["prune"], int(study["eval_every"]),
                    int(study["trial_id"]), study.get("expected"), on_wait)


def _waiting_marker(trial_dir: Path) -> Any:
    """``on_wait`` for the pruner: the file ``waiting`` in the trial's folder, while it
    waits for peers, tells the local backend that its worker is free for another."""
    marker = trial_dir / WAITING_FILE

    def on_wait(waiting: bool) -> None:
        if waiting:
            marker.touch()
        else:
            marker.unlink(missing_ok=True)

    return on_wait


def peak_rss_mb() -> float:
    """This process's peak resident memory, in MiB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    trial_dir = Path(args[0])
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _interrupt)
    _watch_parent()
    try:
        result = run_job(trial_dir)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the parent
        write_json(trial_dir / ERROR_FILE, {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(),
        })
        traceback.print_exc()
        return 1
    return 130 if result.status == "interrupted" else 0  # pruned: 0, it did its part


def _watch_parent() -> None:
    """Stop (saving the best model so far) if the group runner dies without telling us."""
    import os
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM from the group runner: stop like Ctrl-C, keeping the best model so far."""
    raise KeyboardInterrupt

if __name__ == "__main__":
    sys.exit(main())
