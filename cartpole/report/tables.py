"""The report's HTML tables: the leaderboard (one row per combination) and the trials."""

from __future__ import annotations

from html import escape
from typing import Any

from cartpole.report.data import GroupData, TrialData
from cartpole.report.figures import value_label


def leaderboard_table(group: GroupData, colors: dict[str, str]) -> str:
    """Combinations ranked as ``leaderboard.json`` ranks them, seeds pooled."""
    by_name = {t.trial: t for t in group.trials}
    head = ["rank", "trial", *group.varying, "score", "std", "seeds", "steps", "seconds",
            "status"]
    rows = []
    for row in group.leaderboard:
        members = [by_name[n] for n in row["trials"]]
        order = sorted(members, key=lambda t: t.trial != row["best_trial"])
        std = row["score_std"]
        if std is None and len(members) == 1 and row["score_mean"] is not None:
            std = members[0].score_std  # one seed: the spread over evaluation episodes
        rows.append([
            str(row["rank"]),
            " ".join(_trial_cell(t, colors) for t in order),
            *(escape(value_label(row["hparams"].get(n))) for n in group.varying),
            _num(row["score_mean"]), _num(std),
            f"{row['seeds']}/{len(members)}", _num(row["steps_mean"], ",.0f"),
            _num(row["seconds_mean"]), _status(_row_status(row["status"], members)),
        ])
    return _table("leaderboard", head, rows, numeric={"score", "std", "steps", "seconds"})


def trials_table(group: GroupData, colors: dict[str, str]) -> str:
    """Every trial, whatever became of it, with the reason when it has no score."""
    head = ["trial", "seed", *group.varying, "status", "score", "std", "steps", "episodes",
            "seconds", "solved at step", "detail"]
    rows = [[
        _trial_cell(t, colors), _num(t.seed, "d"),
        *(escape(value_label(t.hparams.get(n))) for n in group.varying),
        _status(t.status), _num(t.score), _num(t.score_std), _num(t.steps, ",d"),
        _num(t.episodes, ",d"), _num(t.seconds), _num(t.solved_at_step, ",d"),
        escape(_detail(t)),
    ] for t in group.trials]
    return _table("trials", head, rows,
                  numeric={"score", "std", "steps", "episodes", "seconds", "solved at step"})


def _row_status(status: str, members: list[TrialData]) -> str:
    """A combination with no score says why: pending, running, failed..."""
    if status != "failed":
        return status
    return "/".join(sorted({t.status for t in members}))


def _detail(t: TrialData) -> str:
    if t.error:
        return t.error
    if t.status in ("running", "stale") and t.live_eval is not None:
        return f"last evaluation {t.live_eval:.1f}"
    if t.status == "pending":
        return "not started"
    return ""


def _trial_cell(t: TrialData, colors: dict[str, str]) -> str:
    return (f'<span class="trial"><span class="swatch" style="background:{colors[t.trial]}">'
            f'</span>{escape(t.trial)}</span>')


def _status(status: str) -> str:
    return f'<span class="status status-{escape(status)}">{escape(status)}</span>'


def _num(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "–"
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return escape(str(value))


def _table(css: str, head: list[str], rows: list[list[str]], numeric: set[str]) -> str:
    """Cells in ``rows`` are HTML already; header names are escaped here."""
    cls = [' class="num"' if h in numeric else "" for h in head]
    th = "".join(f"<th{c}>{escape(h)}</th>" for h, c in zip(head, cls, strict=True))
    body = "\n".join(
        "<tr>" + "".join(f"<td{c}>{cell}</td>"
                         for cell, c in zip(row, cls, strict=True)) + "</tr>"
        for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(head)}">no trials</td></tr>'
    return (f'<table class="{css}"><thead><tr>{th}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody></table>")
