"""``cartpole report``: a static HTML report of a group, and optionally a PNG of it."""

from __future__ import annotations

from pathlib import Path

import click

from cartpole.cli.common import CONTEXT, group_arguments


@click.command(context_settings=CONTEXT)
@group_arguments
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
    the group trains; failed, pruned and unfinished trials show their status. A group
    with an Optuna study (--prune, --search random|tpe, --storage) also gets a Search
    section: optimisation history, parameter importance, parallel coordinates.

    \b
    Examples:
      cartpole report
      cartpole report 20261122-061232-8ff2 -o report.html
      cartpole report --screenshot report.png --screenshot-size 1280x1800
    """
    from cartpole.fileio import check_writable_file
    from cartpole.report import make_report
    from cartpole.report.shot import parse_size, screenshot_report

    size = parse_size(screenshot_size)
    if png:
        check_writable_file(png, "screenshot file")
    path = make_report(Path(runs_dir), group, Path(out) if out else None)
    click.echo(str(path))
    if png:
        screenshot_report(path, Path(png), size)  # BrowserError: exit code 1
        click.echo(png)
