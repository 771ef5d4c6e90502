"""``cartpole train``'s options, merged with a config file, as a TrainRequest.

Everything here works on plain values, so tests can call it without click.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cartpole.cli.options import suggest
from cartpole.errors import ConfigError
from cartpole.grid.session import TrainRequest
from cartpole.grid.spec import build_grid
from cartpole.hparams import HPARAM_NAMES
from cartpole.metrics.engines import ENGINE_NAMES, export_secrets
from cartpole.training.loop import TrialSpec

log = logging.getLogger(__name__)


def parse_metrics_config(text: str | None, engines: tuple[str, ...]) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"--metrics-config is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ConfigError("--metrics-config must be a JSON object")
    if data and all(isinstance(v, dict) for v in data.values()):
        unknown = [k for k in data if k not in ENGINE_NAMES]
        if unknown:
            raise ConfigError(f"--metrics-config names an unknown engine {unknown[0]!r} "
                              f"(available: {', '.join(ENGINE_NAMES)})")
        idle = [k for k in data if k not in engines]
        if idle:
            log.warning("--metrics-config has settings for %s, not selected with "
                        "--metrics-engine; they are not used", ", ".join(idle))
        return export_secrets(data)
    if len(engines) == 1:
        return export_secrets({engines[0]: data})
    raise ConfigError("--metrics-config must map engine names to settings "
                      "when several engines are selected")



_FLAG = {"n_trials": "trials"}  # option names whose flag differs
_CONF_ALIASES = {"env": "env_id", "gif": "gif_path", "trials": "n_trials"}


def build_request(options: dict[str, Any], *, conf: dict[str, Any], conf_file: str | None,
                  episodes: int | None, render: bool, defaulted: set[str], typed: set[str],
                  metrics_engines: tuple[str, ...],
                  metrics_config: dict[str, Any]) -> TrainRequest:
    """Merge ``cartpole train`` options with the config file's values into a request.

    ``defaulted`` names the options the command line left at their defaults (the
    file may fill those); ``typed`` names the ones given on the command line.
    """
    conf_hparams: dict[str, Any] = {}
    merged = dict(options)
    for raw_key, value in conf.items():
        key = _CONF_ALIASES.get(raw_key, raw_key)
        if key in HPARAM_NAMES:
            conf_hparams[key] = value
        elif key in options and key != "yes":
            if key in defaulted:
                merged[key] = value
        else:
            known = [*HPARAM_NAMES, *(k for k in options if k != "yes"), "episodes"]
            raise ConfigError(f"unknown option {raw_key!r} in config file {conf_file}"
                              + suggest(key, known))
    cli_hparams = {k: list(options[k]) for k in HPARAM_NAMES if options[k]}
    if options["resume"]:
        ignored = [k for k in (*HPARAM_NAMES, "env_id", "max_episode_steps", "seed", "seeds",
                               "steps", "stop_on_solve", "confirm_episodes", "reward_threshold",
                               "search", "n_trials", "prune")
                   if k in cli_hparams or k in typed]
        if ignored or episodes is not None:
            logging.getLogger("cartpole").warning(
                "--resume replays the group's plan as it was written; ignoring %s",
                ", ".join(f"--{_FLAG.get(k, k).replace('_', '-')}" for k in ignored) or "-e")
    search = str_value("search", merged.get("search") or "grid")
    space: dict[str, list[Any]] = {}
    if search == "grid":
        grid = build_grid([conf_hparams, cli_hparams])
    else:  # ranges for a sampler: parsed by the study (grid/study.py), not expanded
        grid = {}
        for source in (conf_hparams, cli_hparams):
            for raw_name, raw in source.items():
                space[raw_name.replace("-", "_")] = list(raw) if isinstance(raw, list | tuple) \
                    else [raw]
    for key in ("seed", "seeds", "steps", "max_episode_steps", "threads", "workers",
                "confirm_episodes", "keep_top"):
        if merged.get(key) is not None:
            merged[key] = int_value(key, merged[key], None)
    for key in ("env_id", "file_name", "runs_dir", "group", "resume", "gif_path",
                "ray_address", "backend"):
        if merged.get(key) is not None:
            merged[key] = str_value(key, merged[key])
    if merged["reward_threshold"] is not None:
        merged["reward_threshold"] = float_value("reward_threshold",
                                                  merged["reward_threshold"])
    spec = TrialSpec(
        env_id=merged["env_id"],
        max_episode_steps=merged["max_episode_steps"], seed=merged["seed"],
        steps=merged["steps"], episodes=episodes,
        stop_on_solve=bool_value("stop_on_solve", merged["stop_on_solve"]),
        confirm_episodes=merged["confirm_episodes"],
        reward_threshold=merged["reward_threshold"], render=render,
    )
    return TrainRequest(
        spec=spec, grid=grid, seeds=merged["seeds"], file_name=merged["file_name"],
        runs_dir=merged["runs_dir"], group=merged["group"], resume=merged["resume"],
        gif_path=merged["gif_path"], threads=merged["threads"], workers=merged["workers"],
        backend=merged["backend"], ray_address=merged["ray_address"],
        keep_top=merged["keep_top"], metrics_engines=metrics_engines,
        metrics_config=metrics_config, search=search, space=space,
        n_sampled=int_value("trials", merged["n_trials"], None) if merged.get("n_trials")
        is not None else None,
        prune=str_value("prune", merged.get("prune") or "none"),
        storage=str_value("storage", merged["storage"]) if merged.get("storage") else None,
    )


def int_value(name: str, value: Any, low: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str | float):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None
    if not number.is_integer() or (low is not None and number < low):
        raise ConfigError(f"{name} must be an integer"
                          + (f" >= {low}" if low is not None else "") + f", got {value!r}")
    return int(number)


def str_value(name: str, value: Any) -> str:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    raise ConfigError(f"{name} must be a string, got {value!r}")


def float_value(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


def bool_value(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{name} must be true or false, got {value!r}")


