"""One cartpole trial as a Polyaxon job, reported through Polyaxon's tracking client.

    python polyaxon/entry.py [cartpole train options ...]
    python polyaxon/entry.py --gamma 0.99 --learning-rate 0.001 --batch-size 64 --seed 0

It runs ``cartpole train`` with those options as one trial (one combination of
values: a list of values would make it a grid of its own), follows the trial's
``events.jsonl`` while it trains and logs every episode and evaluation as Polyaxon
metrics, then logs the trial's result as outputs and its ``.h5`` as the run's model.

Outside a Polyaxon cluster, set ``POLYAXON_OFFLINE=1`` (and ``POLYAXON_ARTIFACTS_PATH``
to choose where): the run is written to disk for ``polyaxon ops push`` later.
Environment: ``CARTPOLE`` (the cartpole executable, default: on PATH), ``RUNS_DIR``
(default ``runs``). Exit code: cartpole's own (0 completed, 1 failed, 2 bad input,
130 interrupted).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

POLL_SECONDS = 1.0
# Event key -> Polyaxon metric name. Polyaxon also shows each metric's last value among
# the outputs, so no metric may share a name with an output (score is the trial's).
EPISODE_METRICS = {"score": "episode_score", "epsilon": "epsilon", "loss": "loss"}
EVAL_METRICS = {"eval_mean": "eval_mean", "eval_std": "eval_std", "best": "best_eval"}
OUTPUT_KEYS = ("score", "score_std", "steps", "episodes", "seconds", "solved_at_step")


class EntryError(Exception):
    """A one-line reason this trial could not be run or reported."""


def _tracking(offline: bool, artifacts_path: str | None) -> tuple[Any, str]:
    """Polyaxon's tracking module, started, and the run's uuid."""
    try:
        from polyaxon import tracking
    except ImportError as exc:
        raise EntryError(f"the Polyaxon client is missing ({exc}): "
                         "pip install -r polyaxon/requirements.txt") from None
    kwargs: dict[str, Any] = {"track_code": False, "track_env": not offline}
    if offline:
        kwargs.update(is_offline=True, is_new=True, project="cartpole",
                      run_uuid=uuid.uuid4().hex, artifacts_path=artifacts_path)
    run = tracking.init(**kwargs)
    return tracking, getattr(run, "run_uuid", None) or uuid.uuid4().hex


class EventFollower:
    """Reads the lines a trial appends to its events.jsonl, complete lines only."""

    def __init__(self, path: Path) -> None:
        self.path, self._file, self._rest = path, None, ""

    def read(self) -> list[dict[str, Any]]:
        if self._file is None:
            if not self.path.exists():
                return []
            self._file = self.path.open("r", encoding="utf-8")
        self._rest += self._file.read()
        *lines, self._rest = self._rest.split("\n")
        return [json.loads(line) for line in lines if line.strip()]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def log_event(tracking: Any, event: dict[str, Any]) -> None:
    """An episode or evaluation event as Polyaxon metrics; other events are skipped."""
    kind = event.get("event")
    if kind not in ("episode", "eval"):
        return
    names, step = (EPISODE_METRICS, event["total_steps"]) if kind == "episode" \
        else (EVAL_METRICS, event["step"])
    metrics = {name: event[key] for key, name in names.items() if event.get(key) is not None}
    tracking.log_metrics(step=step, **metrics)


def _result(stdout: TextIO) -> dict[str, Any] | None:
    """Pass cartpole's output through, and keep the JSON object it prints last (its
    contract)."""
    last = None
    out = sys.__stdout__  # Polyaxon's log tracking replaces sys.stdout
    for line in stdout:
        out.write(line)
        out.flush()
        if line.startswith("{"):
            last = line
    return json.loads(last) if last else None


def run_trial(train_args: list[str], tracking: Any, group: str, runs_dir: Path,
              cartpole: str) -> int:
    """Train one trial in group ``group``, logging as it goes; cartpole's exit code."""
    cmd = [cartpole, "train", "--group", group, "--runs-dir", str(runs_dir), *train_args]
    trial_events = runs_dir / group / "t000" / "events.jsonl"
    follower = EventFollower(trial_events)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, bufsize=1)
    # Forward a stop request to cartpole, which keeps what it has and exits 130.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: proc.send_signal(signal.SIGINT))
    outcome: dict[str, Any] = {}
    reader = threading.Thread(target=lambda: outcome.update(result=_result(proc.stdout)))
    reader.start()
    while proc.poll() is None:
        for event in follower.read():
            log_event(tracking, event)
        time.sleep(POLL_SECONDS)
    reader.join()
    for event in follower.read():
        log_event(tracking, event)
    follower.close()
    _report(tracking, outcome.get("result"), proc.returncode)
    return proc.returncode


def _report(tracking: Any, result: dict[str, Any] | None, code: int) -> None:
    if not result or not result.get("trials"):
        tracking.log_failed(reason="NoResult",
                            message=f"cartpole train exited {code} without a result")
        return
    trial = result["trials"][0]
    outputs = {k: trial[k] for k in OUTPUT_KEYS if trial.get(k) is not None}
    outputs.update(status=trial["status"], group=result["group"], trial=trial["trial"])
    tracking.log_outputs(**outputs)
    trial_dir = Path(trial["dir"])
    if (trial_dir / "model.h5").exists():
        tracking.log_model(str(trial_dir / "model.h5"), name="cartpole-dqn",
                           framework="keras", summary={"score": trial.get("score")})
    if (trial_dir / "metadata.json").exists():
        tracking.log_artifact(str(trial_dir / "metadata.json"), name="metadata")
    if code != 0:
        tracking.log_failed(reason="CartpoleExit", message=f"cartpole train exited {code}")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in args):
        print(__doc__.strip())
        return 0
    offline = os.environ.get("POLYAXON_OFFLINE", "").lower() in ("1", "true", "yes")
    cartpole = os.environ.get("CARTPOLE") or shutil.which("cartpole")
    try:
        if not cartpole:
            raise EntryError("cartpole is not on PATH (set CARTPOLE to its executable)")
        tracking, run_uuid = _tracking(offline, os.environ.get("POLYAXON_ARTIFACTS_PATH"))
        code = run_trial(args, tracking, f"polyaxon-{run_uuid[:12]}",
                         Path(os.environ.get("RUNS_DIR", "runs")), cartpole)
        tracking.end()
        return code
    except EntryError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
