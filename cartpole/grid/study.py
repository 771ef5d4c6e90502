"""A group's Optuna study: the record through which a search prunes, samples and is shared.

One study per group, named after it; by default an SQLite file in the group's folder
(``study.db``), or any storage Optuna takes (``--storage postgresql://...``). Every
cartpole trial is one Optuna trial, with the trial id and seed as user attributes, the
hyperparameters that vary as its params, each greedy evaluation mean as an intermediate
value at its env step, and its score as its value (direction: maximize).

The study is also the work queue. The trials to run wait in it (a grid's combinations
are enqueued with fixed params; a sampled search asks its sampler for the next one), and
a runner takes the next waiting trial when one of its workers is free. Optuna's storage
hands a waiting trial to one taker only, so several ``cartpole train`` commands sharing a
study run no trial twice. Nothing here prunes or samples by hand: Optuna's pruners
(``SuccessiveHalvingPruner``, i.e. ASHA, and ``MedianPruner``) and samplers
(``RandomSampler``, ``TPESampler``) do.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cartpole.errors import ConfigError
from cartpole.paths import STUDY_FILE

log = logging.getLogger(__name__)

PRUNERS = ("none", "asha", "median")
METHODS = ("grid", "random", "tpe")
TRIAL_ATTR, SEED_ATTR = "trial", "seed"
# The whole storage URL (with its password), as --storage's environment variable: the
# command line may take it from there, and the trials' processes and the report do.
STORAGE_ENV = "CARTPOLE_STORAGE"
PLAN_ATTR = "cartpole_plan"  # the plan, so that a command joining the study runs the same
JOIN_WAIT_SECONDS = 30.0  # for the plan of a study another command is starting
ASHA_REDUCTION = 4  # ASHA keeps the top quarter at each rung (docs/search.md: why)
MEDIAN_STARTUP_TRIALS = 3  # the median rule compares with three finished trials at least
RUNG_EVALUATIONS = 2  # the first rung (and the median rule's warm-up): two evaluations
# What a trial's process needs to report to the study, done once by the fork server for
# every trial of a group that has one: imports, and SQLAlchemy's first-use set-up (half
# a second per trial otherwise).
STUDY_MODULES = ("cartpole.grid.study:warm_up",)


@dataclass(frozen=True)
class SearchOptions:
    """How a group searches: ``method`` (grid, random, tpe), ``prune`` (none, asha,
    median), ``storage`` (an Optuna storage URL; None: SQLite in the group folder) and
    ``trials`` (how many a sampled search runs)."""

    method: str = "grid"
    prune: str = "none"
    storage: str | None = None
    trials: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"unknown search {self.method!r} (choose from "
                              f"{', '.join(METHODS)})")
        if self.prune not in PRUNERS:
            raise ConfigError(f"unknown pruner {self.prune!r} (choose from "
                              f"{', '.join(PRUNERS)})")
        if self.method != "grid" and not self.trials:
            raise ConfigError(f"--search {self.method} needs --trials N")
        if self.method == "grid" and self.trials is not None:
            raise ConfigError("--trials is for --search random or tpe; a grid runs every "
                              "combination")

    @property
    def uses_study(self) -> bool:
        return self.method != "grid" or self.prune != "none" or self.storage is not None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "prune": self.prune, "storage": shown_url(self.storage),
                "trials": self.trials}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, storage: str | None = None) -> SearchOptions:
        """From plan.json's ``search`` (its storage URL is kept without a password:
        ``storage`` gives the whole URL again)."""
        data = data or {}
        return cls(data.get("method", "grid"), data.get("prune", "none"),
                   storage or data.get("storage"), data.get("trials"))


def shown_url(url: str | None) -> str | None:
    """A storage URL without its password, for files and output."""
    if url is None:
        return None
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy reads: say so, show nothing
        raise ConfigError("--storage must be a database URL such as "
                          "postgresql+psycopg://user@host/db or sqlite:///path") from None
    secret = {k: "***" for k in parsed.query if "password" in k.lower()}  # ?password=...
    return parsed.update_query_dict(secret).render_as_string(hide_password=True)


def same_storage(url: str | None, shown: str | None) -> bool:
    """Whether ``url`` is the storage that ``shown`` (a URL without password) names."""
    return url is not None and shown is not None and shown_url(url) == shown


def whole_url(shown: str) -> str:
    """The storage ``shown`` names (a URL without password): ``$CARTPOLE_STORAGE`` if it
    is that database, with its password; else ``shown`` as it is."""
    env = os.environ.get(STORAGE_ENV)
    try:
        return env if env and same_storage(env, shown) else shown
    except ConfigError:  # the variable is no URL: not this database
        return shown


def storage_url(group_dir: Path, options: SearchOptions) -> str:
    return options.storage or f"sqlite:///{(group_dir / STUDY_FILE).resolve()}"


def warm_up() -> None:
    """Import Optuna and go once through what a trial's process does with a study (in
    memory), so that processes forked after it start with SQLAlchemy set up."""
    study = load("warm-up", "sqlite:///:memory:", "asha")
    trial = study.ask()
    trial.report(1.0, 1)
    trial.should_prune()
    study.tell(trial, 1.0)
    reporter_for(study, trial_id(trial))


def first_rung_step(eval_every: int) -> int:
    """The env step of the pruners' first rung (and the median rule's warm-up)."""
    return RUNG_EVALUATIONS * eval_every


def make_pruner(name: str, eval_every: int) -> Any:
    """Optuna's pruner for ``--prune NAME``; rungs and warm-up are counted in env steps,
    from the second evaluation on."""
    import optuna

    first = first_rung_step(eval_every)
    if name == "asha":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=first,
                                                      reduction_factor=ASHA_REDUCTION)
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS,
                                           n_warmup_steps=first)
    return optuna.pruners.NopPruner()


def make_sampler(method: str, seed: int) -> Any:
    import optuna

    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    return optuna.samplers.RandomSampler(seed=seed)


def open_storage(url: str, create: bool = True) -> Any:
    """Optuna's storage at ``url`` (its tables made if ``create``); ConfigError, in one
    line and without the URL's password, if it cannot be opened."""
    import optuna
    from optuna.storages import RDBStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    try:
        return RDBStorage(url, engine_kwargs=engine, skip_compatibility_check=not create,
                          skip_table_creation=not create)
    except Exception as exc:  # noqa: BLE001 - a storage we cannot open is the user's input
        raise ConfigError(f"cannot open the study storage {shown_url(url)}: "
                          f"{_why(exc, url)}") from None


def check_storage(url: str) -> None:
    """ConfigError unless the database at ``url`` answers, writing nothing to it (an
    SQLite file: its folder must exist)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder = Path(parsed.database or ".").expanduser().resolve().parent
        if parsed.database not in (None, "", ":memory:") and not folder.is_dir():
            raise ConfigError(f"cannot open the study storage {shown_url(url)}: no folder "
                              f"{folder}")
        return
    try:
        engine = create_engine(url)
        try:
            with engine.connect():
                pass
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - a storage we cannot open is the user's input
        raise ConfigError(f"cannot open the study storage {shown_url(url)}: "
                          f"{_why(exc, url)}") from None


def _why(exc: Exception, url: str) -> str:
    """The first line of an error, without the URL's password."""
    why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    password = _password(url)
    return why.replace(password, "***") if password else why


def _password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:  # noqa: BLE001 - shown_url has said what is wrong with it
        return None


def load(group: str, url: str, prune: str = "none", eval_every: int = 2_000,
         method: str = "grid", seed: int = 0, create: bool = True,
         exclusive: bool = False) -> Any:
    """The group's study in ``url``; ``create`` False: ConfigError if there is none (and
    the storage's tables and version are taken as the runner made them: a trial's
    process opens it faster)."""
    import optuna

    storage = open_storage(url, create)
    kwargs = {"study_name": group, "storage": storage,
              "pruner": make_pruner(prune, eval_every),
              "sampler": make_sampler(method, seed)}
    if not create:
        try:
            return optuna.load_study(**kwargs)
        except KeyError:
            raise ConfigError(f"no study {group!r} in {shown_url(url)}") from None
    try:
        return optuna.create_study(direction="maximize", load_if_exists=not exclusive,
                                   **kwargs)
    except optuna.exceptions.DuplicatedStudyError:  # ``exclusive``: a new shared study
        raise ConfigError(f"another command started the study {group!r} in "
                          f"{shown_url(url)} at the same moment; run this one again to "
                          "join it") from None


def joined_plan(group: str, url: str) -> Any:
    """The plan of the study ``group`` in the shared storage ``url``, written there by the
    command that started it; None if there is no such study yet."""
    import time

    from cartpole.grid.plan import Plan

    try:
        study = load(group, url, create=False)
    except ConfigError:
        return None
    deadline = time.monotonic() + JOIN_WAIT_SECONDS
    # The command that made the study writes its plan once its trials are enqueued.
    while (data := study.user_attrs.get(PLAN_ATTR)) is None:
        if time.monotonic() > deadline:
            raise ConfigError(f"the study {group!r} in {shown_url(url)} has no cartpole "
                              "plan: is it another tool's study?")
        time.sleep(0.5)
    plan = Plan.from_dict(data, f"study {group} in {shown_url(url)}")
    log.warning("joining the study %s in %s: its plan (%d trials) is run, not this "
                "command's hyperparameter options", group, shown_url(url), len(plan.trials))
    return plan


# -- the study as a work queue ----------------------------------------------------------
@dataclass
class Claimed:
    """A waiting trial this runner took: Optuna's trial, and the cartpole trial id."""

    trial: str
    number: int
    trial_id: int
    params: dict[str, Any]


def enqueue(study: Any, trial: str, seed: int, params: dict[str, Any]) -> None:
    study.enqueue_trial(params, user_attrs={TRIAL_ATTR: trial, SEED_ATTR: seed})


def known_trials(study: Any) -> dict[str, Any]:
    """The study's latest Optuna trial for each cartpole trial id."""
    latest: dict[str, Any] = {}
    for frozen in study.get_trials(deepcopy=False):
        name = frozen.user_attrs.get(TRIAL_ATTR)
        if name is not None and (name not in latest or frozen.number > latest[name].number):
            latest[name] = frozen
    return latest


def claim(study: Any, distributions: dict[str, Any]) -> Claimed | None:
    """Take the next waiting trial (None when none waits), recording its params with
    their distributions."""
    import optuna

    if not any(t.state == optuna.trial.TrialState.WAITING
               for t in study.get_trials(deepcopy=False,
                                         states=(optuna.trial.TrialState.WAITING,))):
        return None
    trial = study.ask()
    name = trial.user_attrs.get(TRIAL_ATTR)
    if name is None:  # another runner took the last waiting trial first: ask sampled one
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return claim(study, distributions)
    params = {n: _suggest(trial, n, d) for n, d in distributions.items()}
    return Claimed(name, trial.number, trial_id(trial), params)


def sample(study: Any, distributions: dict[str, Any], seed: int) -> Claimed:
    """Ask the sampler for a new trial, named after its number in the study (unique even
    when several runners sample at once; a rerun keeps its name, so names may skip)."""
    asked = study.ask()
    trial = f"t{asked.number:03d}"
    asked.set_user_attr(TRIAL_ATTR, trial)
    asked.set_user_attr(SEED_ATTR, seed)
    params = {n: _suggest(asked, n, d) for n, d in distributions.items()}
    return Claimed(trial, asked.number, trial_id(asked), params)


def _suggest(trial: Any, name: str, distribution: Any) -> Any:
    """The trial's value for ``name`` (an enqueued trial's fixed one, else the sampler's),
    recorded with its distribution."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high,
                                 log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high,
                               log=distribution.log)


def trial_id(trial: Any) -> int:
    """The storage's id of an Optuna trial: what a trial's process needs to report to it
    (Optuna's own integrations read the same attribute)."""
    return int(trial._trial_id)


def reporter(group: str, url: str, prune: str, eval_every: int, trial_id: int,
             expected: int | None = None,
             on_wait: Callable[[bool], None] | None = None) -> Any:
    """For a trial's process: report an evaluation, and say whether the pruner stops it.
    With ``asha`` and ``on_wait`` (the local backend), the trial waits for peers at the
    first rung (``first_rung.py``; ``expected``: the group's number of trials)."""
    first = None
    if prune == "asha" and on_wait is not None:
        from cartpole.grid.first_rung import FirstRungWait

        first = FirstRungWait(first_rung_step(eval_every), ASHA_REDUCTION, on_wait,
                              expected, TRIAL_ATTR)
    return reporter_for(load(group, url, prune, eval_every, create=False), trial_id, first)


def reporter_for(study: Any, trial_id: int, first_rung: Any = None) -> Any:
    """``reporter`` for an open study (``first_rung``: a ``FirstRungWait``, or None). If
    the storage fails, the trial trains on without pruning (said once in its log).

    ``report(step, value, decide=False)`` records a value without waiting: a solved
    trial's score at the end of its budget, so that it counts at the rungs it skipped
    (Optuna's pruner records rung values when asked; its verdict is not used)."""
    import optuna

    from cartpole.training.stopping import stop_requested

    trial = optuna.trial.Trial(study, trial_id)
    failed = [False]
    previous: list[int | None] = [None]

    def report(step: int, value: float, decide: bool = True) -> bool:
        if failed[0]:
            return False
        try:
            trial.report(value, step)
            crossing = first_rung is not None and first_rung.crosses(previous[0], step)
            previous[0] = step
            if crossing and decide:
                first_rung.wait(study, trial.number)
                if stop_requested():  # Ctrl-C while it waited: it stops, undecided
                    return False
            verdict = bool(trial.should_prune())
            if crossing:
                from cartpole.grid.first_rung import ASKED_ATTR

                trial.set_user_attr(ASKED_ATTR, True)
            return decide and verdict
        except Exception as exc:  # noqa: BLE001 - pruning is an optimisation; training goes on
            failed[0] = True
            log.warning("the study's storage failed (%s): this trial trains on unpruned",
                        str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__)
            return False

    return report


def tell(study: Any, claimed: Claimed, status: str, score: float | None) -> None:
    """The trial's end, into the study: completed (its score), pruned, or failed."""
    import optuna

    state = optuna.trial.TrialState
    try:
        if status == "completed" and score is not None:
            study.tell(claimed.number, score)
        elif status == "pruned":
            study.tell(claimed.number, state=state.PRUNED)
        else:
            study.tell(claimed.number, state=state.FAIL)
    except (RuntimeError, ValueError) as exc:  # already told (a joined runner's race)
        log.warning("could not record %s in the study: %s", claimed.trial, exc)


def waiting_or_running(study: Any) -> Iterator[str]:
    import optuna

    live = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
    for frozen in study.get_trials(deepcopy=False, states=live):
        name = frozen.user_attrs.get(TRIAL_ATTR)
        if name is not None:
            yield name
