"""A real group to report on, and ways to read a written report back."""

import io
import json
import re
from pathlib import Path

GROUP = "g"
# Two exploration schedules: the trials' curves part from the first episodes on.
HPARAM, VALUES = "epsilon_decay", (0.995, 0.999)


def train_group(runs_dir: Path, group: str = GROUP) -> Path:
    """Two real trials (epsilon_decay 0.995 and 0.999), trained in this process."""
    from cartpole.grid.backends.inprocess import InProcessBackend
    from cartpole.grid.runner import GroupRun, run_group
    from cartpole.grid.session import TrainRequest
    from cartpole.training.loop import TrialSpec

    request = TrainRequest(
        spec=TrialSpec(steps=1500, stop_on_solve=False),
        grid={HPARAM: list(VALUES), "hidden_sizes": [(16,)], "learning_starts": [100],
              "train_freq": [100], "gradient_steps": [5], "eval_every": [500],
              "eval_episodes": [3]},
        runs_dir=str(runs_dir), group=group, file_name=str(runs_dir / "best"),
        metrics_engines=(), progress=False)
    request.validate()
    plan = request.plan()
    run = GroupRun(plan=plan, group_dir=runs_dir / group, file_name=request.file_name,
                   backend=InProcessBackend(progress=False),
                   varying=plan.options.get("varying", []),
                   job_options={"threads": 1, "metrics_engines": (), "metrics_config": {}})
    outcome = run_group(run, out=io.StringIO())
    assert outcome.exit_code == 0, outcome.result
    return runs_dir / group


_FIGURES = re.compile(
    r'<script type="application/json" id="cartpole-figures">(.*?)</script>', re.S)


def figures(html: str) -> dict:
    """``{div id: {"data": [...], "layout": {...}}}`` as embedded in the page."""
    match = _FIGURES.search(html)
    assert match, "no figure data in the page"
    return json.loads(match.group(1))


def events(trial_dir: Path, kind: str) -> list[dict]:
    from cartpole.training.events import read_events

    return [e for e in read_events(trial_dir / "events.jsonl") if e["event"] == kind]


# -- a group searched through an Optuna study (issue 20's contract), without training --
SEARCH_GROUP = "20261203-101500-ab12"
SEARCH_GRID = {"learning_rate": [0.0005, 0.001, 0.0023], "gamma": [0.95, 0.99],
               "hidden_sizes": ["32,32", "64,64"]}
EVAL_EVERY = 1000


def search_group(runs_dir: Path, outcomes: str, group: str = SEARCH_GROUP,
                 grid: dict | None = None, study_file: str = "study.db") -> Path:
    """A finished grid group whose trials ran through its Optuna study, as ``cartpole
    train --prune asha`` leaves it: status.json, plan.json and ``study.db``.

    ``outcomes`` has one letter per combination of ``grid`` (in grid order): ``c``
    complete, ``p`` pruned, ``f`` failed, ``w`` still waiting in the study. A trial's
    evaluations (every ``EVAL_EVERY`` env steps) rise with its learning rate and gamma.
    """
    import itertools

    import optuna
    from optuna.trial import TrialState

    grid = grid or SEARCH_GRID
    group_dir = runs_dir / group
    group_dir.mkdir(parents=True)
    names = list(grid)
    combos = list(itertools.product(*grid.values()))
    assert len(outcomes) <= len(combos)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=group, direction="maximize",
                                storage=f"sqlite:///{group_dir / study_file}")
    entries, plan_trials = {}, []
    for i, (outcome, values) in enumerate(zip(outcomes, combos, strict=False)):
        trial = f"t{i:03d}"
        params = dict(zip(names, values, strict=True))
        hparams = {n: [int(s) for s in v.split(",")] if n == "hidden_sizes" else v
                   for n, v in params.items()}
        study.enqueue_trial(params, user_attrs={"trial": trial, "seed": 0})
        plan_trials.append({"trial": trial, "spec": {"hparams": hparams,
                                                     "env_id": "CartPole-v1", "seed": 0}})
        entry = {"status": "pending", "seed": 0, "hparams": hparams}
        entries[trial] = entry
        if outcome == "w":
            continue
        asked = study.ask()
        assert asked.user_attrs["trial"] == trial
        for n in names:
            asked.suggest_categorical(n, grid[n])
        rate = grid[names[0]].index(params[names[0]]) + 1
        evals = [min(500.0, 9.0 + 20.0 * rate * k * (1 + (i % 4) / 3)) for k in range(1, 6)]
        evals = evals[:{"c": 5, "p": 2, "f": 1}[outcome]]
        for k, value in enumerate(evals, start=1):
            asked.report(value, k * EVAL_EVERY)
        if outcome == "c":
            study.tell(asked, max(evals))
        else:
            study.tell(asked, state=TrialState.PRUNED if outcome == "p" else TrialState.FAIL)
        entry.update(status={"c": "completed", "p": "pruned", "f": "failed"}[outcome],
                     score=max(evals) if outcome != "f" else None,
                     steps=len(evals) * EVAL_EVERY, seconds=1.0,
                     error="RuntimeError: boom" if outcome == "f" else None)
    varying = [n for n in names if len(grid[n]) > 1]
    stamp = "2026-12-03T10:15:00.000Z"
    (group_dir / "status.json").write_text(json.dumps({
        "group": group, "backend": "local", "state": "completed", "pid": None,
        "varying": varying, "started": stamp, "updated": stamp, "trials": entries}))
    (group_dir / "plan.json").write_text(json.dumps({
        "format": "cartpole-plan/1", "group": group,
        "options": {"varying": varying, "seeds": 1,
                    "search": {"method": "grid", "prune": "asha", "storage": None,
                               "trials": None}},
        "trials": plan_trials}))
    return group_dir


CARD_EDGE_X = 27  # a column inside every card's left padding: white on a grey page


def card_bands(image) -> list[tuple[int, int]]:
    """Top and bottom pixel rows of each card (or row of cards) in a screenshot, in page
    order: the white runs down the column ``CARD_EDGE_X``."""
    rgb = image.convert("RGB")
    bands, start = [], None
    for y in range(rgb.height):
        white = rgb.getpixel((CARD_EDGE_X, y)) == (255, 255, 255)
        if white and start is None:
            start = y
        elif not white and start is not None:
            if y - start > 20:
                bands.append((start, y))
            start = None
    return bands
