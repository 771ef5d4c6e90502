"""``cartpole status``: a group's trials, readable while the group trains."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cartpole.cli.common import CONTEXT, group_arguments


@click.command(context_settings=CONTEXT)
@group_arguments
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
    from cartpole.cli.summary import status_lines
    from cartpole.grid.status import latest_group, read_status

    group_dir = Path(runs_dir) / group if group else latest_group(Path(runs_dir))
    data = read_status(group_dir)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for line in status_lines(data):
        click.echo(line)
