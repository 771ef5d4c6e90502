"""Every name in a run folder, and in the published model's place, defined once.

::

    runs/<group>/                 plan.json, status.json, leaderboard.json, leaderboard.csv,
                                  .lock, report.html
    runs/<group>/<trial>/         model.h5, metadata.json, events.jsonl, result.json,
                                  job.json, error.json, worker.log, waiting,
                                  attempts/<n>/
    .models/cartpole-rl-remote    the best model (``-f``): NAME.h5 beside NAME.json

Plain names only, no imports beyond ``pathlib``: serving and remote read them too.
"""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = ".models/cartpole-rl-remote"  # the ``-f`` default; ``.h5`` is optional
RUNS_DIR = "runs"

# A trial's folder: runs/<group>/<trial>/
MODEL_FILE = "model.h5"
METADATA_FILE = "metadata.json"
EVENTS_FILE = "events.jsonl"
RESULT_FILE = "result.json"
JOB_FILE = "job.json"  # written by the group runner, read by the worker
ERROR_FILE = "error.json"  # a worker's failure
LOG_FILE = "worker.log"  # a worker's stderr
WAITING_FILE = "waiting"  # there while the trial waits for peers (grid/first_rung.py)
ATTEMPTS_DIR = "attempts"  # attempts/<n>/: events and log of earlier attempts
PENDING_SUFFIX = ".pending"  # .model.h5.pending: a new .h5 waiting for its rename

# A group's folder: runs/<group>/
PLAN_FILE = "plan.json"
STUDY_FILE = "study.db"  # the group's Optuna study (grid/study.py), unless --storage
STATUS_FILE = "status.json"
LEADERBOARD_JSON = "leaderboard.json"
LEADERBOARD_CSV = "leaderboard.csv"
LOCK_FILE = ".lock"  # held by the process that runs the group
REPORT_FILE = "report.html"


def model_paths(file_name: str | Path) -> tuple[Path, Path]:
    """``-f`` value -> (.h5 path, metadata .json path); a trailing .h5 is optional."""
    base = Path(file_name)
    if base.suffix in (".h5", ".hdf5"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".h5"), base.with_name(base.name + ".json")
