"""Run one trial into its run folder: model, metadata, events and result.

A rerun (``--resume``) may find the best-so-far model of an earlier, interrupted
attempt in the folder; the runner passes its figures as ``previous``. The rerun's
model replaces it only if it is at least as good (``improves``); otherwise the
earlier pair stays and the result says so (``kept``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cartpole.envs.make import EnvInfo, describe
from cartpole.metrics import Recorder, Sink
from cartpole.metrics.jsonl import JsonLinesSink
from cartpole.paths import EVENTS_FILE, METADATA_FILE, MODEL_FILE
from cartpole.training import artifacts
from cartpole.training.loop import ProgressFn, PruneFn, TrialOutcome, TrialSpec, run_trial
from cartpole.training.phases import PhaseClock
from cartpole.training.result import KEPT_PREVIOUS, TrialResult

# What a result takes from the earlier attempt whose model it keeps.
MODEL_FIGURES = ("score", "score_std", "best_step", "confirmed_score", "solved",
                 "solved_at_step", "solved_at_seconds")


def train_into(
    spec: TrialSpec,
    trial_dir: Path,
    group: str,
    trial: str,
    sinks: list[Sink] | None = None,
    on_progress: ProgressFn | None = None,
    extra: dict[str, Callable[[], Any]] | None = None,
    previous: dict[str, Any] | None = None,
    prune: PruneFn | None = None,
) -> TrialResult:
    """Train, then write the trial's files atomically; return its result (``prune``: see
    ``run_trial``).

    An error writing ``events.jsonl`` stops the trial (EventsFileError). The result's
    ``undelivered`` maps each metrics engine that gave up on events to their number;
    ``extra`` measures (such as the worker's peak memory) are taken last, into ``extra``.
    """
    info = describe(spec.env_id, spec.max_episode_steps)
    trial_dir.mkdir(parents=True, exist_ok=True)
    recorder = Recorder([JsonLinesSink(trial_dir / EVENTS_FILE), *(sinks or [])])
    clock = PhaseClock()
    try:
        outcome = run_trial(spec, recorder, group, trial, on_progress, prune)
        keep_previous = previous is not None and not improves(outcome, previous)
        with clock.timing("saving"):
            if keep_previous:  # on a Ray worker the earlier files are on the driver only
                kept = [trial_dir / MODEL_FILE, trial_dir / METADATA_FILE]
                saved = [path for path in kept if path.exists()]
            else:
                saved = _save(spec, outcome, info, trial_dir, group, trial)
            if saved:
                recorder.log_artifacts(saved)
    finally:
        with clock.timing("metrics_close"):
            undelivered = recorder.close()
    result = result_record(spec, outcome, trial, trial_dir)
    result = dataclasses.replace(result, phases={**outcome.phases, **clock.rounded()})
    if keep_previous:
        assert previous is not None
        result = dataclasses.replace(
            result, **{k: previous[k] for k in MODEL_FIGURES if k in previous},
            kept=KEPT_PREVIOUS, rerun_score=outcome.best_score)
    result = dataclasses.replace(
        result, undelivered=undelivered,
        extra={name: measure() for name, measure in (extra or {}).items()})
    result.write(trial_dir)
    return result


def improves(outcome: TrialOutcome, previous: dict[str, Any]) -> bool:
    """Whether this attempt's model should replace an earlier attempt's.

    Both were evaluated on the same seeded episodes (same plan, same seed), so their
    scores compare directly. A confirmed model beats an unconfirmed one, as in
    ``Selector``; then the higher score wins, and a tie goes to the newer attempt.
    """
    if outcome.best_weights is None or outcome.best_score is None:
        return False
    new = (outcome.confirmed_score is not None, outcome.best_score)
    old = (previous.get("confirmed_score") is not None,
           previous.get("score") if previous.get("score") is not None else float("-inf"))
    return new >= old


def _save(spec: TrialSpec, outcome: TrialOutcome, info: EnvInfo, trial_dir: Path,
          group: str, trial: str) -> list[Path]:
    """Write the best model (if any) and its metadata as a pair; return the paths."""
    h5, meta = trial_dir / MODEL_FILE, trial_dir / METADATA_FILE
    metadata = {
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
    }
    if outcome.best_weights is None:
        artifacts.write_metadata(meta, metadata)
        return [meta]
    artifacts.save_model(h5, meta, info.obs_dim, info.n_actions, spec.hparams.hidden_sizes,
                         outcome.best_weights, metadata)
    return [h5, meta]


def result_record(spec: TrialSpec, outcome: TrialOutcome, trial: str,
                  trial_dir: Path) -> TrialResult:
    return TrialResult(
        trial=trial,
        status=("interrupted" if outcome.interrupted else "pruned" if outcome.pruned
                else "completed"),
        score=outcome.best_score,
        score_std=outcome.best_std,
        best_step=outcome.best_step,
        confirmed_score=outcome.confirmed_score,
        steps=outcome.steps,
        episodes=outcome.episodes,
        seconds=round(outcome.seconds, 3),
        solved=outcome.solved,
        solved_at_step=outcome.solved_at_step,
        solved_at_seconds=(round(outcome.solved_at_seconds, 3)
                           if outcome.solved_at_seconds is not None else None),
        seed=spec.seed,
        hparams=spec.hparams.to_dict(),
        dir=str(trial_dir),
        model=str(trial_dir / MODEL_FILE),
        evaluations=outcome.evaluations,
    )
