"""A group's trials handed out by its Optuna study, one at a time, as workers free up.

The runner asks ``next_trial`` for the next trial to run: a grid's trials were enqueued
in the study (``register``), and a sampled search asks its sampler for a new one until
the study holds ``--trials`` of them. When a trial ends, ``finish`` tells the study its
score or that it was pruned. See ``study.py`` for the study itself.
"""

from __future__ import annotations

import logging
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
from cartpole.training.stopping import signals_held

log = logging.getLogger(__name__)


class StudyQueue:
    """The study of ``plan``'s group, as the runner's source of trials."""

    def __init__(self, plan: Plan, group_dir: Path, search: SearchOptions,
                 on_new: Callable[[Trial], None], fresh: bool = False,
                 wait: bool = False) -> None:
        """``fresh``: a new group with a shared study, which must not exist yet (two
        commands starting the same group at once: one starts it, the other is told to
        join). ``wait``: the backend gives a trial's worker to another while the trial
        waits for peers at the pruner's first rung (``first_rung.py``)."""
        self.plan, self.group_dir, self.search, self.on_new = plan, group_dir, search, on_new
        self.wait = wait
        base = _base_spec(plan)
        self.base, self.eval_every = base, base.hparams.eval_every
        self.url = studies.storage_url(group_dir, search)
        self.shared = search.storage is not None
        self.study = studies.load(plan.group, self.url, search.prune, self.eval_every,
                                  search.method, base.seed, exclusive=fresh)
        # The command whose plan this is enqueues its trials, then publishes the plan; a
        # command that joined takes trials, and enqueues only reruns of failed ones.
        self.owner = studies.PLAN_ATTR not in self.study.user_attrs
        self.distributions = self._distributions()
        self.claimed: dict[str, Claimed] = {}
        self.broken = False
        # The trials' processes take the whole URL (password and all) from here, never from
        # job.json; any other value the variable had is not this study's.
        os.environ[studies.STORAGE_ENV] = self.url

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
        if not self.shared:
            # No trial of a group-local study runs while its runner starts (it holds the
            # group's lock): one left RUNNING was killed or interrupted, even one taken
            # from the study and never started or written into plan.json.
            for frozen in self.study.get_trials(deepcopy=False, states=(state.RUNNING,)):
                self.study.tell(frozen.number, state=state.FAIL)
        known = studies.known_trials(self.study)
        for t in todo:
            frozen = known.get(t.trial)
            if (frozen is None and self.owner) or (
                    frozen is not None and frozen.state == state.FAIL):
                studies.enqueue(self.study, t.trial, t.spec.seed, self.params(t))
        if self.owner:  # now commands may join
            self.study.set_user_attr(studies.PLAN_ATTR, self.plan.to_dict())

    def params(self, trial: Trial) -> dict[str, Any]:
        hp = trial.spec.hparams.to_dict()
        return {n: space.param_value(n, hp[n]) for n in self.distributions}

    def next_trial(self) -> Trial | None:
        """The next trial to run, taken from the study; None when there is none left, or
        when the study's storage fails (said once: the trials running go on)."""
        if self.broken:
            return None
        try:
            with signals_held():
                return self._next_trial()
        except Exception as exc:  # noqa: BLE001 - a database failure ends the handing out
            self.broken = True
            log.error("the study's storage failed (%s); no more trials are started",
                      str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
            return None

    def _next_trial(self) -> Trial | None:
        claimed = studies.claim(self.study, self.distributions)
        by_id = {t.trial: t for t in self.plan.trials}
        if claimed is None and self.search.method != "grid":
            if self._sampled() >= (self.search.trials or 0):
                return None
            claimed = studies.sample(self.study, self.distributions, self.base.seed)
            by_id[claimed.trial] = self._adopt(claimed)
        if claimed is None:
            return None
        if claimed.trial not in by_id:
            if self.search.method == "grid":  # another plan's trial in this study: not ours
                studies.tell(self.study, claimed, "failed", None)
                return self._next_trial()
            # a sampled trial another command enqueued again (its rerun): run it here
            by_id[claimed.trial] = self._adopt(claimed)
        self.claimed[claimed.trial] = claimed
        return by_id[claimed.trial]

    def _sampled(self) -> int:
        """The sampled trials that count towards --trials: all the study holds, but one
        that failed before it reached this plan (a Ctrl-C between sampling it and saving
        plan.json), which --resume cannot rerun: another is sampled in its place."""
        import optuna

        failed = optuna.trial.TrialState.FAIL
        planned = {t.trial for t in self.plan.trials}
        return sum(1 for name, frozen in studies.known_trials(self.study).items()
                   if name in planned or frozen.state != failed)

    def jobs(self, prepare: Callable[[Trial, dict[str, Any]], Job]) -> Iterator[Job]:
        """A job for each trial the study hands out, prepared (``prepare(trial, job
        options)``) as it is taken."""
        while (trial := self.next_trial()) is not None:
            yield prepare(trial, self.job_options(trial.trial))

    def _adopt(self, claimed: Claimed) -> Trial:
        """A sampled trial as a trial of this plan (saved, and given a record)."""
        spec = TrialSpec(**{**self.base.__dict__,
                            "hparams": space.hparams_from_params(self.base.hparams,
                                                                 claimed.params)})
        trial = Trial(claimed.trial, spec)
        self.plan.trials.append(trial)
        self.plan.save(self.group_dir)
        self.on_new(trial)
        return trial

    def job_options(self, trial: str) -> dict[str, Any]:
        """What the trial's process needs to report to the study (no password), and how
        many trials the group runs (``expected``, for the pruner)."""
        claimed = self.claimed[trial]
        expected = len(self.plan.trials) if self.search.method == "grid" else self.search.trials
        return {"study": {"storage": studies.shown_url(self.url), "prune": self.search.prune,
                          "eval_every": self.eval_every, "trial_id": claimed.trial_id,
                          "number": claimed.number, "expected": expected,
                          "wait": self.wait}}

    def finish(self, trial: str, record: dict[str, Any]) -> None:
        """A trial ended (``record``: the runner's record of it): tell the study."""
        claimed = self.claimed.pop(trial, None)
        if claimed is None or self.broken:
            return
        try:
            with signals_held():
                studies.tell(self.study, claimed, record.get("status", "failed"),
                             record.get("score"))
        except Exception as exc:  # noqa: BLE001 - the trial's own files are what count
            self.broken = True
            log.error("the study's storage failed (%s); the trials' results are in their "
                      "folders", str(exc).splitlines()[0][:200] if str(exc) else
                      type(exc).__name__)

    def abandon(self) -> None:
        """Tell the study that trials taken but never finished here failed (Ctrl-C
        between taking a trial and starting it), so that --resume runs them."""
        for name in list(self.claimed):
            self.finish(name, {"status": "failed"})

    def elsewhere(self, records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Updates for the trials still pending here (``records``: the runner's) that
        another command sharing the study ran or is running: status "elsewhere", with
        the score it told the study, if any (their files are on that machine)."""
        import optuna

        state = optuna.trial.TrialState
        updates: dict[str, dict[str, Any]] = {}
        try:
            known = studies.known_trials(self.study)
        except Exception:  # noqa: BLE001 - said by next_trial/finish; nothing to add here
            return updates
        for name, frozen in known.items():
            record = records.get(name)
            if record is None or record["status"] != "pending" or frozen.state not in (
                    state.COMPLETE, state.PRUNED, state.RUNNING):
                continue
            updates[name] = {"status": "elsewhere", "score": frozen.value, "error": (
                "still running in another command sharing the study (or left running by "
                "one that was killed)" if frozen.state == state.RUNNING else
                f"{frozen.state.name.lower()} in another command sharing the study")}
        return updates


def _base_spec(plan: Plan) -> TrialSpec:
    base = plan.options.get("search", {}).get("base")
    if base is not None:
        return TrialSpec.from_dict(base)
    return plan.trials[0].spec


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value

