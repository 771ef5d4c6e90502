"""The ``cartpole`` command line: parse, check, then call library code."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from typing import Any

import click
from click.core import ParameterSource

from cartpole import __version__
from cartpole.config import HPARAM_NAMES, HParams, coerce, load_conf_file
from cartpole.errors import CartpoleError
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
    metrics_engines: tuple[str, ...]
    metrics_config: dict[str, Any]


def _setup_logging(level: str, log_file: str | None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file))
        except OSError as exc:
            raise BadInput(f"cannot open log file {log_file}: {exc.strerror}") from None
    logging.basicConfig(level=level.upper(), handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group(context_settings=CONTEXT, epilog="""\b
Examples:
  cartpole train --seed 0                    train CartPole-v1 with the defaults
  cartpole -e 300 train --gamma 0.98         stop after 300 episodes
  cartpole --conf-file hp.yaml train         read options from a YAML/JSON file
  cartpole --log-level debug train --steps 20000 --gif best.gif
""")
@click.option("-e", "--episodes", type=click.IntRange(min=1), default=None,
              help="Episode budget; training stops after this many episodes.  "
                   "[default: none, the step budget applies]")
@click.option("-r", "--render", is_flag=True, help="Render the training env on screen.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"],
                                                case_sensitive=False),
              default="warning", show_default=True, help="Level of the log on stderr.")
@click.option("--log-file", type=click.Path(dir_okay=False), default=None,
              help="Also write the log to this file.  [default: none]")
@click.option("--conf-file", type=click.Path(dir_okay=False), default=None,
              help="YAML or JSON file of option values; command-line options win.  "
                   "[default: none]")
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
        engine_conf = _parse_metrics_config(metrics_config, metrics_engines)
    except CartpoleError as exc:
        raise BadInput(str(exc)) from None
    ctx.obj = GlobalOptions(episodes, render, conf, tuple(dict.fromkeys(metrics_engines)),
                            engine_conf)


def _parse_metrics_config(text: str | None, engines: tuple[str, ...]) -> dict[str, Any]:
    from cartpole.errors import ConfigError

    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--metrics-config is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError("--metrics-config must be a JSON object")
    if data and all(k in ENGINE_NAMES for k in data):
        return data
    if len(engines) == 1:
        return {engines[0]: data}
    raise ConfigError("--metrics-config must map engine names to settings "
                      "when several engines are selected")


class _DashedHelpOption(click.Option):
    """An option whose underscore aliases work but stay out of ``--help``."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        opts = self.opts
        self.opts = [o for o in opts if "_" not in o] or opts
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


def _hparam_options(func: Any) -> Any:
    """Add one ``--name`` option per HParams field, in field order.

    Each answers to dashes and to the original's underscores (``--batch_size``).
    """
    for f in reversed(dataclasses.fields(HParams)):
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        kind = {float: click.FLOAT, int: click.INT}.get(type(default), click.STRING)
        names = dict.fromkeys([f"--{f.name.replace('_', '-')}", f"--{f.name}"])
        func = click.option(
            *names, f.name, cls=_DashedHelpOption, type=kind,
            default=shown if isinstance(default, tuple) else default,
            show_default=True, help=f.metadata["help"],
        )(func)
    return func


TRAIN_EPILOG = """\b
Examples:
  cartpole train --seed 0
  cartpole train --env Acrobot-v1 --steps 100000 --no-stop-on-solve
  cartpole train --max-episode-steps 7000 -f .models/cartpole-extra
  cartpole train --gamma 0.98 --learning-rate 5e-4 --hidden-sizes 128,128

\b
Hyperparameter options also answer to underscores, e.g. --batch_size.
The last line on stdout is a JSON object: group, model, score, hparams, trials.
Exit codes: 0 done, 1 training failed, 2 bad input, 130 interrupted."""


@cli.command(context_settings=CONTEXT, epilog=TRAIN_EPILOG)
@_hparam_options
@click.option("-f", "--file-name", default=".models/cartpole-rl-remote", show_default=True,
              help="Where the best model goes: FILE.h5, with FILE.json beside it.")
@click.option("--env", "env_id", default="CartPole-v1", show_default=True,
              help="Gymnasium env id (Box observations, Discrete actions).")
@click.option("--max-episode-steps", type=click.IntRange(min=1), default=None,
              help="Override the env's time limit (7000 gives the original CartPoleExtra).  "
                   "[default: the env's own]")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed for the env, exploration and network initialisation.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Env-step budget.  [default: 50000, unless -e/--episodes is given]")
@click.option("--stop-on-solve/--no-stop-on-solve", default=True, show_default=True,
              help="Stop once a greedy evaluation reaches the env's reward threshold.")
@click.option("--confirm-episodes", type=click.IntRange(min=0), default=80, show_default=True,
              help="When an evaluation reaches the threshold, this many more greedy episodes "
                   "must keep the overall mean there before training stops; 0 stops at once.")
@click.option("--runs-dir", default="runs", show_default=True,
              help="Folder that holds runs/<group>/<trial>/.")
@click.option("--group", default=None,
              help="Group name.  [default: a new timestamped name]")
@click.option("--gif", "gif_path", default=None,
              help="Record one greedy episode of the best model as a GIF here.  [default: none]")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="TensorFlow threads.")
@click.pass_context
def train(ctx: click.Context, **options: Any) -> None:
    """Train a DQN agent and keep the best evaluated model.

    Greedy evaluations run every --eval-every steps on separately seeded envs;
    the model kept is the best evaluated one. Progress goes to stdout: a live bar
    on a terminal, one line per evaluation otherwise.
    """
    from cartpole.session import TrainRequest, run_train
    from cartpole.train import TrialSpec

    g: GlobalOptions = ctx.obj
    try:
        merged = _merge_conf(ctx, options, g.conf)
        hparams = HParams.from_dict({k: merged[k] for k in HPARAM_NAMES})
        spec = TrialSpec(
            hparams=hparams, env_id=merged["env_id"],
            max_episode_steps=merged["max_episode_steps"], seed=merged["seed"],
            steps=merged["steps"], episodes=g.episodes, stop_on_solve=merged["stop_on_solve"],
            confirm_episodes=merged["confirm_episodes"], render=g.render,
        )
        request = TrainRequest(
            spec=spec, file_name=merged["file_name"], runs_dir=merged["runs_dir"],
            group=merged["group"], gif_path=merged["gif_path"], threads=merged["threads"],
            metrics_engines=g.metrics_engines, metrics_config=g.metrics_config,
        )
        request.validate()
    except CartpoleError as exc:
        raise BadInput(str(exc)) from None
    try:
        result = run_train(request)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except CartpoleError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_summary(result))
    click.echo(json.dumps(result, separators=(",", ":")))


def _summary(result: dict[str, Any]) -> str:
    """One human line before the JSON result."""
    trial = result["trials"][0]
    solved = (f"solved at step {trial['solved_at_step']}" if trial.get("solved_at_step")
              else "not solved")
    return (f"{solved}; {trial['steps']} steps, {trial['episodes']} episodes in "
            f"{trial['seconds']:.1f} s; best evaluation {result['score']:.1f} "
            f"± {trial['score_std']:.1f}; model: {result['model']}")


_CONF_KEYS = {"env": "env_id", "gif": "gif_path"}


def _merge_conf(ctx: click.Context, options: dict[str, Any],
                conf: dict[str, Any]) -> dict[str, Any]:
    """Config-file values fill every option the command line left at its default."""
    from cartpole.errors import ConfigError

    merged = dict(options)
    for raw_key, value in conf.items():
        key = _CONF_KEYS.get(raw_key, raw_key)
        if key not in options:
            raise ConfigError(f"unknown option {raw_key!r} in config file")
        if ctx.get_parameter_source(key) is ParameterSource.DEFAULT:
            merged[key] = value
    for key in ("seed", "steps", "max_episode_steps", "threads", "confirm_episodes"):
        if merged.get(key) is not None and key in conf:
            merged[key] = coerce_int(key, merged[key])
    return merged


def coerce_int(name: str, value: Any) -> int:
    from cartpole.errors import ConfigError

    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if not number.is_integer():
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    return int(number)


def main() -> None:
    cli(prog_name="cartpole")


__all__ = ["cli", "coerce", "main"]
