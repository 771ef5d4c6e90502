"""``cartpole train``: a grid of DQN trials, one process each, and the best model kept."""

from __future__ import annotations

import os
import sys
from typing import Any

import click
from click.core import ParameterSource

from cartpole.cli.common import CONTEXT, GlobalOptions, echo_json_line
from cartpole.cli.options import GridCommand, hparam_options
from cartpole.cli.train_request import build_request
from cartpole.envs.make import DEFAULT_ENV
from cartpole.errors import ConfigError
from cartpole.grid.spec import CONFIRM_ABOVE
from cartpole.grid.study import STORAGE_ENV
from cartpole.paths import DEFAULT_MODEL, RUNS_DIR

TRAIN_EPILOG = """\b
Examples:
  cartpole train --seed 0
  cartpole train --gamma 0.9 0.99 --batch_size 32 64 --steps 20000 --workers 2
  cartpole train --learning-rate 1e-3:3e-3:3 --hidden-sizes 64,64 128,128 --seeds 3
  cartpole train --resume 20261122-061232-8ff2      rerun the trials that did not complete
  cartpole train --gamma 0.9:0.99:4 --seeds 3 --dry-run   list the 12 trials, run nothing
  cartpole train --env Acrobot-v1 --steps 100000 -f .models/acrobot
  cartpole train --gamma 0.9:0.99:4 --learning-rate 1e-3 3e-3 5e-3 --prune asha --workers 2
  cartpole train --search tpe --trials 20 --learning-rate 1e-4:1e-2:log --gamma 0.9:0.999

\b
Every hyperparameter option takes one or more values, or a range start:stop:count
(count evenly spaced values, both ends included). Each combination trains in a
process of its own, --workers at a time; --seeds N trains each N times, and the
leaderboard ranks combinations by their mean score. Options also answer to
underscores (--batch_size).

\b
The last line on stdout is a JSON object: group, state, model, score, hparams, trials.
A search with --prune, --search random|tpe or --storage keeps an Optuna study
(docs/search.md). Exit codes: 0 every trial completed or was pruned, 1 none did,
2 bad input, 3 some trials failed
(the rest completed), 130 interrupted (completed trials are kept; --resume finishes).
"""


@click.command(cls=GridCommand, context_settings=CONTEXT, epilog=TRAIN_EPILOG)
@hparam_options
@click.option("-f", "--file-name", default=DEFAULT_MODEL, show_default=True,
              help="Where the best model goes: FILE.h5, with FILE.json beside it.")
@click.option("--env", "env_id", default=DEFAULT_ENV, show_default=True,
              help="Gymnasium env id (Box observations, Discrete actions).")
@click.option("--max-episode-steps", type=click.IntRange(min=1), default=None,
              help="Override the env's time limit (7000 gives the original CartPoleExtra).  "
                   "[default: the env's own]")
@click.option("--reward-threshold", type=float, default=None,
              help=f"Score that counts as solved.  [default: the env's own, 475 for "
                   f"{DEFAULT_ENV}]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the first run of each combination.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs per combination, with seeds --seed, --seed+1, ...")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Env-step budget of each trial (a trial stops sooner once it solves).  "
                   "[default: 100000, unless -e is given]")
@click.option("--stop-on-solve/--no-stop-on-solve", default=True, show_default=True,
              help="Stop once a greedy evaluation reaches the reward threshold.")
@click.option("--confirm-episodes", type=click.IntRange(min=0), default=80, show_default=True,
              help="When an evaluation reaches the threshold, this many more greedy episodes "
                   "must keep the overall mean there before training stops; 0 stops at once.")
@click.option("--workers", type=click.IntRange(min=1), default=os.cpu_count() or 1,
              show_default=True, help="Trials that train at the same time.")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local",
              show_default=True, help="Where trials run: local processes, or a Ray cluster.")
@click.option("--ray-address", default=None,
              help="Ray cluster to join with --backend ray (host:port, ray://..., or auto).  "
                   "[default: $RAY_ADDRESS, else start a local Ray]")
@click.option("--resume", default=None, metavar="GROUP",
              help="Rerun only the trials of GROUP that did not complete.  [default: none]")
@click.option("--search", type=click.Choice(["grid", "random", "tpe"]), default="grid",
              show_default=True,
              help="grid: every combination of the listed values. random or tpe: a number "
                   "of combinations (--trials) sampled by Optuna from ranges low:high or "
                   "low:high:log (e.g. 1e-4:1e-2:log for a learning rate), or from lists.")
@click.option("--trials", "n_trials", type=click.IntRange(min=1), default=None,
              help="How many combinations a random or tpe search trains.  [default: none]")
@click.option("--prune", type=click.Choice(["none", "asha", "median"]), default="none",
              show_default=True,
              help="Stop losing trials early (Optuna's ASHA or median rule), judged by "
                   "their greedy evaluations; they end 'pruned' and keep their best model. "
                   "See docs/search.md.")
@click.option("--storage", envvar=STORAGE_ENV, default=None, metavar="URL",
              help="Keep the group's Optuna study in this database (e.g. "
                   "postgresql+psycopg://user@host/db) so that commands on several machines "
                   "with the same --group share the work; also from $CARTPOLE_STORAGE.  "
                   "[default: study.db in the group's folder]")
@click.option("--keep-top", type=click.IntRange(min=1), default=None,
              help="Keep the .h5 of only the K best trials.  [default: keep all]")
@click.option("-y", "--yes", is_flag=True,
              help=f"Run grids of more than {CONFIRM_ABOVE} trials without asking.")
@click.option("--runs-dir", default=RUNS_DIR, show_default=True,
              help="Folder that holds runs/<group>/<trial>/.")
@click.option("--group", default=None, help="Group name.  [default: a new timestamped name]")
@click.option("--gif", "gif_path", default=None,
              help="Record one greedy episode of the best model as a GIF here.  [default: none]")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="numpy (BLAS) threads per trial.")
@click.option("--dry-run", is_flag=True,
              help="Check every input and list the trials the command would run, then stop: "
                   "nothing trains and nothing is written.")
@click.pass_context
def train(ctx: click.Context, dry_run: bool, **options: Any) -> None:
    """Train DQN agents, one per hyperparameter combination, and keep the best model.

    Greedy evaluations run every --eval-every steps on separately seeded envs;
    each trial keeps its best evaluated model. Progress goes to stdout.
    """
    from cartpole.cli.summary import summary_lines
    from cartpole.grid.session import plan_train, run_train

    g: GlobalOptions = ctx.obj
    sources = {k: ctx.get_parameter_source(k) for k in options}
    request = build_request(
        options, conf=g.conf, conf_file=g.conf_file, episodes=g.episodes, render=g.render,
        defaulted={k for k, v in sources.items() if v is ParameterSource.DEFAULT},
        typed={k for k, v in sources.items() if v is ParameterSource.COMMANDLINE},
        metrics_engines=g.metrics_engines, metrics_config=g.metrics_config)
    n = request.n_trials() if not request.resume else 0  # before expanding anything
    if dry_run:
        _print_plan(plan_train(request))
        return
    if n > CONFIRM_ABOVE and not options["yes"] and not (
            sys.stdin.isatty() and click.confirm(f"The grid has {n} trials. Run it?")):
        raise ConfigError(f"the grid has {n} trials (more than {CONFIRM_ABOVE}); "
                          "pass --yes to run it")
    outcome = run_train(request)  # validates everything before writing anything
    for line in summary_lines(outcome.result, outcome.records):
        click.echo(line)
    echo_json_line(outcome.result)
    if outcome.exit_code == 130:
        click.echo("interrupted: finished trials and the best model so far are kept; "
                   f"'cartpole train --resume {outcome.result['group']}' reruns the rest",
                   err=True)
    ctx.exit(outcome.exit_code)


def _print_plan(planned: dict[str, Any]) -> None:
    from cartpole.cli.summary import plan_lines

    for line in plan_lines(planned):
        click.echo(line)
    echo_json_line(planned)

