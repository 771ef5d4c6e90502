"""Building blocks of the click layer: hyperparameter options that take several values."""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

import click

from cartpole.hparams import HPARAM_NAMES, HParams


class DashedHelpOption(click.Option):
    """An option whose underscore aliases work but stay out of ``--help``."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        opts = self.opts
        self.opts = [o for o in opts if "_" not in o] or opts
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = opts


def _flag_names() -> dict[str, str]:
    names: dict[str, str] = {}
    for name in HPARAM_NAMES:
        names[f"--{name.replace('_', '-')}"] = name
        names[f"--{name}"] = name
    return names


HPARAM_FLAGS = _flag_names()


def _is_value(token: str) -> bool:
    """A following token that is another value, not an option (``-0.5`` is a value)."""
    if not token.startswith("-") or token == "-":
        return True
    try:
        float(token.split(":")[0])
    except ValueError:
        return False
    return True


def spread_values(args: list[str]) -> list[str]:
    """``--gamma 0.9 0.99`` -> ``--gamma 0.9 --gamma 0.99``, for hyperparameter options."""
    out: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        out.append(token)
        i += 1
        if token == "--":
            out.extend(args[i:])
            break
        flag = token.split("=", 1)[0]
        if flag not in HPARAM_FLAGS:
            continue
        if "=" not in token and i < len(args):
            out.append(args[i])  # the first value, taken as click would take it
            i += 1
        while i < len(args) and _is_value(args[i]):
            out.extend([flag, args[i]])
            i += 1
    return out


class GridCommand(click.Command):
    """A command whose hyperparameter options accept several values each."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(list(args)))


def hparam_options(func: Any) -> Any:
    """One ``--name`` option per HParams field, each taking one or more values."""
    for f in reversed(dataclasses.fields(HParams)):
        default = f.default
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
        names = dict.fromkeys([f"--{f.name.replace('_', '-')}", f"--{f.name}"])
        func = click.option(
            *names, f.name, cls=DashedHelpOption, multiple=True, metavar="V...",
            help=f"{f.metadata['help']}  [default: {shown}]",
        )(func)
    return func


def suggest(name: str, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists."""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
