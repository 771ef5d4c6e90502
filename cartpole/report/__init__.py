"""``cartpole report``: a static HTML report of a group, from its run folder alone."""

from __future__ import annotations

from pathlib import Path

from cartpole.report.data import GroupData, load_group, resolve_group
from cartpole.report.page import render_page, write_report


def make_report(runs_dir: Path, group: str | None = None, out: Path | None = None) -> Path:
    """Write the report of ``group`` (default: the group that changed last); return its path."""
    return write_report(load_group(resolve_group(Path(runs_dir), group)), out)


__all__ = ["GroupData", "load_group", "make_report", "render_page", "resolve_group",
           "write_report"]
