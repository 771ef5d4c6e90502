"""A group as the report sees it: its status, every trial's record and curves, its ranking.

Everything comes from the files a group leaves in ``runs/<group>/``, so a report can be
made while the group trains, after it was interrupted, or long after it finished.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.errors import ConfigError
from cartpole.grid.leaderboard import rank_combinations
from cartpole.grid.runner import combo_label
from cartpole.grid.status import latest_group, read_status
from cartpole.paths import EVENTS_FILE, METADATA_FILE, PLAN_FILE, RESULT_FILE, STATUS_FILE
from cartpole.report.curves import Curves, read_curves
from cartpole.report.study import SearchStudy, load_search
from cartpole.training.result import read_result


@dataclass
class TrialData:
    """One trial: what status.json and result.json say of it, and its curves."""

    trial: str
    status: str
    seed: int | None
    hparams: dict[str, Any]
    label: str  # its varying hyperparameters, e.g. "gamma=0.9 batch_size=32"
    curves: Curves
    score: float | None = None
    score_std: float | None = None
    steps: int | None = None
    episodes: int | None = None
    seconds: float | None = None
    solved_at_step: int | None = None
    error: str | None = None
    live_eval: float | None = None  # last evaluation of a trial still running
    name: str = ""  # how figures and tables call it: trial id, label, seed when several

    def record(self) -> dict[str, Any]:
        """The trial in the form the leaderboard ranks."""
        return {"trial": self.trial, "status": self.status, "score": self.score,
                "hparams": self.hparams, "steps": self.steps or 0,
                "seconds": self.seconds or 0.0}


@dataclass
class GroupData:
    name: str
    dir: Path
    state: str
    backend: str
    started: str | None
    updated: str | None
    env_id: str | None
    reward_threshold: float | None
    varying: list[str]
    seeds: int
    trials: list[TrialData] = field(default_factory=list)
    leaderboard: list[dict[str, Any]] = field(default_factory=list)
    search: SearchStudy | None = None  # the group's Optuna study, if it has one

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self.trials:
            counts[t.status] = counts.get(t.status, 0) + 1
        return counts


def resolve_group(runs_dir: Path, group: str | None) -> Path:
    """The folder of ``group`` in ``runs_dir``, or of the group that changed last."""
    if group is None:
        return latest_group(runs_dir)
    group_dir = runs_dir / group
    if not (group_dir / STATUS_FILE).is_file():
        raise ConfigError(f"no group {group!r} in {runs_dir}/ (no {STATUS_FILE})")
    return group_dir


def load_group(group_dir: Path) -> GroupData:
    """Read a group folder; trials that failed, never ran or still run are kept as such."""
    status = read_status(group_dir)
    plan = _read_optional(group_dir / PLAN_FILE) or {}
    options = plan.get("options", {})
    entries: dict[str, dict[str, Any]] = status.get("trials", {})
    names = [t["trial"] for t in plan.get("trials", []) if t.get("trial") in entries]
    names += sorted(set(entries) - set(names))
    varying = list(status.get("varying") or options.get("varying") or
                   _varying(entries[n].get("hparams", {}) for n in names))
    seeds = int(options.get("seeds") or 1)
    stale = status.get("state") == "stale"
    trials = [_trial(group_dir / n, n, entries[n], varying, seeds, stale) for n in names]
    metadata = [_read_optional(group_dir / n / METADATA_FILE) or {} for n in names]
    env_id = next((t["spec"].get("env_id") for t in plan.get("trials", [])
                   if isinstance(t.get("spec"), dict)), None)
    env_id = env_id or next((m["env_id"] for m in metadata if m.get("env_id")), None) or next(
        (t.curves.env_id for t in trials if t.curves.env_id), None)
    threshold = next((m["reward_threshold"] for m in metadata
                      if m.get("reward_threshold") is not None), None)
    name = status.get("group", group_dir.name)
    return GroupData(
        name=name, dir=group_dir,
        state=status.get("state", "unknown"), backend=status.get("backend", "local"),
        started=status.get("started"), updated=status.get("updated"), env_id=env_id,
        reward_threshold=threshold, varying=varying, seeds=seeds, trials=trials,
        leaderboard=rank_combinations([t.record() for t in trials]) if trials else [],
        search=load_search(group_dir, name, options.get("search")),
    )


def _trial(trial_dir: Path, trial: str, entry: dict[str, Any], varying: list[str],
           seeds: int, stale: bool) -> TrialData:
    written = read_result(trial_dir / RESULT_FILE)
    result = written.to_dict() if written is not None else {}
    curves = read_curves(trial_dir / EVENTS_FILE)
    hparams = entry.get("hparams") or result.get("hparams") or {}
    status = entry.get("status", "pending")
    if stale and status == "running":
        status = "stale"  # the group's process is gone; this trial will not finish
    known = {**result, **{k: v for k, v in entry.items() if v is not None}}
    label = combo_label(hparams, [n for n in varying if n in hparams])
    seed = known.get("seed")
    name = " ".join(p for p in (trial, label, f"seed={seed}" if seeds > 1 else "") if p)
    return TrialData(
        trial=trial, status=status, seed=seed, hparams=hparams, label=label, curves=curves,
        score=known.get("score"), score_std=known.get("score_std"),
        steps=known.get("steps", known.get("step", curves.last_step)),
        episodes=known.get("episodes", curves.episodes or None),
        seconds=known.get("seconds"), solved_at_step=known.get("solved_at_step"),
        error=known.get("error"), live_eval=entry.get("eval"), name=name,
    )


def _varying(hparam_dicts: Any) -> list[str]:
    """Names whose values differ between trials (for groups whose status lacks the list)."""
    dicts = [d for d in hparam_dicts if d]
    if not dicts:
        return []
    return [n for n in dicts[0] if any(d.get(n) != dicts[0][n] for d in dicts[1:])]


def _read_optional(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
