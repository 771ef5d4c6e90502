"""`cartpole train` as library code: validate everything, plan the group, run it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cartpole.envs.make import describe
from cartpole.errors import ConfigError, RenderError
from cartpole.fileio import check_writable_dir, check_writable_file
from cartpole.grid.backends import BACKENDS, make_backend
from cartpole.grid.leaderboard import check_group_name, new_group_name
from cartpole.grid.plan import Plan, Trial, make_trials
from cartpole.grid.runner import GroupOutcome, GroupRun, run_group
from cartpole.grid.space import parse_space
from cartpole.grid.spec import expand, varying
from cartpole.grid.study import (
    STORAGE_ENV,
    STUDY_MODULES,
    SearchOptions,
    check_storage,
    joined_plan,
    same_storage,
    shown_url,
)
from cartpole.hparams import HPARAM_NAMES, HParams, coerce
from cartpole.metrics.engines import check_engines, export_secrets, shown_settings
from cartpole.paths import DEFAULT_MODEL, PLAN_FILE, RESULT_FILE, RUNS_DIR, model_paths
from cartpole.training.loop import TrialSpec
from cartpole.training.result import FINISHED, read_result

log = logging.getLogger(__name__)


@dataclass
class TrainRequest:
    """Everything ``cartpole train`` was asked to do."""

    spec: TrialSpec = field(default_factory=TrialSpec)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    seeds: int = 1
    file_name: str = DEFAULT_MODEL
    runs_dir: str = RUNS_DIR
    group: str | None = None
    resume: str | None = None
    gif_path: str | None = None
    threads: int = 1
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    backend: str = "local"
    ray_address: str | None = None
    keep_top: int | None = None
    metrics_engines: tuple[str, ...] = ("console",)
    metrics_config: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    search: str = "grid"  # grid, random, tpe (grid/study.py)
    space: dict[str, list[Any]] = field(default_factory=dict)  # a sampled search's ranges
    n_sampled: int | None = None  # --trials
    prune: str = "none"
    storage: str | None = None  # an Optuna storage URL; None: study.db in the group folder
    joined: bool = field(default=False, init=False)  # plan() took another command's plan
    _combos: list[HParams] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # Credentials go to the environment: nothing the run writes may hold one.
        self.metrics_config = export_secrets(self.metrics_config)

    def combinations(self) -> list[HParams]:
        """Every combination of the grid; unnamed hyperparameters keep their defaults.

        Expanded once: ``validate`` and ``plan`` share the list.
        """
        if self._combos is None:
            self._combos = expand(self.grid)
        return self._combos

    def search_options(self) -> SearchOptions:
        return SearchOptions(self.search, self.prune, self.storage, self.n_sampled)

    def n_trials(self) -> int:
        if self.search != "grid":
            return self.n_sampled or 0
        n = self.seeds
        for values in self.grid.values():
            n *= len(values)
        return n

    def validate(self) -> None:
        """Check every input before anything is written; raise a CartpoleError if bad."""
        options = self.search_options()  # checks the method, pruner and --trials
        spec = self.spec
        for name in ("steps", "episodes", "max_episode_steps"):
            value = getattr(spec, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        _at_least("seed", spec.seed, 0)
        _at_least("confirm_episodes", spec.confirm_episodes, 0)
        _at_least("threads", self.threads, 1)
        _at_least("workers", self.workers, 1)
        _at_least("seeds", self.seeds, 1)
        if self.keep_top is not None:
            _at_least("keep_top", self.keep_top, 1)
        if self.backend not in BACKENDS:
            raise ConfigError(f"unknown backend {self.backend!r} (choose from local, ray)")
        if self.backend == "ray":
            from cartpole.grid.backends.ray import check_ray, cluster_address

            check_ray(self.ray_address)
            if (cluster_address(self.ray_address) and options.uses_study
                    and self.storage is None):
                raise ConfigError("on a Ray cluster the trials report to the study from "
                                  "other machines: give --storage a database they reach")
        if self.group is not None:
            check_group_name(self.group)
        if self.storage is not None and self.resume is None:
            shown_url(self.storage)
            check_storage(self.storage)  # reachable, before anything is written
        if self.resume is not None:
            check_group_name(self.resume)
            if not (Path(self.runs_dir) / self.resume).is_dir():
                raise ConfigError(f"no group {self.resume!r} in {self.runs_dir}/ to resume")
        elif options.method == "grid":
            self.combinations()  # every combination must be a valid HParams
            if options.prune != "none" and len(self.grid.get("eval_every", ())) > 1:
                raise ConfigError("--prune compares trials at the same evaluation steps: "
                                  "give --eval-every one value")
        else:
            if self.seeds != 1:
                raise ConfigError(f"--search {options.method} trains each sampled "
                                  "combination once: leave --seeds at 1")
            if not self.distributions():
                raise ConfigError(f"--search {options.method} needs at least one range or "
                                  "list to sample, e.g. --learning-rate 1e-4:1e-2:log")
        describe(spec.env_id, spec.max_episode_steps)
        if spec.render:
            check_display()
        h5, meta = model_paths(self.file_name)
        check_writable_file(h5, "model file")
        check_writable_file(meta, "metadata file")
        check_writable_dir(self.runs_dir, "runs folder")
        if self.gif_path:
            if Path(self.gif_path).suffix.lower() != ".gif":
                raise ConfigError(f"the GIF file must end in .gif, got {self.gif_path}")
            check_writable_file(self.gif_path, "GIF file")
        check_engines(self.metrics_engines, self.metrics_config)

    def distributions(self) -> dict[str, Any]:
        """A sampled search's space: one Optuna distribution per hyperparameter that
        varies (a range or a list); values given once are fixed in the base spec."""
        space = {}
        for name, raw in self.space.items():
            if name not in HPARAM_NAMES:
                raise ConfigError(f"unknown hyperparameter {name!r}")
            distribution = parse_space(name, raw)
            if distribution is not None:
                space[name] = distribution
        return space

    def base_spec(self) -> TrialSpec:
        """The spec every sampled trial starts from: defaults and single values."""
        fixed = {n: raw[0] for n, raw in self.space.items()
                 if n in HPARAM_NAMES and n not in self.distributions()}
        base = HParams.from_dict({**self.spec.hparams.to_dict(),
                                  **{n: coerce(n, v) for n, v in fixed.items()}})
        return TrialSpec(**{**self.spec.__dict__, "hparams": base})

    def plan(self) -> Plan:
        group_dir_root = Path(self.runs_dir)
        if self.resume:
            return Plan.load(group_dir_root / self.resume)
        group = self.group or new_group_name()
        if (group_dir_root / group / PLAN_FILE).exists():
            raise ConfigError(f"group {group!r} already exists in {self.runs_dir}/; "
                              f"use --resume {group} to finish it")
        options = self.search_options()
        if self.storage is not None and self.group is not None:
            joined = joined_plan(group, self.storage)  # another command's shared study
            if joined is not None:
                self.joined = True
                return joined
        search = {"search": options.to_dict()} if options.uses_study else {}
        if options.method != "grid":
            from optuna.distributions import distribution_to_json

            space = self.distributions()
            search["search"].update(
                space={n: distribution_to_json(d) for n, d in space.items()},
                base=self.base_spec().to_dict())
            return Plan(group, [], {"varying": list(space), "seeds": 1, **search})
        combos = self.combinations()
        return Plan(group, make_trials(combos, self.spec, self.seeds),
                    {"varying": varying(combos), "seeds": self.seeds, **search})


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise ConfigError(f"{name} must be >= {low}, got {value}")


def check_display() -> None:
    """Fail unless a window can really be opened (a stale $DISPLAY crashes SDL)."""
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise RenderError("-r/--render needs a display and none was found "
                          "($DISPLAY is unset); use --gif FILE to record an episode")
    # SDL quietly falls back to an off-screen driver when no server answers; that is
    # not a display, and rendering to it later crashes.
    probe = ("import os, sys; os.environ['PYGAME_HIDE_SUPPORT_PROMPT'] = '1'; import pygame; "
             "pygame.display.init(); "
             "sys.exit(pygame.display.get_driver() in ('offscreen', 'dummy'))")
    try:
        ok = subprocess.run([sys.executable, "-c", probe], capture_output=True,
                            timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    if not ok:
        raise RenderError(f"-r/--render cannot open a window on display "
                          f"{os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')}; "
                          "use --gif FILE to record an episode instead")


def plan_train(request: TrainRequest) -> dict[str, Any]:
    """``--dry-run``: check everything and return the planned trials, as the JSON result
    would list them, without training or writing anything."""
    from cartpole.grid.runner import combo_label

    request.validate()
    plan = request.plan()
    group_dir = Path(request.runs_dir) / plan.group
    names = plan.options.get("varying", [])
    trials = [{"trial": t.trial,
               "status": _finished(t, group_dir) or "planned",
               "seed": t.spec.seed, "steps": t.spec.step_budget, "episodes": t.spec.episodes,
               "label": combo_label(t.spec.hparams.to_dict(), names),
               "hparams": t.spec.hparams.to_dict()} for t in plan.trials]
    planned = {"group": plan.group, "state": "planned", "model": None, "score": None,
               "hparams": None, "trial": None, "run_dir": str(group_dir), "trials": trials,
               "metrics": shown_settings(request.metrics_engines, request.metrics_config)}
    search = plan.options.get("search")
    if search:
        planned["search"] = {k: v for k, v in search.items() if k != "base"}
    return planned


def _finished(trial: Trial, group_dir: Path) -> str | None:
    """How the trial finished ("completed" or "pruned"), or None."""
    result = read_result(trial.dir(group_dir) / RESULT_FILE)
    return result.status if result is not None and result.status in FINISHED else None


def run_train(request: TrainRequest) -> GroupOutcome:
    """Run (or resume) a group, publish its best model, record a GIF if asked."""
    request.validate()
    plan = request.plan()
    group_dir = Path(request.runs_dir) / plan.group
    todo = sum(not t.is_complete(group_dir) for t in plan.trials)
    search = SearchOptions.from_dict(plan.options.get("search"),
                                     _plan_storage(plan, request.storage))
    run = GroupRun(
        plan=plan, group_dir=group_dir, file_name=request.file_name,
        # A study hands out trials as workers free up: never the one-trial in-process runner.
        backend=make_backend(request.backend, max(todo, 2) if search.uses_study else todo,
                             request.workers,
                             request.threads, request.ray_address, request.progress,
                             STUDY_MODULES if search.uses_study else ()),
        keep_top=request.keep_top,
        varying=plan.options.get("varying", []),
        job_options={"threads": request.threads, "metrics_engines": request.metrics_engines,
                     "metrics_config": request.metrics_config},
    )
    run.search = search
    run.fresh_study = search.storage is not None and not request.resume and not request.joined
    outcome = run_group(run)
    if request.gif_path and outcome.result["model"]:
        spec = next(t.spec for t in plan.trials if t.trial == outcome.result["trial"])
        outcome.result.update(_record(request.gif_path, outcome.result["model"], spec))
    return outcome


def _plan_storage(plan: Plan, storage: str | None) -> str | None:
    """The whole URL of the plan's study storage: ``storage`` (from --storage or
    $CARTPOLE_STORAGE) if it names the same database; ConfigError if the plan's study is
    elsewhere and ``storage`` does not name it; None for a study in the group's folder."""
    shown = (plan.options.get("search") or {}).get("storage")
    if shown is None:
        return None  # the group's own study.db, whatever the environment says
    if storage is None:
        return shown  # a URL without a password works as it is
    if not same_storage(storage, shown):
        raise ConfigError(f"group {plan.group}'s study is in {shown}; --storage (or "
                          f"${STORAGE_ENV}) names {shown_url(storage)}")
    return storage


def _record(gif_path: str, model: str, spec: TrialSpec) -> dict[str, Any]:
    from cartpole.agent.h5 import load_policy
    from cartpole.envs.gif import record_gif

    score = record_gif(gif_path, load_policy(model), spec.env_id, spec.max_episode_steps,
                       seed=spec.seed + 7)
    return {"gif": gif_path, "gif_score": score}
