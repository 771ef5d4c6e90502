"""The ``cartpole`` command line: parse, check, then call library code."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from typing import Any

import click
from click.core import ParameterSource

from cartpole import __version__
from cartpole.cli.options import GridCommand, hparam_options
from cartpole.cli.train_request import build_request, int_value, parse_metrics_config
from cartpole.errors import CartpoleError, ConfigError, EnvError, OutputError, RenderError
from cartpole.grid.spec import CONFIRM_ABOVE
from cartpole.hparams import load_conf_file
from cartpole.metrics.engines import ENGINE_NAMES

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class BadInput(click.ClickException):
    """A user error: one line on stderr, exit code 2, nothing written."""

    exit_code = 2


@dataclasses.dataclass
class GlobalOptions:
    episodes: int | None
    render: bool
    conf: dict[str, Any]
    conf_file: str | None
    metrics_engines: tuple[str, ...]
    metrics_config: dict[str, Any]


def _setup_logging(level: str, log_file: str | None) -> None:
    """Our loggers at the chosen level; other libraries only from WARNING up."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file))
        except OSError as exc:
            raise BadInput(f"cannot open log file {log_file}: {exc.strerror}") from None
    logging.basicConfig(level=logging.WARNING, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cartpole").setLevel(level.upper())


@click.group(context_settings=CONTEXT, epilog="""\b
Examples:
  cartpole train --seed 0                          train CartPole-v1 with the defaults
  cartpole -e 30 train --gamma 0.9 0.99 --batch-size 32 64 --workers 2
  cartpole train --gamma 0.9:0.99:4 --seeds 3      a range and three seeds per combination
  cartpole status                                  the latest group, from any terminal
  cartpole report --screenshot report.png          an HTML report of the latest group
  cartpole --conf-file grid.yaml train             options from a YAML/JSON file
  cartpole --metrics-engine log --metrics-engine visdom train   JSON lines + Visdom curves
  cartpole --metrics-engine mlflow --metrics-config '{"tracking_uri": "http://mlf:5000"}' train
  cartpole serve .models/cartpole-rl-remote.h5     serve the best model (Seldon's REST API)
  cartpole -e 20 run --runners 4                   play 20 episodes against it, 4 at a time

\b
Metrics engines and their settings: docs/metrics.md.
""")
@click.option("-e", "--episodes", type=click.IntRange(min=1), default=None,
              help="Episode budget of each trial.  [default: none, the step budget applies]")
@click.option("-r", "--render", is_flag=True, help="Render the training env on screen.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"],
                                                case_sensitive=False),
              default="warning", show_default=True, help="Level of the log on stderr.")
@click.option("--log-file", type=click.Path(dir_okay=False), default=None,
              help="Also write the log to this file.  [default: none]")
@click.option("--conf-file", type=click.Path(dir_okay=False), default=None,
              help="YAML or JSON file of train options (and 'episodes'); command-line "
                   "options win.  [default: none]")
@click.option("--metrics-engine", "metrics_engines", multiple=True,
              type=click.Choice(ENGINE_NAMES), default=("console",), show_default=True,
              help="Where metric events go; repeat for several.")
@click.option("--metrics-config", default=None,
              help='JSON settings per engine, e.g. \'{"console": {"level": "info"}}\'; '
                   "for a single engine its settings may be given flat.  [default: {}]")
@click.version_option(__version__, "--version")
@click.pass_context
def cli(ctx: click.Context, episodes: int | None, render: bool, log_level: str,
        log_file: str | None, conf_file: str | None, metrics_engines: tuple[str, ...],
        metrics_config: str | None) -> None:
    """Train DQN agents on gymnasium environments, and watch them learn."""
    _setup_logging(log_level, log_file)
    try:
        conf = load_conf_file(conf_file) if conf_file else {}
        engine_conf = parse_metrics_config(metrics_config, metrics_engines)
        if "episodes" in conf and episodes is None:
            episodes = int_value("episodes", conf["episodes"], 1)
    except CartpoleError as exc:
        raise BadInput(str(exc)) from None
    conf.pop("episodes", None)
    ctx.obj = GlobalOptions(episodes, render, conf, conf_file,
                            tuple(dict.fromkeys(metrics_engines)), engine_conf)


TRAIN_EPILOG = """\b
Examples:
  cartpole train --seed 0
  cartpole -e 30 train --gamma 0.9 0.99 --batch_size 32 64 --workers 2
  cartpole train --learning-rate 1e-3:3e-3:3 --hidden-sizes 64,64 128,128 --seeds 3
  cartpole train --resume 20261122-061232-8ff2      rerun the trials that did not complete
  cartpole train --gamma 0.9:0.99:4 --seeds 3 --dry-run   list the 12 trials, run nothing
  cartpole train --env Acrobot-v1 --steps 100000 -f .models/acrobot

\b
Every hyperparameter option takes one or more values, or a range start:stop:count
(count evenly spaced values, both ends included). Each combination trains in a
process of its own, --workers at a time; --seeds N trains each N times, and the
leaderboard ranks combinations by their mean score. Options also answer to
underscores (--batch_size).

\b
The last line on stdout is a JSON object: group, state, model, score, hparams, trials.
Exit codes: 0 every trial completed, 1 none did, 2 bad input, 3 some trials failed
(the rest completed), 130 interrupted (completed trials are kept; --resume finishes).
"""


@cli.command(cls=GridCommand, context_settings=CONTEXT, epilog=TRAIN_EPILOG)
@hparam_options
@click.option("-f", "--file-name", default=".models/cartpole-rl-remote", show_default=True,
              help="Where the best model goes: FILE.h5, with FILE.json beside it.")
@click.option("--env", "env_id", default="CartPole-v1", show_default=True,
              help="Gymnasium env id (Box observations, Discrete actions).")
@click.option("--max-episode-steps", type=click.IntRange(min=1), default=None,
              help="Override the env's time limit (7000 gives the original CartPoleExtra).  "
                   "[default: the env's own]")
@click.option("--reward-threshold", type=float, default=None,
              help="Score that counts as solved.  [default: the env's own, 475 for "
                   "CartPole-v1]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the first run of each combination.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Runs per combination, with seeds --seed, --seed+1, ...")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Env-step budget of each trial.  [default: 50000, unless -e is given]")
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
@click.option("--keep-top", type=click.IntRange(min=1), default=None,
              help="Keep the .h5 of only the K best trials.  [default: keep all]")
@click.option("-y", "--yes", is_flag=True,
              help=f"Run grids of more than {CONFIRM_ABOVE} trials without asking.")
@click.option("--runs-dir", default="runs", show_default=True,
              help="Folder that holds runs/<group>/<trial>/.")
@click.option("--group", default=None, help="Group name.  [default: a new timestamped name]")
@click.option("--gif", "gif_path", default=None,
              help="Record one greedy episode of the best model as a GIF here.  [default: none]")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="TensorFlow threads per trial.")
@click.option("--dry-run", is_flag=True,
              help="Check every input and list the trials the command would run, then stop: "
                   "nothing trains and nothing is written.")
@click.pass_context
def train(ctx: click.Context, dry_run: bool, **options: Any) -> None:
    """Train DQN agents, one per hyperparameter combination, and keep the best model.

    Greedy evaluations run every --eval-every steps on separately seeded envs;
    each trial keeps its best evaluated model. Progress goes to stdout.
    """
    from cartpole.grid.session import plan_train, run_train

    g: GlobalOptions = ctx.obj
    try:
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
    except ConfigError as exc:
        raise BadInput(str(exc)) from None
    except CartpoleError as exc:
        if isinstance(exc, EnvError | OutputError | RenderError):
            raise BadInput(str(exc)) from None
        raise click.ClickException(str(exc)) from None
    from cartpole.cli.summary import summary_lines

    for line in summary_lines(outcome.result, outcome.records):
        click.echo(line)
    click.echo(json.dumps(outcome.result, separators=(",", ":")))
    if outcome.exit_code == 130:
        click.echo("interrupted: finished trials and the best model so far are kept; "
                   f"'cartpole train --resume {outcome.result['group']}' reruns the rest",
                   err=True)
    ctx.exit(outcome.exit_code)


def _print_plan(planned: dict[str, Any]) -> None:
    from cartpole.cli.summary import plan_lines

    for line in plan_lines(planned):
        click.echo(line)
    click.echo(json.dumps(planned, separators=(",", ":")))


@cli.command(context_settings=CONTEXT)
@click.argument("group", required=False)
@click.option("--runs-dir", default="runs", show_default=True, help="Folder of the groups.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(group: str | None, runs_dir: str, as_json: bool) -> None:
    """Show a group's trials: done, running, failed, and the best so far.

    GROUP defaults to the group that changed last. Safe to run from another terminal
    while the group trains.

    \b
    Examples:
      cartpole status
      cartpole status 20261122-061232-8ff2 --json
    """
    from pathlib import Path

    from cartpole.cli.summary import status_lines
    from cartpole.grid.status import latest_group, read_status

    try:
        group_dir = Path(runs_dir) / group if group else latest_group(Path(runs_dir))
        data = read_status(group_dir)
    except CartpoleError as exc:
        raise BadInput(str(exc)) from None
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for line in status_lines(data):
        click.echo(line)


@cli.command(context_settings=CONTEXT)
@click.argument("group", required=False)
@click.option("--runs-dir", default="runs", show_default=True, help="Folder of the groups.")
@click.option("-o", "--out", default=None, type=click.Path(dir_okay=False),
              help="HTML file to write.  [default: runs/<group>/report.html]")
@click.option("--screenshot", "png", default=None, metavar="PNG",
              type=click.Path(dir_okay=False),
              help="Also save a PNG of the report's top WxH pixels (see --screenshot-size), "
                   "rendered by headless Chromium.  [default: none]")
@click.option("--screenshot-size", default="1280x1500", show_default=True, metavar="WxH",
              help="Window size of the screenshot, in pixels.")
def report(group: str | None, runs_dir: str, out: str | None, png: str | None,
           screenshot_size: str) -> None:
    """Write a static HTML report of a group: curves, hyperparameters, leaderboard.

    GROUP defaults to the group that changed last. The page holds plotly.js and all
    the data, so it opens offline and can be mailed as one file. It can be made while
    the group trains; failed and unfinished trials show their status.

    \b
    Examples:
      cartpole report
      cartpole report 20261122-061232-8ff2 -o report.html
      cartpole report --screenshot report.png --screenshot-size 1280x1800
    """
    from pathlib import Path

    from cartpole.fileio import check_writable_file
    from cartpole.report import load_group, resolve_group, write_report
    from cartpole.report.shot import parse_size, screenshot_report

    try:
        size = parse_size(screenshot_size)
        if png:
            check_writable_file(png, "screenshot file")
        data = load_group(resolve_group(Path(runs_dir), group))
        path = write_report(data, Path(out) if out else None)
    except CartpoleError as exc:
        raise BadInput(str(exc)) from None
    click.echo(str(path))
    if png:
        try:
            screenshot_report(path, Path(png), size)
        except CartpoleError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(png)


@cli.command("serve", context_settings=CONTEXT)
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--router", type=click.Choice(["epsilon-greedy", "thompson", "abtest"]),
              default=None, help="How to choose between several models.  [default: none]")
@click.option("--epsilon", type=click.FloatRange(0, 1), default=0.1, show_default=True,
              help="Exploration rate of the epsilon-greedy router.")
@click.option("--ratio-a", type=click.FloatRange(0, 1), default=0.5, show_default=True,
              help="Share of requests for the first model of an abtest.")
@click.option("--seed", type=int, default=None, help="Seed of the router.  [default: none]")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=9000, show_default=True)
@click.option("--api-key", envvar="CARTPOLE_API_KEY", default=None,
              help="Require this key (Authorization: Bearer KEY, or X-API-Key); "
                   "also from $CARTPOLE_API_KEY.  [default: none]")
def serve(models: tuple[str, ...], router: str | None, epsilon: float, ratio_a: float,
          seed: int | None, host: str, port: int, api_key: str | None) -> None:
    """Serve trained models over Seldon's REST protocol.

    MODELS are .h5 files (default: .models/cartpole-rl-remote.h5). Several models need
    --router. Endpoints: /api/v1.0/predictions, /api/v1.0/feedback, /health/ping,
    /health/status, /metrics (Prometheus), /openapi.json, /docs.

    \b
    Examples:
      cartpole serve
      cartpole serve --router epsilon-greedy a.h5 b.h5 c.h5
      cartpole serve --router abtest --ratio-a 0.8 a.h5 b.h5
      curl -s localhost:9000/api/v1.0/predictions -H 'Content-Type: application/json' \\
        -d '{"data": {"ndarray": [[0.01, 0.02, 0.03, 0.04]]}}'
    """
    try:
        from cartpole.serving.server import build_app, run
    except ImportError as exc:
        raise BadInput(f"serve needs {exc.name}: pip install 'cartpole[serving]'") from None
    try:
        app = build_app(models or (".models/cartpole-rl-remote.h5",), router, epsilon,
                        ratio_a, seed, api_key)
    except CartpoleError as exc:
        raise BadInput(str(exc)) from None
    click.echo(f"serving {len(app.graph.policies)} model(s) at http://{host}:{port} "
               f"(docs: /docs; Ctrl-C stops)", err=True)
    run(app, host, port)


from cartpole.cli.remote import COMMANDS  # noqa: E402 - they need ``cli`` defined

for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """Entry point: every usage error is one line on stderr, with exit code 2."""
    try:
        code = cli.main(prog_name="cartpole", standalone_mode=False)
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx else ""
        click.echo(f"Error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    sys.exit(code or 0)


__all__ = ["cli", "main"]
