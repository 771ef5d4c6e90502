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
