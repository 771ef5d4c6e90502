"""A group's trials handed out by its Optuna study, one at a time, as workers free up.

The runner asks ``next_trial`` for the next trial to run: a grid's trials were enqueued
in the study (``register``), and a sampled search asks its sampler for a new one until
the study holds ``--trials`` of them. When a trial ends, ``finish`` tells the study its
score or that it was pruned. See ``study.py`` for the study itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cartpole.grid import space
from cartpole.grid import study as studies
from cartpole.grid.backends import Job
from cartpole.grid.plan import Plan, Trial
from cartpole.grid.study import Claimed, SearchOptions
from cartpole.training.loop import TrialSpec


class StudyQueue:
    """The study of ``plan``'s group, as the runner's source of trials."""

    def __init__(self, plan: Plan, group_dir: Path, search: SearchOptions,
                 on_new: Callable[[Trial], None]) -> None:
        self.plan, self.group_dir, self.search, self.on_new = plan, group_dir, search, on_new
        base = _base_spec(plan)
        self.base, self.eval_every = base, base.hparams.eval_every
        self.url = studies.storage_url(group_dir, search)
        self.shared = search.storage is not None
        self.study = studies.load(plan.group, self.url, search.prune, self.eval_every,
                                  search.method, base.seed)
        self.distributions = self._distributions()
        self.claimed: dict[str, Claimed] = {}
        if studies.PLAN_ATTR not in self.study.user_attrs:  # for commands that join it
            self.study.set_user_attr(studies.PLAN_ATTR, plan.to_dict())
        if self.url != studies.shown_url(self.url):
            os.environ[studies.STORAGE_ENV] = self.url  # the trials' processes inherit it

    def _distributions(self) -> dict[str, Any]:
        from optuna.distributions import json_to_distribution

        ranges = self.plan.options.get("search", {}).get("space")
        if ranges is not None:  # a sampled search's
            return {n: json_to_distribution(d) for n, d in ranges.items()}
        values: dict[str, list[Any]] = {}
        for t in self.plan.trials:
            for name, value in t.spec.hparams.to_dict().items():
                values.setdefault(name, []).append(value)
        grid = {n: list(dict.fromkeys(map(_hashable, v))) for n, v in values.items()}
        return space.grid_distributions({n: v for n, v in grid.items() if len(v) > 1})

    def register(self, todo: list[Trial]) -> None:
        """Enqueue each trial to run that the study does not hold as waiting, running or
        finished: every trial of a new grid; on --resume, those that failed or were
        interrupted (and, in a group-local study, those a killed runner left running)."""
        import optuna

        state = optuna.trial.TrialState
        known = studies.known_trials(self.study)
        for t in todo:
            frozen = known.get(t.trial)
            if frozen is not None and frozen.state == state.RUNNING and not self.shared:
                self.study.tell(frozen.number, state=state.FAIL)  # ours, left by a kill
                frozen = None
            if frozen is None or frozen.state == state.FAIL:
                studies.enqueue(self.study, t.trial, t.spec.seed, self.params(t))

    def params(self, trial: Trial) -> dict[str, Any]:
        hp = trial.spec.hparams.to_dict()
        return {n: space.param_value(n, hp[n]) for n in self.distributions}

    def next_trial(self) -> Trial | None:
        """The next trial to run, taken from the study; None when there is none left."""
        claimed = studies.claim(self.study, self.distributions)
        by_id = {t.trial: t for t in self.plan.trials}
        if claimed is None and self.search.method != "grid":
            if len(studies.known_trials(self.study)) >= (self.search.trials or 0):
                return None
            claimed = studies.sample(self.study, self.distributions, self.base.seed)
            spec = TrialSpec(**{**self.base.__dict__,
                                "hparams": space.hparams_from_params(self.base.hparams,
                                                                       claimed.params)})
            trial = Trial(claimed.trial, spec)
            self.plan.trials.append(trial)
            self.plan.save(self.group_dir)
            self.on_new(trial)
            by_id[trial.trial] = trial
        if claimed is None:
            return None
        if claimed.trial not in by_id:  # another plan's trial in this study: not ours
            studies.tell(self.study, claimed, "failed", None)
            return self.next_trial()
        self.claimed[claimed.trial] = claimed
        return by_id[claimed.trial]

    def jobs(self, prepare: Callable[[Trial, dict[str, Any]], Job]) -> Iterator[Job]:
        """A job for each trial the study hands out, prepared (``prepare(trial, job
        options)``) as it is taken."""
        while (trial := self.next_trial()) is not None:
            yield prepare(trial, self.job_options(trial.trial))

    def job_options(self, trial: str) -> dict[str, Any]:
        """What the trial's process needs to report to the study (no password)."""
        claimed = self.claimed[trial]
        return {"study": {"storage": studies.shown_url(self.url), "prune": self.search.prune,
                          "eval_every": self.eval_every, "trial_id": claimed.trial_id,
                          "number": claimed.number}}

    def finish(self, trial: str, record: dict[str, Any]) -> None:
        """A trial ended (``record``: the runner's record of it): tell the study."""
        claimed = self.claimed.pop(trial, None)
        if claimed is not None:
            studies.tell(self.study, claimed, record.get("status", "failed"),
                         record.get("score"))

    def elsewhere(self, records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Updates for the trials still pending here (``records``: the runner's) that
        another command sharing the study ran or is running: status "elsewhere", with
        the score it told the study, if any (their files are on that machine)."""
        import optuna

        state = optuna.trial.TrialState
        updates = {}
        for name, frozen in studies.known_trials(self.study).items():
            record = records.get(name)
            if record is None or record["status"] != "pending" or frozen.state not in (
                    state.COMPLETE, state.PRUNED, state.RUNNING):
                continue
            updates[name] = {"status": "elsewhere", "score": frozen.value,
                             "error": f"{frozen.state.name.lower()} in another command's "
                                      "run of this shared study"}
        return updates


def _base_spec(plan: Plan) -> TrialSpec:
    base = plan.options.get("search", {}).get("base")
    if base is not None:
        return TrialSpec.from_dict(base)
    return plan.trials[0].spec


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value

