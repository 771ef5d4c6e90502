"""What every command module shares: click settings, the global options, logging, helpers.

Command modules import this module, never ``cartpole.cli`` itself: the group imports
them, so the imports run one way.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from cartpole.errors import ConfigError
from cartpole.paths import RUNS_DIR

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclasses.dataclass
class GlobalOptions:
    """The group's options, as every command finds them in ``ctx.obj``."""

    episodes: int | None
    render: bool
    conf: dict[str, Any]
    conf_file: str | None
    metrics_engines: tuple[str, ...]
    metrics_config: dict[str, Any]


def setup_logging(level: str, log_file: str | None) -> None:
    """Our loggers at the chosen level; other libraries only from WARNING up."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        try:
            handlers.append(logging.FileHandler(log_file))
        except OSError as exc:
            raise ConfigError(f"cannot open log file {log_file}: {exc.strerror}") from None
    logging.basicConfig(level=logging.WARNING, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("cartpole").setLevel(level.upper())


def group_arguments(func: Callable[..., Any]) -> Callable[..., Any]:
    """``[GROUP]`` and ``--runs-dir``: which group a reading command (status, report) reads."""
    func = click.option("--runs-dir", default=RUNS_DIR, show_default=True,
                        help="Folder of the groups.")(func)
    return click.argument("group", required=False)(func)


def echo_json_line(data: Any) -> None:
    """``data`` as one compact JSON line on stdout: the last line a command prints."""
    click.echo(json.dumps(data, separators=(",", ":")))
