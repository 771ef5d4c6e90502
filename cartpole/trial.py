"""Run one trial into its run folder: model, metadata, events and result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cartpole import artifacts
from cartpole.envs import EnvInfo, describe
from cartpole.fileio import write_json
from cartpole.metrics import Recorder, Sink
from cartpole.metrics.jsonl import JsonLinesSink
from cartpole.train import ProgressFn, TrialOutcome, TrialSpec, run_trial


def train_into(
    spec: TrialSpec,
    trial_dir: Path,
    group: str,
    trial: str,
    sinks: list[Sink] | None = None,
    on_progress: ProgressFn | None = None,
    extra: dict[str, Callable[[], Any]] | None = None,
) -> dict[str, Any]:
    """Train, then write the trial's files atomically; return its result record."""
    info = describe(spec.env_id, spec.max_episode_steps)
    trial_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder([JsonLinesSink(trial_dir / artifacts.EVENTS_FILE), *(sinks or [])])
    try:
        outcome = run_trial(spec, recorder, group, trial, on_progress)
        saved = _save(spec, outcome, info, trial_dir, group, trial)
        recorder.log_artifacts(saved)
    finally:
        recorder.close()
    result = result_record(spec, outcome, trial, trial_dir)
    result.update({name: measure() for name, measure in (extra or {}).items()})
    write_json(trial_dir / artifacts.RESULT_FILE, result)
    return result


def _save(spec: TrialSpec, outcome: TrialOutcome, info: EnvInfo, trial_dir: Path,
          group: str, trial: str) -> list[Path]:
    """Write the best model (if any) and the metadata; return the paths written."""
    saved: list[Path] = []
    if outcome.best_weights is not None:
        artifacts.save_keras_h5(trial_dir / artifacts.MODEL_FILE, info.obs_dim, info.n_actions,
                                spec.hparams.hidden_sizes, outcome.best_weights)
        saved.append(trial_dir / artifacts.MODEL_FILE)
    artifacts.write_metadata(trial_dir / artifacts.METADATA_FILE, {
        "group": group,
        "trial": trial,
        "env_id": spec.env_id,
        "max_episode_steps": info.max_episode_steps,
        "reward_threshold": info.reward_threshold,
        "observation_space": info.observation_space,
        "action_space": info.action_space,
        "hparams": spec.hparams.to_dict(),
        "seed": spec.seed,
        "score": outcome.best_score,
        "score_std": outcome.best_std,
        "eval_episodes": spec.hparams.eval_episodes,
        "confirmed_score": outcome.confirmed_score,
        "confirmed_over_episodes": spec.hparams.eval_episodes + spec.confirm_episodes
        if outcome.confirmed_score is not None else None,
        "best_step": outcome.best_step,
    })
    saved.append(trial_dir / artifacts.METADATA_FILE)
    return saved


def result_record(spec: TrialSpec, outcome: TrialOutcome, trial: str,
                  trial_dir: Path) -> dict[str, Any]:
    return {
        "trial": trial,
        "status": "interrupted" if outcome.interrupted else "completed",
        "score": outcome.best_score,
        "score_std": outcome.best_std,
        "best_step": outcome.best_step,
        "confirmed_score": outcome.confirmed_score,
        "steps": outcome.steps,
        "episodes": outcome.episodes,
        "seconds": round(outcome.seconds, 3),
        "solved": outcome.solved,
        "solved_at_step": outcome.solved_at_step,
        "solved_at_seconds": (round(outcome.solved_at_seconds, 3)
                              if outcome.solved_at_seconds is not None else None),
        "seed": spec.seed,
        "hparams": spec.hparams.to_dict(),
        "dir": str(trial_dir),
        "model": str(trial_dir / artifacts.MODEL_FILE),
        "evaluations": outcome.evaluations,
    }
