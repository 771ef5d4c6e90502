"""A group's live status in ``runs/<group>/status.json``, readable from another terminal.

The process that runs the group rewrites the file atomically on every change, so a
reader never sees half of it. A trial still marked running whose group process is
gone is reported as stale.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from cartpole.errors import ConfigError
from cartpole.fileio import pid_alive, read_json, write_json
from cartpole.metrics.events import utc_now
from cartpole.paths import EVENTS_FILE, STATUS_FILE
from cartpole.training.events import read_events

LIVE_TAIL_BYTES = 16_384  # how much of a running trial's events file is read


class StatusBoard:
    """The writer side: one entry per trial, saved after every change."""

    def __init__(self, group_dir: Path, group: str, backend: str,
                 trials: dict[str, dict[str, Any]], varying: list[str] | None = None) -> None:
        self.path = group_dir / STATUS_FILE
        self.data: dict[str, Any] = {
            "group": group, "backend": backend, "state": "running", "pid": os.getpid(),
            "varying": varying or [],
            "started": utc_now(), "updated": utc_now(), "trials": trials,
        }
        self.save()

    def update(self, trial: str, **fields: Any) -> None:
        entry = self.data["trials"].setdefault(trial, {})
        entry.update({k: v for k, v in fields.items() if v is not None})
        if fields.get("status") == "running":
            entry["started"] = utc_now()
            entry.pop("error", None)
        elif fields.get("status") in ("completed", "pruned", "failed", "interrupted"):
            entry["ended"] = utc_now()
        self.save()

    def finish(self, state: str) -> None:
        self.data["state"] = state
        self.save(durable=True)

    def save(self, durable: bool = False) -> None:
        """Live updates skip the fsync (they come often and are rebuilt on --resume)."""
        self.data["updated"] = utc_now()
        write_json(self.path, self.data, durable=durable)


def read_status(group_dir: Path) -> dict[str, Any]:
    data = read_json(group_dir / STATUS_FILE,
                     f"no status for {group_dir} (is it a cartpole group?)")
    if data.get("state") == "running" and not pid_alive(data.get("pid")):
        data["state"] = "stale"
    for trial, entry in data.get("trials", {}).items():
        if entry.get("status") == "running":
            entry.update(_live_progress(group_dir / trial))
    return data


def latest_group(runs_dir: Path) -> Path:
    """The group folder whose status changed last."""
    candidates = [p.parent for p in runs_dir.glob(f"*/{STATUS_FILE}")]
    if not candidates:
        raise ConfigError(f"no groups in {runs_dir}")
    return max(candidates, key=lambda d: (d / STATUS_FILE).stat().st_mtime)


def _live_progress(trial_dir: Path) -> dict[str, Any]:
    """Step and last evaluation of a running trial, from the tail of its events file."""
    path = trial_dir / EVENTS_FILE
    if not path.is_file():
        return {}
    live: dict[str, Any] = {}
    for event in reversed(read_events(path, tail_bytes=LIVE_TAIL_BYTES)):
        if "step" not in live and "total_steps" in event:
            live["step"] = event["total_steps"]
        if "eval" not in live and event.get("event") == "eval":
            live["eval"] = event["eval_mean"]
            live.setdefault("step", event["step"])
        if len(live) == 2:
            break
    live["age"] = round(time.time() - path.stat().st_mtime, 1) if path.exists() else None
    return live
