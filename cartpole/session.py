"""`cartpole train` as library code: validate everything, then run and publish."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole import artifacts
from cartpole.envs import describe
from cartpole.errors import ConfigError, RenderError
from cartpole.fileio import check_writable_dir, check_writable_file
from cartpole.group import check_group_name, group_result, new_group_name, write_leaderboard
from cartpole.metrics.engines import build_sinks
from cartpole.train import TrialSpec

log = logging.getLogger(__name__)


@dataclass
class TrainRequest:
    """Everything ``cartpole train`` was asked to do: the trial, and where its outputs go."""

    spec: TrialSpec = field(default_factory=TrialSpec)
    file_name: str = ".models/cartpole-rl-remote"
    runs_dir: str = "runs"
    group: str | None = None
    gif_path: str | None = None
    threads: int = 1
    metrics_engines: tuple[str, ...] = ("console",)
    metrics_config: dict[str, Any] = field(default_factory=dict)
    progress: bool = True

    def validate(self) -> None:
        """Check every input before anything is written; raise a CartpoleError if bad."""
        spec = self.spec
        if spec.seed < 0:
            raise ConfigError(f"seed must be >= 0, got {spec.seed}")
        for name in ("steps", "episodes", "max_episode_steps"):
            value = getattr(spec, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if spec.confirm_episodes < 0:
            raise ConfigError(f"confirm_episodes must be >= 0, got {spec.confirm_episodes}")
        if not isinstance(spec.stop_on_solve, bool):
            raise ConfigError(f"stop_on_solve must be true or false, got {spec.stop_on_solve!r}")
        if self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.group is not None:
            check_group_name(self.group)
        describe(spec.env_id, spec.max_episode_steps)
        if spec.render and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise RenderError("-r/--render needs a display and none was found "
                              "($DISPLAY is unset); use --gif FILE to record an episode")
        h5, meta = artifacts.model_paths(self.file_name)
        check_writable_file(h5, "model file")
        check_writable_file(meta, "metadata file")
        check_writable_dir(self.runs_dir, "runs folder")
        if self.gif_path:
            check_writable_file(self.gif_path, "GIF file")
        for sink in build_sinks(self.metrics_engines, self.metrics_config):
            sink.close()


def run_train(request: TrainRequest) -> dict[str, Any]:
    """Train one trial into ``runs/<group>/t000/``, publish its model, return the result."""
    from cartpole.progress import make_progress
    from cartpole.runtime import configure_tensorflow
    from cartpole.trial import train_into

    request.validate()
    group = request.group or new_group_name()
    group_dir = Path(request.runs_dir) / group
    trial = "t000"
    trial_dir = group_dir / trial
    created = [d for d in (Path(request.runs_dir), group_dir) if not d.exists()]
    if trial_dir.exists():
        raise ConfigError(f"{trial_dir} already exists; pick another --group")
    spec = request.spec
    configure_tensorflow(request.threads)
    sinks = build_sinks(request.metrics_engines, request.metrics_config)
    budget = spec.step_budget
    display = (make_progress(budget if budget else spec.episodes,
                             "steps" if budget else "episodes")
               if request.progress else None)
    try:
        record = train_into(spec, trial_dir, group, trial, sinks, display)
    except BaseException:
        # An unfinished trial leaves nothing behind, not even the folders made for it.
        shutil.rmtree(trial_dir, ignore_errors=True)
        for folder in reversed(created):
            if folder.exists() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    finally:
        if display:
            display.close()
    trials = [record]
    write_leaderboard(group_dir, trials)
    h5, _ = artifacts.publish_model(trial_dir, request.file_name)
    if request.gif_path:
        _record(request, trial_dir)
    return group_result(group, group_dir, trials, h5)


def _record(request: TrainRequest, trial_dir: Path) -> None:
    from cartpole.agent.h5weights import load_policy
    from cartpole.record import record_gif

    policy = load_policy(trial_dir / artifacts.MODEL_FILE)
    spec = request.spec
    score = record_gif(request.gif_path, policy, spec.env_id, spec.max_episode_steps,
                       seed=spec.seed + 7)
    log.info("recorded a greedy episode (score %.0f) to %s", score, request.gif_path)
