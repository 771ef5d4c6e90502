"""The ``cartpole`` command line: parse, check, then call library code.

The group and its global options live here, with the one place where a
:class:`~cartpole.errors.CartpoleError` becomes a one-line ``Error: ...`` and the
error's ``exit_code``. Each command family has a module of its own (train, status,
report, serve, remote), written as plain click commands that import only
:mod:`cartpole.cli.common`; this module imports them and adds them to the group, so
no command module imports the group.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from cartpole import __version__
from cartpole.cli.common import CONTEXT, GlobalOptions, setup_logging
from cartpole.cli.export import export
from cartpole.cli.remote import router_demo_cmd, run
from cartpole.cli.report import report
from cartpole.cli.serve import serve
from cartpole.cli.status import status
from cartpole.cli.train import train
from cartpole.cli.train_request import int_value, parse_metrics_config
from cartpole.errors import CartpoleError
from cartpole.hparams import load_conf_file
from cartpole.metrics.engines import ENGINE_NAMES


class CommandError(click.ClickException):
    """A CartpoleError as the user sees it: ``Error: <message>``, and its exit code."""

    def __init__(self, error: CartpoleError) -> None:
        super().__init__(str(error))
        self.exit_code = error.exit_code


class CartpoleGroup(click.Group):
    """The group whose ``invoke`` turns every CartpoleError into a :class:`CommandError`."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CartpoleError as exc:
            raise CommandError(exc) from None


@click.group(cls=CartpoleGroup, context_settings=CONTEXT, epilog="""\b
Examples:
  cartpole train --seed 0                          train CartPole-v1 with the defaults
  cartpole train --gamma 0.9 0.99 --batch-size 32 64 --steps 20000 --workers 2
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
    setup_logging(log_level, log_file)
    conf = load_conf_file(conf_file) if conf_file else {}
    engine_conf = parse_metrics_config(metrics_config, metrics_engines)
    if "episodes" in conf and episodes is None:
        episodes = int_value("episodes", conf["episodes"], 1)
    conf.pop("episodes", None)
    ctx.obj = GlobalOptions(episodes, render, conf, conf_file,
                            tuple(dict.fromkeys(metrics_engines)), engine_conf)


for _command in (train, status, report, serve, run, router_demo_cmd, export):
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


__all__ = ["CartpoleGroup", "CommandError", "cli", "main"]
