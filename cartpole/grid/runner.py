"""Run a group's plan on a backend: status, leaderboard, best model, result."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from cartpole.errors import ModelMismatchError
from cartpole.fileio import exclusive, waiting_lock
from cartpole.grid.attempts import clear_for_rerun
from cartpole.grid.backends import Backend, Job
from cartpole.grid.backends.worker import write_job
from cartpole.grid.leaderboard import best_trial, group_result, write_leaderboard
from cartpole.grid.plan import Plan, Trial
from cartpole.grid.status import StatusBoard
from cartpole.grid.study import SearchOptions
from cartpole.metrics.group import GroupInfo, GroupMetrics
from cartpole.paths import LOCK_FILE, METADATA_FILE, MODEL_FILE, RESULT_FILE, model_paths
from cartpole.training import artifacts
from cartpole.training.result import FINISHED, read_result

if TYPE_CHECKING:
    from cartpole.grid.queue import StudyQueue

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ALL_FAILED, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 3, 130


@dataclass
class GroupRun:
    """A plan, where it lives, how to run it and where the best model goes."""

    plan: Plan
    group_dir: Path
    file_name: str
    backend: Backend
    job_options: dict[str, Any] = field(default_factory=dict)
    keep_top: int | None = None
    varying: list[str] = field(default_factory=list)
    search: SearchOptions = field(default_factory=SearchOptions)
    fresh_study: bool = False  # a new group whose study is shared: it must not exist yet


@dataclass
class GroupOutcome:
    result: dict[str, Any]
    exit_code: int
    records: list[dict[str, Any]]


def run_group(run: GroupRun, out: TextIO | None = None) -> GroupOutcome:
    """Run every trial of the plan that has not completed yet, then rank and publish."""
    run.group_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(run.group_dir / LOCK_FILE, f"group {run.plan.group}"):
        run.backend.start()  # its workers get ready while the plan and study are set up
        try:
            return _run_locked(run, out or sys.stdout)
        finally:
            run.backend.close()


def _run_locked(run: GroupRun, out: TextIO) -> GroupOutcome:
    plan, group_dir = run.plan, run.group_dir
    plan.save(group_dir)
    records = {t.trial: _initial_record(t, group_dir, run.varying) for t in plan.trials}
    board = StatusBoard(group_dir, plan.group, run.backend.name,
                        {k: _status_entry(r) for k, r in records.items()},
                        varying=run.varying)
    todo = [t for t in plan.trials if records[t.trial]["status"] not in FINISHED]
    labels = {k: r["label"] for k, r in records.items()}  # engines read it (a sampled
    # search adds its trials' as it samples them)
    queue = _study_queue(run, records, board, labels) if run.search.uses_study else None
    if queue is not None:
        queue.register(todo)
    starts = bool(todo) or queue is not None
    metrics = GroupMetrics(run.job_options.get("metrics_engines", ()),
                           run.job_options.get("metrics_config", {}),
                           GroupInfo(plan.group, group_dir, labels))
    options = {**run.job_options, "metrics_config": metrics.open()} if starts \
        else run.job_options
    jobs: Iterable[Job] = (
        [_prepare(t, group_dir, plan.group, options) for t in todo] if queue is None
        else queue.jobs(lambda t, more: _prepare(t, group_dir, plan.group, {**options, **more})))
    report = _reporter(out, lambda: max(len(plan.trials), run.search.trials or 0),
                       sum(r["status"] in FINISHED for r in records.values()))

    def on_update(trial: str, update: dict[str, Any]) -> None:
        records[trial].update(update)
        if queue is not None and update.get("status") != "running":
            # The study first: once status.json shows a trial ended, the study knows it
            # too, even if a Ctrl-C lands in between.
            queue.finish(trial, records[trial])
        board.update(trial, **_status_entry(records[trial]))
        report(trial, records[trial])

    interrupted = False
    try:
        run.backend.run(jobs, on_update)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if queue is not None:
            # trials taken from the study and never started (one is taken ahead): failed,
            # so that a --resume or another command sharing the study runs them
            queue.abandon()
    if queue is not None:
        for name, update in ([] if queue.broken else queue.elsewhere(records).items()):
            records[name].update(update)
            board.update(name, **_status_entry(records[name]))
    trials = [records[t.trial] for t in plan.trials]
    published = _publish(group_dir, trials, run.file_name)
    if run.keep_top is not None:
        prune_models(group_dir, trials, run.keep_top)
    write_leaderboard(group_dir, trials)
    # A pruned trial is no failure, nor one that another command sharing the study ran.
    finished = sum(t["status"] in (*FINISHED, "elsewhere") for t in trials)
    if interrupted:
        state, code = "interrupted", EXIT_INTERRUPTED
    elif finished == len(trials):
        state, code = "completed", EXIT_OK
    elif finished:
        state, code = "partial", EXIT_PARTIAL
    else:
        state, code = "failed", EXIT_ALL_FAILED
    if starts:
        metrics.close(trials, best_trial(trials), state)
    board.finish(state)
    return GroupOutcome(group_result(plan.group, group_dir, trials, published, state), code,
                        trials)


def _study_queue(run: GroupRun, records: dict[str, dict[str, Any]], board: StatusBoard,
                 labels: dict[str, str]) -> StudyQueue:
    """The study that hands out this group's trials; a trial it samples gets a record."""
    from cartpole.grid.queue import StudyQueue

    def on_new(trial: Trial) -> None:
        records[trial.trial] = _initial_record(trial, run.group_dir, run.varying)
        labels[trial.trial] = records[trial.trial]["label"]
        board.update(trial.trial, **_status_entry(records[trial.trial]))

    return StudyQueue(run.plan, run.group_dir, run.search, on_new, run.fresh_study,
                      wait=run.backend.frees_waiting)


def _initial_record(trial: Trial, group_dir: Path, varying: list[str]) -> dict[str, Any]:
    """The runner's record of a trial: its own keys (``label``, later ``pid``, ``error``...)
    and, once the trial has completed, its ``TrialResult``'s."""
    hparams = trial.spec.hparams.to_dict()
    base = {"trial": trial.trial, "seed": trial.spec.seed, "hparams": hparams,
            "dir": str(trial.dir(group_dir)), "label": combo_label(hparams, varying)}
    result = read_result(trial.dir(group_dir) / RESULT_FILE)
    if result is not None and result.status in FINISHED:
        return {**base, **result.to_dict()}
    return {**base, "status": "pending"}


def _status_entry(record: dict[str, Any]) -> dict[str, Any]:
    keys = ("status", "score", "score_std", "steps", "seconds", "seed", "pid", "error",
            "hparams", "peak_rss_mb", "undelivered")
    return {k: record[k] for k in keys if record.get(k) is not None}


def _prepare(trial: Trial, group_dir: Path, group: str, options: dict[str, Any]) -> Job:
    """Give the trial its job description in a folder cleared of the earlier attempt,
    except its best-so-far model (see ``attempts.py``), which the job names."""
    trial_dir = trial.dir(group_dir)
    previous = clear_for_rerun(trial_dir)
    attempt = secrets.token_hex(4)
    write_job(trial_dir, {"group": group, "trial": trial.trial, "spec": trial.spec.to_dict(),
                          "attempt": attempt, **options,
                          **({"previous": previous} if previous else {})})
    return Job(trial.trial, trial_dir, attempt)


def _publish(group_dir: Path, trials: list[dict[str, Any]], file_name: str) -> Path | None:
    best = best_trial(trials)
    if best is None:
        return None
    h5, _ = model_paths(file_name)
    h5.parent.mkdir(parents=True, exist_ok=True)
    with waiting_lock(h5.parent):  # the .h5/.json pair changes together, one group at a time
        _warn_if_downgrade(file_name, best, group_dir)
        try:
            artifacts.publish_model(group_dir / best["trial"], file_name)
        except ModelMismatchError as exc:  # never copy a mixed pair; keep the leaderboard
            log.error("the best model was not published: %s", exc)
            return None
    return h5


def _warn_if_downgrade(file_name: str, best: dict[str, Any], group_dir: Path) -> None:
    """The -f model is always this run's best; say so when it replaces a better or other one."""
    h5, meta_path = model_paths(file_name)
    try:
        old = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return
    new = json.loads((group_dir / best["trial"] / METADATA_FILE).read_text())
    if old.get("env_id") != new.get("env_id"):
        log.warning("replacing %s, a %s model, with a %s one; pass -f to keep both",
                    h5, old.get("env_id"), new.get("env_id"))
    elif (old.get("score") or float("-inf")) > (new.get("score") or float("-inf")):
        log.warning("replacing %s (score %.1f, group %s) with this run's best (score %.1f); "
                    "pass -f to keep both", h5, old["score"], old.get("group"), new["score"])


def prune_models(group_dir: Path, trials: list[dict[str, Any]], keep: int) -> None:
    """Delete the .h5 of every completed trial outside the ``keep`` best by score."""
    done = sorted((t for t in trials if t.get("status") == "completed"),
                  key=lambda t: -(t.get("score") or 0.0))
    for t in done[keep:]:
        (group_dir / t["trial"] / MODEL_FILE).unlink(missing_ok=True)
        t["model_pruned"] = True


def _reporter(out: TextIO, total: Callable[[], int],
              done: int) -> Callable[[str, dict[str, Any]], None]:
    """One line per trial that starts or ends, when the group has several trials."""
    finished = done

    def report(trial: str, record: dict[str, Any]) -> None:
        nonlocal finished
        n = total()
        if n == 1:
            return
        status = record["status"]
        label = record.get("label", "")
        if status == "running":
            print(f"[{finished}/{n}] {trial} started   seed {record['seed']}  {label}",
                  file=out, flush=True)
            return
        finished += 1
        if status in FINISHED:
            detail = (f"score {record['score']:.1f}  {record['steps']} steps  "
                      f"{record['seconds']:.1f} s")
        else:
            detail = record.get("error") or status
        print(f"[{finished}/{n}] {trial} {status:<9} {detail}  {label}", file=out,
              flush=True)

    return report


def combo_label(hparams: dict[str, Any], names: list[str]) -> str:
    """``gamma=0.9 batch_size=32``: the hyperparameters that vary in the group."""
    return " ".join(f"{n}={_value(v)}" for n in names for v in [hparams[n]])


def _value(value: Any) -> str:
    """A hyperparameter as a label shows it: 4 significant digits for a float (a sampled
    learning rate is 0.0006075, not 0.0006074996073425695)."""
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return f"{value:.4g}" if isinstance(value, float) else str(value)
